// End-to-end: a flow stored as an installed flow module (Module storage), registered and
// run through a local agent that finds the module on FERRY_MODULE_PATH.
#include <gtest/gtest.h>

#include <filesystem>

#include "ferry/module.hpp"
#include "support/e2e_support.hpp"

namespace fs = std::filesystem;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::fixture;
using ferry::test::Home;
using ferry::test::TempDir;

namespace {

// Builds the fixture into <dir>/libe2emod.so, as `ferry_add_flow_module` would install it.
fs::path install_module(const TempDir& dir) {
  ferry::CompileOptions o;
  o.cache = ferry::test::shared_module_cache();
  fs::path built = ferry::compile_flow_source(fixture("e2e/module_flow.cpp"), o).path;
  fs::path installed = dir / "modules" / "libe2emod.so";
  fs::create_directories(installed.parent_path());
  fs::copy_file(built, installed);
  return installed.parent_path();
}

}  // namespace

TEST(ModuleStorage, RegisteredAndRunFromTheInstalledModule) {
  TempDir dir;
  std::string module_path = "FERRY_MODULE_PATH=" + install_module(dir).string();
  Home home({module_path});
  CommandResult reg = home.ferry({"register", "--path", fixture("e2e/module_flow.cpp").string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out,
                       "Registered flow 'from-module' version 1 (storage Module, installed module"))
      << reg.out;
  // Nothing is stored for a module flow: the module is the stored form.
  EXPECT_TRUE(home.stored_entries().empty());

  std::string id = home.create_run({"from-module", "--param", "who=Ada"});
  ASSERT_EQ(home.agent(1).exit_code, 0);
  ferry::Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], "module says hi to Ada");
}

TEST(ModuleStorage, MissingModuleFailsRegistrationAndRuns) {
  // Without the module on FERRY_MODULE_PATH, the load check refuses the flow.
  Home home;
  CommandResult reg = home.ferry({"register", "--path", fixture("e2e/module_flow.cpp").string()});
  EXPECT_EQ(reg.exit_code, 1) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "Load check failed: Failed to find flow module 'e2emod'"))
      << reg.out;
  EXPECT_TRUE(contains(reg.out, "FERRY_MODULE_PATH")) << reg.out;
  EXPECT_TRUE(home.flows().empty());
}
