// Module storage (reference §2.2, §1.4 and cases 35-39): flow modules installed on the
// agent's machine, found on FERRY_MODULE_PATH and loaded by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::find_flow_module;
using ferry::storage::Module;
using ferry::storage::Storage;
using ferry::storage_test::compiled_fixture;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::run_result;
using ferry::storage_test::ScopedEnv;
using ferry::test::TempDir;
using Labels = std::vector<std::string>;

// Flow modules "installed" once for the whole suite: the fixtures compiled with the
// shared cache and copied under the names a Module storage looks for.
const fs::path& installed_modules() {
  static TempDir dir;
  static const bool installed = [] {
    fs::copy_file(compiled_fixture("two_flows.cpp"), dir.path() / "libtwoflows.so");
    fs::copy_file(compiled_fixture("storage/named_flows.cpp"), dir.path() / "libnamed.so");
    fs::copy_file(compiled_fixture("unicode.cpp"), dir.path() / "emoji.so");  // <name>.so
    fs::copy_file(compiled_fixture("no_flows.cpp"), dir.path() / "libnoflows.so");
    return true;
  }();
  (void)installed;
  return dir.path();
}

class ModuleStorage : public ::testing::Test {
 protected:
  ModuleStorage() : module_path_("FERRY_MODULE_PATH", installed_modules().c_str()) {}
  ScopedEnv module_path_;
};

// A Module storage whose only flow is recorded under the empty name, so get_flow reaches
// the reference's "no flow_name" rules (a Flow itself cannot have an empty name).
Storage unnamed(const std::string& module) {
  return Storage::deserialize({{"type", "Module"}, {"module", module}, {"flows", {{"", module}}}});
}

// get_flow through a storage that recorded `name` at `module`.
std::string get_flow_error(const std::string& module, const std::string& name) {
  Module m(module);
  m.add_flow(Flow(name));
  return error_of<ferry::ValueError>([&] { m.get_flow(name); });
}

}  // namespace

// ---- the storage object -----------------------------------------------------------------

TEST(ModuleStorageObject, ModuleTypeAndDescriptor) {
  Module m("mymodule");
  EXPECT_EQ(m.module(), "mymodule");
  EXPECT_EQ(m.type(), "Module");
  Value d = m.serialize();
  EXPECT_EQ(d["type"], "Module");
  EXPECT_EQ(d["module"], "mymodule");
  EXPECT_EQ(d["flows"], Value::object());
  EXPECT_EQ(d["secrets"], Value::array());
  EXPECT_EQ(d["ferry_version"], FERRY_VERSION);
  EXPECT_FALSE(d.contains("labels"));
  EXPECT_EQ(Module("test").serialize()["module"], "test");
}

TEST(ModuleStorageObject, EmptyModuleNameIsRefused) {
  EXPECT_THROW(Module(""), ferry::ValueError);
  EXPECT_THROW(Storage::deserialize({{"type", "Module"}, {"module", ""}}), ferry::ValueError);
}

TEST(ModuleStorageObject, NoDefaultLabelsAndNoResult) {
  Module m({.module = "m", .labels = {"b", "a", "a"}});
  EXPECT_TRUE(m.default_labels().empty());
  EXPECT_EQ(m.labels(), (Labels{"a", "b"}));
  EXPECT_FALSE(static_cast<bool>(m.default_result()));
  Module exact({.module = "m", .add_default_labels = false, .labels = {"b", "a", "a"}});
  EXPECT_EQ(exact.labels(), (Labels{"b", "a", "a"}));
  EXPECT_TRUE(Module("m").labels().empty());
}

TEST(ModuleStorageObject, AddFlowRecordsTheModuleStringForEveryFlow) {
  Module m("mymodule:flow-1");
  EXPECT_EQ(m.add_flow(Flow("a")), "mymodule:flow-1");
  EXPECT_EQ(m.add_flow(Flow("b")), "mymodule:flow-1");
  EXPECT_TRUE(m.contains("a"));
  EXPECT_TRUE(m.contains("b"));
  EXPECT_FALSE(m.contains("c"));
  EXPECT_EQ(m.flows(), (std::map<std::string, std::string>{{"a", "mymodule:flow-1"},
                                                           {"b", "mymodule:flow-1"}}));
  EXPECT_TRUE(m.impl()->digests.empty());
  m.build();
  EXPECT_EQ(m.flows().size(), 2u);
}

TEST(ModuleStorageObject, NameConflictIsRefused) {
  Module m("mymodule");
  m.add_flow(Flow("test"));
  EXPECT_EQ(error_of<ferry::ValueError>([&] { m.add_flow(Flow("test")); }),
            "Name conflict: Flow with the name \"test\" is already present in this storage.");
}

TEST(ModuleStorageObject, GetFlowOfAnUnknownNameIsAValueError) {
  Module m("mymodule");
  std::string err = error_of<ferry::ValueError>([&] { m.get_flow("test"); });
  EXPECT_TRUE(has(err, "Flow is not contained in this storage")) << err;
}

// ---- finding installed modules ----------------------------------------------------------

TEST_F(ModuleStorage, FindFlowModuleSearchesFerryModulePath) {
  ScopedEnv env("FERRY_MODULE_PATH", ("/nonexistent-dir::" + installed_modules().string()).c_str());
  EXPECT_EQ(find_flow_module("twoflows"),
            fs::canonical(installed_modules() / "libtwoflows.so").string());
  EXPECT_EQ(find_flow_module("emoji"), fs::canonical(installed_modules() / "emoji.so").string());
  fs::path direct = installed_modules() / "libnamed.so";
  EXPECT_EQ(find_flow_module(direct.string()), fs::canonical(direct).string());
}

TEST_F(ModuleStorage, FindFlowModulePrefersEarlierFerryModulePathEntries) {
  TempDir first;
  fs::copy_file(installed_modules() / "libnoflows.so", first.path() / "libtwoflows.so");
  ScopedEnv env("FERRY_MODULE_PATH",
                (first.path().string() + ":" + installed_modules().string()).c_str());
  EXPECT_EQ(find_flow_module("twoflows"), fs::canonical(first.path() / "libtwoflows.so").string());
}

TEST_F(ModuleStorage, MissingModuleIsAFlowStorageErrorNamingFerryModulePath) {
  std::string err = error_of<ferry::FlowStorageError>([] { find_flow_module("nosuchmod"); });
  EXPECT_TRUE(has(err, "nosuchmod")) << err;
  EXPECT_TRUE(has(err, "FERRY_MODULE_PATH")) << err;
  EXPECT_TRUE(has(err, installed_modules().string())) << err;
  {
    ScopedEnv unset("FERRY_MODULE_PATH", nullptr);
    err = error_of<ferry::FlowStorageError>([] { find_flow_module("nosuchmod"); });
    EXPECT_TRUE(has(err, "FERRY_MODULE_PATH")) << err;
    EXPECT_TRUE(has(err, "unset")) << err;
  }
  err = error_of<ferry::FlowStorageError>([] { find_flow_module("/no/such/libx.so"); });
  EXPECT_TRUE(has(err, "/no/such/libx.so")) << err;
  EXPECT_TRUE(has(err, "does not exist")) << err;
}

TEST_F(ModuleStorage, GetFlowFromAModuleThatIsNotInstalledNamesFerryModulePath) {
  Module m("notinstalled");
  m.add_flow(Flow("x"));
  std::string err = error_of<ferry::FlowStorageError>([&] { m.get_flow("x"); });
  EXPECT_TRUE(has(err, "notinstalled")) << err;
  EXPECT_TRUE(has(err, "FERRY_MODULE_PATH")) << err;
}

// ---- module loading rules (reference §1.4) ----------------------------------------------

TEST_F(ModuleStorage, GetFlowByNameLoadsTheModulesFlow) {
  Module m("twoflows");
  m.add_flow(Flow("flow-2"));  // an empty stand-in: get_flow must load the module's flow
  m.add_flow(Flow("flow-1"));
  Flow f2 = m.get_flow("flow-2");
  EXPECT_EQ(f2.name(), "flow-2");
  EXPECT_EQ(f2.task_count(), 1u);
  EXPECT_EQ(run_result(f2), 2);
  EXPECT_EQ(run_result(m.get_flow("flow-1")), 1);
}

TEST_F(ModuleStorage, FlowNamedTestIsLoadedFromTheModule) {
  Module m("named");
  m.add_flow(Flow("test"));
  Flow f = m.get_flow("test");
  EXPECT_EQ(f.name(), "test");
  EXPECT_EQ(run_result(f), 43);
}

TEST_F(ModuleStorage, UnicodeFlowNameIsUnchanged) {
  Module m("emoji");
  m.add_flow(Flow("emoji-flow-❌"));
  Flow f = m.get_flow("emoji-flow-❌");
  EXPECT_EQ(f.name(), "emoji-flow-❌");
  EXPECT_EQ(run_result(f), "hi");
}

TEST_F(ModuleStorage, OneFlowIsSelectedWithoutAName) {
  Flow f = unnamed("emoji").get_flow("");
  EXPECT_EQ(f.name(), "emoji-flow-❌");
}

TEST_F(ModuleStorage, ModuleColonFlowSelectsThatFlow) {
  Module m("twoflows:flow-2");
  m.add_flow(Flow("flow-2"));
  EXPECT_EQ(run_result(m.get_flow("flow-2")), 2);
  EXPECT_EQ(unnamed("twoflows:flow-1").get_flow("").name(), "flow-1");
}

TEST_F(ModuleStorage, TwoFlowsWithoutANameAreAmbiguous) {
  std::string err = error_of<ferry::ValueError>([] { unnamed("twoflows").get_flow(""); });
  EXPECT_EQ(err, "Multiple flows found in 'twoflows', please provide `flow_name` to select one.");
}

TEST_F(ModuleStorage, UnknownNameIsNotFound) {
  EXPECT_EQ(get_flow_error("twoflows", "x"), "Failed to find flow 'x' in 'twoflows'");
  EXPECT_EQ(get_flow_error("twoflows", "test"), "Failed to find flow 'test' in 'twoflows'");
}

TEST_F(ModuleStorage, ModuleColonFlowWithADifferentRequestedNameIsRefused) {
  EXPECT_EQ(get_flow_error("twoflows:flow-1", "flow-2"),
            "Flow at 'twoflows:flow-1' is named 'flow-1', expected 'flow-2'");
}

TEST_F(ModuleStorage, ModuleColonMissingFlowIsNotFound) {
  EXPECT_EQ(get_flow_error("twoflows:nope", "nope"), "Failed to find flow at 'twoflows:nope'");
}

TEST_F(ModuleStorage, ModuleWithoutFlows) {
  std::string err = error_of<ferry::ValueError>([] { unnamed("noflows").get_flow(""); });
  EXPECT_EQ(err, "No flows found in 'noflows'");
  EXPECT_EQ(get_flow_error("noflows", "x"), "Failed to find flow 'x' in 'noflows'");
}

// ---- the descriptor ---------------------------------------------------------------------

TEST_F(ModuleStorage, DeserializeRoundTripLoadsAndKeepsSecretsButNotLabels) {
  Module m({.module = "twoflows", .labels = {"l1"}, .secrets = {"S1", "S2"}});
  m.add_flow(Flow("flow-1"));
  Value d = m.serialize();
  d["__version__"] = "0.0.1";
  d["unknown_field"] = {1, 2, 3};
  Storage r = Storage::deserialize(d);
  EXPECT_EQ(r.type(), "Module");
  EXPECT_FALSE(r.same_as(m));
  EXPECT_EQ(r.serialize()["module"], "twoflows");
  EXPECT_EQ(r.flows(), m.flows());
  EXPECT_EQ(r.secrets(), (Labels{"S1", "S2"}));
  EXPECT_TRUE(r.labels().empty()) << "labels are not serialized";
  EXPECT_FALSE(r.serialize().contains("unknown_field"));
  EXPECT_EQ(run_result(r.get_flow("flow-1")), 1);
}
