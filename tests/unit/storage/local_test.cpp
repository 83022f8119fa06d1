// Local storage (reference §2.1 and cases 21-34): frozen and script forms, the default
// result and labels, the descriptor, and refusing missing or modified stored flows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "ferry/ferry.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::Local;
using ferry::storage::Storage;
using ferry::storage_test::current_utc_year;
using ferry::storage_test::entries_in;
using ferry::storage_test::error_of;
using ferry::storage_test::files_under;
using ferry::storage_test::fixture_flow;
using ferry::storage_test::has;
using ferry::storage_test::hostname;
using ferry::storage_test::is_hex64;
using ferry::storage_test::quiet_run;
using ferry::storage_test::run_result;
using ferry::storage_test::ScopedCwd;
using ferry::test::fixture;
using ferry::test::read_text;
using ferry::test::ScopedFerryHome;
using ferry::test::TempDir;
using ferry::test::write_text;
using Labels = std::vector<std::string>;

const char* const kNamed = "storage/named_flows.cpp";
const char* const kWeird = "WELL what do you know?!~? looks like a test!!!!";

Flow test_flow() { return fixture_flow(kNamed, "test"); }

// Runs a flow and returns its result (the flows here have one terminal task).
bool contains_label(const Labels& labels, const std::string& label) {
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

// The package a frozen add_flow wrote, rewritten into a different but internally valid
// package: same flow, graph and module, one more space in the header JSON.
std::string respaced_package(const std::string& pkg) {
  std::uint32_t size = 0;
  for (int i = 0; i < 4; ++i)
    size |= std::uint32_t(static_cast<unsigned char>(pkg[12 + i])) << (8 * i);
  std::string header = pkg.substr(16, size) + " ";
  std::string out = pkg.substr(0, 12);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  return out + header + pkg.substr(16 + size);
}

}  // namespace

// ---- construction, directory, default result ------------------------------------------

TEST(LocalStorage, DefaultDirectoryIsFlowsUnderFerryHomeAndResultsGoToHomeResults) {
  ScopedFerryHome home;
  Local s({.secrets = {"AUTH"}});
  EXPECT_EQ(s.type(), "Local");
  EXPECT_EQ(s.directory(), (home.path() / "flows").string());
  EXPECT_EQ(fs::path(s.directory()).filename(), "flows");
  EXPECT_TRUE(fs::is_directory(s.directory())) << "validate creates the directory";
  EXPECT_EQ(s.secrets(), Labels{"AUTH"});
  ferry::Result r = s.default_result();
  ASSERT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.type(), "LocalResult");
  EXPECT_EQ(r.serialize()["dir"], (home.path() / "results").string());
  EXPECT_FALSE(s.stored_as_script());
  EXPECT_EQ(s.path(), "");
}

TEST(LocalStorage, DirectoryInsideFerryHomeStillPutsResultsInHomeResults) {
  ScopedFerryHome home;
  Local s({.directory = (home.path() / "deep" / "flows").string()});
  EXPECT_EQ(s.default_result().serialize()["dir"], (home.path() / "results").string());
}

TEST(LocalStorage, DirectoryOutsideFerryHomeIsAlsoTheResultDirectory) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  EXPECT_EQ(s.directory(), dir.path().string());
  ferry::Result r = s.default_result();
  EXPECT_EQ(r.type(), "LocalResult");
  EXPECT_EQ(r.serialize()["dir"], dir.path().string());
}

TEST(LocalStorage, SiblingOfFerryHomeWithSharedPrefixIsOutside) {
  TempDir root;
  ferry::storage_test::ScopedEnv env("FERRY_HOME", (root.path() / "home").c_str());
  Local s({.directory = (root.path() / "home-other").string()});
  EXPECT_EQ(s.default_result().serialize()["dir"], (root.path() / "home-other").string());
}

TEST(LocalStorage, RelativeDirectoryBecomesAbsolute) {
  ScopedFerryHome home;
  TempDir cwd;
  ScopedCwd in(cwd.path());
  Local s({.directory = "relative"});
  EXPECT_TRUE(fs::path(s.directory()).is_absolute()) << s.directory();
  EXPECT_EQ(s.directory(), (fs::current_path() / "relative").string());
  EXPECT_TRUE(fs::is_directory(fs::current_path() / "relative"));
  EXPECT_EQ(s.default_result().serialize()["dir"], s.directory());
}

TEST(LocalStorage, DirectoryIsNormalizedLikeAbspath) {
  // The reference's os.path.abspath: "." is the working directory itself and a trailing
  // separator is dropped, so the descriptor names the folder the same way however given.
  ScopedFerryHome home;
  TempDir cwd;
  ScopedCwd in(cwd.path());
  Local dot({.directory = "."});
  EXPECT_EQ(dot.directory(), fs::current_path().string());
  EXPECT_EQ(dot.default_result().serialize()["dir"], fs::current_path().string());
  Local slash({.directory = "flows/"});
  EXPECT_EQ(slash.directory(), (fs::current_path() / "flows").string());
  Local dots({.directory = "a/../b/./"});
  EXPECT_EQ(dots.directory(), (fs::current_path() / "b").string());
}

TEST(LocalStorage, TildeIsExpanded) {
  ScopedFerryHome home;
  TempDir user_home;
  ferry::storage_test::ScopedEnv env("HOME", user_home.path().c_str());
  Local s({.directory = "~/my-flows"});
  EXPECT_EQ(s.directory(), (user_home.path() / "my-flows").string());
  EXPECT_TRUE(fs::is_directory(user_home.path() / "my-flows"));
}

TEST(LocalStorage, WithoutValidateTheDirectoryIsVerbatimAndNothingIsCreated) {
  ScopedFerryHome home;
  TempDir cwd;
  ScopedCwd in(cwd.path());
  const std::string windows = "C:\\Users\\x\\.ferry\\flows";
  Local s({.directory = windows, .validate = false});
  EXPECT_EQ(s.directory(), windows);
  ferry::Result r = s.default_result();
  EXPECT_EQ(r.serialize()["dir"], windows);
  EXPECT_TRUE(entries_in(cwd.path()).empty()) << "validate=false must not touch the disk";
  EXPECT_TRUE(entries_in(home.path()).empty()) << "validate=false must not touch the disk";
}

// ---- labels -----------------------------------------------------------------------------

TEST(LocalStorage, DefaultLabelIsTheHostname) {
  ScopedFerryHome home;
  Local s({.labels = {"zz", "aa", "aa"}});
  EXPECT_EQ(s.default_labels(), Labels{hostname()});
  Labels expected{"aa", "zz", hostname()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(s.labels(), expected);
}

TEST(LocalStorage, WithoutDefaultLabelsNoHostnameAndExactUserList) {
  ScopedFerryHome home;
  Local s({.add_default_labels = false, .labels = {"zz", "aa", "aa"}});
  EXPECT_EQ(s.labels(), (Labels{"zz", "aa", "aa"}));
  EXPECT_FALSE(contains_label(s.labels(), hostname()));
}

TEST(LocalStorage, DefaultLabelsAreEmptyWhenDefaultLabelsAreOff) {
  // Reference: Local.default_labels is [hostname] only when add_default_labels is truthy.
  ScopedFerryHome home;
  Local s({.add_default_labels = false});
  EXPECT_EQ(s.default_labels(), Labels{});
}

// ---- frozen form ------------------------------------------------------------------------

TEST(LocalStorage, FrozenAddFlowWritesOnePackageUnderTheSlugFolder) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());

  fs::path folder = dir.path() / "test";
  ASSERT_TRUE(fs::is_directory(folder));
  std::vector<fs::path> files = entries_in(folder);
  ASSERT_EQ(files.size(), 1u) << "exactly one file, no temporary files left behind";
  EXPECT_TRUE(fs::is_regular_file(files[0]));
  EXPECT_EQ(loc, files[0].string());
  EXPECT_EQ(files[0].filename().string().rfind(current_utc_year() + "-", 0), 0u) << loc;
  EXPECT_EQ(files_under(dir.path()).size(), 1u);

  EXPECT_EQ(s.flows(), (std::map<std::string, std::string>{{"test", loc}}));
  const std::string& digest = s.impl()->digests.at("test");
  EXPECT_TRUE(is_hex64(digest)) << digest;
  std::string bytes = read_text(loc);
  EXPECT_EQ(digest, ferry::detail::sha256_hex(bytes));
  EXPECT_EQ(ferry::inspect_package(bytes).flow_name, "test");
}

TEST(LocalStorage, FrozenGetFlowRoundTripRuns) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  s.add_flow(test_flow());
  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_result(loaded), 43);
}

TEST(LocalStorage, FrozenWithAFixedPathWritesThere) {
  ScopedFerryHome home;
  TempDir dir;
  fs::path fixed = dir.path() / "sub" / "fixed.pkg";
  Local s({.directory = dir.path().string(), .path = fixed.string()});
  EXPECT_EQ(s.add_flow(test_flow()), fixed.string());
  EXPECT_TRUE(fs::is_regular_file(fixed));
  EXPECT_EQ(files_under(dir.path()).size(), 1u);
  EXPECT_EQ(s.get_flow("test").name(), "test");
}

TEST(LocalStorage, NameConflictIsRefusedAndWritesNothing) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  s.add_flow(test_flow());
  std::string err = error_of<ferry::ValueError>([&] { s.add_flow(test_flow()); });
  EXPECT_EQ(err, "Name conflict: Flow with the name \"test\" is already present in this storage.");
  EXPECT_EQ(files_under(dir.path()).size(), 1u);
}

TEST(LocalStorage, GetFlowOfAnUnknownNameIsAValueError) {
  ScopedFerryHome home;
  Local s;
  std::string err = error_of<ferry::ValueError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "Flow is not contained in this storage")) << err;
}

TEST(LocalStorage, AFlowNotLoadedFromAModuleCannotBeFrozenAndIsNotRecorded) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string err = error_of<ferry::ValueError>([&] { s.add_flow(Flow("in-process")); });
  EXPECT_TRUE(has(err, "cannot be frozen")) << err;
  EXPECT_FALSE(s.contains("in-process"));
  EXPECT_TRUE(files_under(dir.path()).empty());
}

TEST(LocalStorage, TwoFlowsGetDistinctLocationsAndBothLoad) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string a = s.add_flow(test_flow());
  std::string b = s.add_flow(fixture_flow(kNamed, "Über flow"));
  EXPECT_NE(a, b);
  EXPECT_EQ(s.flows(), (std::map<std::string, std::string>{{"test", a}, {"Über flow", b}}));
  EXPECT_EQ(fs::path(b).parent_path(), dir.path() / "uber-flow");
  EXPECT_EQ(s.get_flow("test").name(), "test");
  EXPECT_EQ(s.get_flow("Über flow").name(), "Über flow");
  EXPECT_EQ(run_result(s.get_flow("Über flow")), 42);
}

TEST(LocalStorage, WeirdNamesGiveCleanLocations) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  for (const char* name : {kWeird, "WHAT IS THIS !!! ~~~~", "!&& ~~ cool flow :shades:"}) {
    std::string loc = s.add_flow(fixture_flow(kNamed, name));
    std::string rel = fs::path(loc).lexically_relative(dir.path()).string();
    for (char bad : {'?', '!', '~', ' '}) {
      EXPECT_EQ(rel.find(bad), std::string::npos) << name << " -> " << loc;
    }
    EXPECT_EQ(s.get_flow(name).name(), name);
  }
  EXPECT_TRUE(fs::is_directory(dir.path() / "well-what-do-you-know-looks-like-a-test"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "what-is-this"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "cool-flow-shades"));
}

TEST(LocalStorage, BuildKeepsFlowsAndTheStoredFile) {
  ScopedFerryHome home;
  TempDir dir;
  Local empty({.directory = dir.path().string()});
  empty.build();
  EXPECT_TRUE(empty.flows().empty());
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());
  auto before = s.flows();
  s.build();
  EXPECT_EQ(s.flows(), before);
  EXPECT_TRUE(fs::is_regular_file(loc));
  EXPECT_EQ(s.get_flow("test").name(), "test");
}

// ---- refusing missing and modified stored flows -----------------------------------------

TEST(LocalStorage, MissingStoredFileIsAFlowStorageErrorNamingPathAndHost) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());
  fs::remove(loc);
  std::string err = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, loc)) << err;
  EXPECT_TRUE(has(err, "does not exist on this machine")) << err;
  EXPECT_TRUE(has(err, hostname())) << err;
}

TEST(LocalStorage, DescriptorFromAnotherMachineIsAFlowStorageError) {
  ScopedFerryHome home;
  Value d = {{"type", "Local"},
             {"directory", "/no/such/machine/flows"},
             {"flows", {{"etl", "/no/such/machine/flows/etl/2023-01-05t12-34-56-00-00"}}}};
  Storage s = Storage::deserialize(d);
  std::string err = error_of<ferry::FlowStorageError>([&] { s.get_flow("etl"); });
  EXPECT_TRUE(has(err, "/no/such/machine/flows/etl/2023-01-05t12-34-56-00-00")) << err;
  EXPECT_TRUE(has(err, "does not exist on this machine")) << err;
  EXPECT_TRUE(has(err, hostname())) << err;
}

TEST(LocalStorage, ModifiedStoredFileFailsTheDigestCheck) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());
  std::string digest = s.impl()->digests.at("test");
  std::string bytes = read_text(loc);
  bytes[bytes.size() / 2] ^= 0x01;
  write_text(loc, bytes);
  std::string err = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "SHA-256")) << err;
  EXPECT_TRUE(has(err, digest)) << "the message should give the recorded digest: " << err;
  EXPECT_TRUE(has(err, loc)) << err;
}

TEST(LocalStorage, WithoutARecordedDigestThePackagesOwnDigestIsChecked) {
  // After a match with the recorded digest the package's payload is not hashed again; with no
  // digest recorded (a descriptor without one), the package's own check still refuses it.
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());
  s.impl()->digests.clear();
  std::string bytes = read_text(loc);
  bytes[bytes.size() - 100] ^= 0x55;
  write_text(loc, bytes);
  std::string err = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "its payload does not match its SHA-256 digest")) << err;
  EXPECT_TRUE(has(err, loc)) << err;
}

TEST(LocalStorage, DigestIsCheckedBeforeLoadingEvenForAValidPackage) {
  // A package that would load fine, but is not the one registered: only the storage's
  // recorded digest can tell.
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());
  std::string other = respaced_package(read_text(loc));
  ASSERT_EQ(ferry::inspect_package(other).flow_name, "test") << "the edited package is valid";
  write_text(loc, other);
  std::string err = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "SHA-256")) << err;
  EXPECT_TRUE(has(err, s.impl()->digests.at("test"))) << err;
}

TEST(LocalStorage, DigestIsCheckedAfterADescriptorRoundTrip) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string()});
  std::string loc = s.add_flow(test_flow());
  Storage r = Storage::deserialize(s.serialize());
  write_text(loc, respaced_package(read_text(loc)));
  std::string err = error_of<ferry::FlowStorageError>([&] { r.get_flow("test"); });
  EXPECT_TRUE(has(err, "SHA-256")) << err;
}

// ---- script form ------------------------------------------------------------------------

TEST(LocalStorage, ScriptFormWithoutPathIsAValueErrorMentioningPath) {
  ScopedFerryHome home;
  Local s({.stored_as_script = true});
  EXPECT_TRUE(s.stored_as_script());
  std::string err = error_of<ferry::ValueError>([&] { s.add_flow(test_flow()); });
  EXPECT_TRUE(has(err, "`path`")) << err;
  EXPECT_FALSE(s.contains("test"));
}

TEST(LocalStorage, ScriptFormRecordsTheAbsolutePathWritesNothingAndLoadsEachFlow) {
  ScopedFerryHome home;
  ferry::storage_test::share_module_cache(home.path());
  TempDir dir;
  TempDir src;
  fs::copy_file(fixture("two_flows.cpp"), src.path() / "two_flows.cpp");
  ScopedCwd in(src.path());
  Local s({.directory = dir.path().string(), .path = "two_flows.cpp", .stored_as_script = true});
  fs::path abs = fs::current_path() / "two_flows.cpp";
  EXPECT_EQ(s.path(), abs.string());

  std::string l1 = s.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  std::string l2 = s.add_flow(fixture_flow("two_flows.cpp", "flow-2"));
  EXPECT_EQ(l1, abs.string());
  EXPECT_EQ(l2, abs.string());
  EXPECT_TRUE(files_under(dir.path()).empty()) << "script form writes nothing";
  EXPECT_TRUE(s.impl()->digests.empty());

  Flow f2 = s.get_flow("flow-2");
  EXPECT_EQ(f2.name(), "flow-2");
  EXPECT_EQ(run_result(f2), 2);
  Flow f1 = s.get_flow("flow-1");
  EXPECT_EQ(f1.name(), "flow-1");
  EXPECT_EQ(run_result(f1), 1);
}

TEST(LocalStorage, ScriptFormSurvivesADescriptorRoundTrip) {
  ScopedFerryHome home;
  ferry::storage_test::share_module_cache(home.path());
  TempDir src;
  fs::path script = src.path() / "two_flows.cpp";
  fs::copy_file(fixture("two_flows.cpp"), script);
  Local s({.path = script.string(), .stored_as_script = true});
  s.add_flow(fixture_flow("two_flows.cpp", "flow-2"));
  Value d = s.serialize();
  EXPECT_EQ(d["path"], script.string());
  EXPECT_EQ(d["stored_as_script"], true);
  Storage r = Storage::deserialize(d);
  EXPECT_TRUE(r.stored_as_script());
  EXPECT_EQ(run_result(r.get_flow("flow-2")), 2);
}

TEST(LocalStorage, ScriptFormWithAMissingSourceIsAFlowStorageError) {
  ScopedFerryHome home;
  TempDir src;
  fs::path script = src.path() / "gone.cpp";
  Local s({.path = script.string(), .stored_as_script = true});
  s.add_flow(Flow("flow-1"));
  std::string err = error_of<ferry::FlowStorageError>([&] { s.get_flow("flow-1"); });
  EXPECT_TRUE(has(err, script.string())) << err;
  EXPECT_TRUE(has(err, "does not exist on this machine")) << err;
}

// ---- the descriptor ---------------------------------------------------------------------

TEST(LocalStorage, SerializeHasTheReferenceFields) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string(), .labels = {"l1"}, .secrets = {"AUTH"}});
  std::string loc = s.add_flow(test_flow());
  Value d = s.serialize();
  EXPECT_EQ(d["type"], "Local");
  EXPECT_EQ(d["flows"], (Value{{"test", loc}}));
  EXPECT_EQ(d["digests"], (Value{{"test", s.impl()->digests.at("test")}}));
  EXPECT_EQ(d["secrets"], (Value{"AUTH"}));
  EXPECT_EQ(d["ferry_version"], FERRY_VERSION);
  EXPECT_EQ(d["directory"], dir.path().string());
  ASSERT_TRUE(d.contains("path"));
  EXPECT_TRUE(d["path"].is_null());
  EXPECT_EQ(d["stored_as_script"], false);
  EXPECT_FALSE(d.contains("labels"));
  EXPECT_FALSE(d.contains("add_default_labels"));
  EXPECT_FALSE(d.contains("result"));
}

TEST(LocalStorage, DeserializeRoundTripRunsAndKeepsSecretsButNotLabels) {
  ScopedFerryHome home;
  TempDir dir;
  Local s({.directory = dir.path().string(),
           .add_default_labels = false,
           .labels = {"l1"},
           .secrets = {"AUTH"}});
  s.add_flow(test_flow());
  Storage r = Storage::deserialize(s.serialize());
  EXPECT_EQ(r.type(), "Local");
  EXPECT_FALSE(r.same_as(s));
  EXPECT_EQ(r.flows(), s.flows());
  EXPECT_EQ(r.impl()->digests, s.impl()->digests);
  EXPECT_EQ(r.secrets(), Labels{"AUTH"});
  EXPECT_FALSE(contains_label(r.labels(), "l1")) << "labels are not serialized";
  EXPECT_EQ(r.serialize()["directory"], dir.path().string());
  Flow loaded = r.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_result(loaded), 43);
}

TEST(LocalStorage, DeserializeIgnoresUnknownFieldsAndNullSecrets) {
  ScopedFerryHome home;
  Value d = {{"type", "Local"},
             {"directory", "/nowhere/flows"},
             {"flows", {{"a", "/nowhere/flows/a/x"}}},
             {"secrets", nullptr},
             {"path", nullptr},
             {"stored_as_script", false},
             {"__version__", "1.4.1"},
             {"some_future_field", {{"x", 1}}}};
  Storage s = Storage::deserialize(d);
  EXPECT_EQ(s.type(), "Local");
  EXPECT_EQ(s.flows().at("a"), "/nowhere/flows/a/x");
  EXPECT_TRUE(s.secrets().empty());
  EXPECT_FALSE(s.serialize().contains("some_future_field"));
  EXPECT_FALSE(fs::exists("/nowhere")) << "deserialize must not create folders";
}

TEST(LocalStorage, LegacyDescriptorLoadsWithTheDirectoryVerbatim) {
  ScopedFerryHome home;
  TempDir cwd;
  ScopedCwd in(cwd.path());
  Value d = Value::parse(R"({"directory": "C:\\Users\\chris\\.prefect\\flows",
                             "flows": {"hello": "C:\\Users\\chris\\.prefect\\flows\\hello"},
                             "__version__": "0.7.3", "type": "Local"})");
  Storage s = Storage::deserialize(d);
  ASSERT_EQ(s.type(), "Local");
  EXPECT_EQ(s.serialize()["directory"], "C:\\Users\\chris\\.prefect\\flows");
  EXPECT_EQ(s.flows().at("hello"), "C:\\Users\\chris\\.prefect\\flows\\hello");
  EXPECT_FALSE(s.stored_as_script());
  EXPECT_TRUE(s.serialize()["path"].is_null());
  EXPECT_TRUE(entries_in(cwd.path()).empty());
}
