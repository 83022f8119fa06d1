// End-to-end: `ferry register` and `ferry flows ls`, through the ferry binary as a user would
// drive them. Each test has its own FERRY_HOME (database, stored flows); only the
// content-addressed module cache is shared, so each fixture source compiles once per binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::example;
using ferry::test::fixture;
using ferry::test::Home;
using ferry::test::hostname;
using ferry::test::read_text;
using ferry::test::TempDir;
using ferry::test::write_text;

std::string registered_line(const std::string& flow, int version, const std::string& labels,
                            const std::string& form = "frozen") {
  return "Registered flow '" + flow + "' version " + std::to_string(version) + " (storage Local, " +
         form + "; labels: " + labels + ")\n";
}

}  // namespace

TEST(Register, HelloIsStoredFrozenWithTheHostnameLabel) {
  Home home;
  CommandResult r = home.ferry({"register", "--path", example("hello.cpp")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, registered_line("hello", 1, hostname()));

  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0]["flow"], "hello");
  EXPECT_EQ(flows[0]["project"], "default");
  EXPECT_EQ(flows[0]["version"], 1);
  EXPECT_EQ(flows[0]["storage"], "Local");
  EXPECT_EQ(flows[0]["labels"], Value::array({hostname()}));
  EXPECT_EQ(flows[0]["tasks"], 1);
  ASSERT_EQ(flows[0]["parameters"].size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0]["parameters"][0]["name"], "name");
  EXPECT_EQ(flows[0]["parameters"][0]["default"], "world");

  // The frozen package is under $FERRY_HOME/flows/hello/<timestamp slug>.
  std::set<std::string> stored = home.stored_entries();
  ASSERT_EQ(stored.size(), 2u) << ::testing::PrintToString(stored);
  EXPECT_EQ(*stored.begin(), "flows/hello");
  EXPECT_TRUE(fs::is_regular_file(home.path() / *stored.rbegin()));

  CommandResult text = home.ferry({"flows", "ls"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "hello")) << text.out;
  EXPECT_TRUE(contains(text.out, "Local")) << text.out;
}

TEST(Register, UnchangedFlowIsSkippedAndWritesNothing) {
  Home home;
  ASSERT_EQ(home.ferry({"register", "--path", example("hello.cpp")}).exit_code, 0);
  std::set<std::string> before = home.stored_entries();
  ASSERT_FALSE(before.empty());

  CommandResult again = home.ferry({"register", "--path", example("hello.cpp")});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "Skipped flow 'hello' (unchanged; version 1)\n");
  EXPECT_EQ(home.stored_entries(), before);
  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0]["version"], 1);
}

TEST(Register, UnchangedFlowWhoseStoredFileWentMissingIsStoredAgain) {
  Home home;
  ASSERT_EQ(home.ferry({"register", "--path", example("hello.cpp")}).exit_code, 0);
  fs::remove_all(home.path() / "flows");
  CommandResult again = home.ferry({"register", "--path", example("hello.cpp")});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "Registered flow 'hello' version 2")) << again.out;
  EXPECT_FALSE(home.stored_entries().empty()) << "the package was not written again";
  CommandResult third = home.ferry({"register", "--path", example("hello.cpp")});
  EXPECT_EQ(third.out, "Skipped flow 'hello' (unchanged; version 2)\n");
}

TEST(Register, EditedSourceMakesANewVersion) {
  Home home;
  TempDir src_dir;
  fs::path src = src_dir / "editable.cpp";
  std::string text = read_text(fixture("e2e/editable.cpp"));
  write_text(src, text);
  CommandResult first = home.ferry({"register", "--path", src.string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, registered_line("editable", 1, hostname()));

  text.replace(text.find("first-word"), 10, "second-word");
  write_text(src, text);
  CommandResult second = home.ferry({"register", "--path", src.string()});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, registered_line("editable", 2, hostname()));
  EXPECT_EQ(home.flows()[0]["version"], 2);
}

TEST(Register, LabelOptionAddsALabel) {
  Home home;
  CommandResult r = home.ferry({"register", "--path", example("hello.cpp"), "--label", "extra"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::set<std::string> want = {"extra", hostname()};
  std::vector<std::string> labels(want.begin(), want.end());
  EXPECT_EQ(r.out, registered_line("hello", 1, labels[0] + ", " + labels[1]));
  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0]["labels"], Value(labels));

  // Runs of the flow carry its labels.
  CommandResult run = home.ferry({"run", "hello", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Value::parse(run.out)["labels"], Value(labels)) << run.out;
}

TEST(Register, JsonOutput) {
  Home home;
  CommandResult r = home.ferry({"register", "--path", example("hello.cpp"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Value out = Value::parse(r.out);
  ASSERT_TRUE(out.is_array()) << r.out;
  ASSERT_EQ(out.size(), 1u) << r.out;
  const Value& line = out[0];
  std::set<std::string> keys;
  for (const auto& [k, v] : line.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"flow", "outcome", "version", "storage", "frozen",
                                         "labels", "message"}));
  EXPECT_EQ(line["flow"], "hello");
  EXPECT_EQ(line["outcome"], "registered");
  EXPECT_EQ(line["version"], 1);
  EXPECT_EQ(line["storage"], "Local");
  EXPECT_EQ(line["frozen"], true);
  EXPECT_EQ(line["labels"], Value::array({hostname()}));

  CommandResult again = home.ferry({"register", "--path", example("hello.cpp"), "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  Value skipped = Value::parse(again.out);
  ASSERT_EQ(skipped.size(), 1u) << again.out;
  EXPECT_EQ(skipped[0]["outcome"], "skipped");
  EXPECT_EQ(skipped[0]["version"], 1);
}

TEST(Register, NameSelectsOneFlowOfASource) {
  Home home;
  std::string two = fixture("two_flows.cpp").string();
  CommandResult r = home.ferry({"register", "--path", two, "--name", "flow-2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, registered_line("flow-2", 1, hostname()));
  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0]["flow"], "flow-2");

  // Without --name, every flow of the source: flow-2 is unchanged.
  CommandResult all = home.ferry({"register", "--path", two});
  ASSERT_EQ(all.exit_code, 0) << all.out << all.err;
  EXPECT_EQ(all.out, registered_line("flow-1", 1, hostname()) +
                         "Skipped flow 'flow-2' (unchanged; version 1)\n");
  EXPECT_EQ(home.flows().size(), 2u);
}

TEST(Register, UnknownNameIsAnErrorLine) {
  Home home;
  std::string two = fixture("two_flows.cpp").string();
  CommandResult r = home.ferry({"register", "--path", two, "--name", "flow-3"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("Error registering flow 'flow-3': Flow 'flow-3' not found in file.", 0), 0u)
      << r.out;
  EXPECT_TRUE(contains(r.out, "'flow-1'")) << "the error should list the flows found: " << r.out;
  EXPECT_TRUE(contains(r.out, "'flow-2'")) << "the error should list the flows found: " << r.out;
  EXPECT_FALSE(contains(r.out, "Registered")) << r.out;
  EXPECT_EQ(home.flows(), Value::array());
  EXPECT_TRUE(home.stored_entries().empty());

  // A known name next to the unknown one is still registered; the exit code says one failed.
  CommandResult mixed =
      home.ferry({"register", "--path", two, "--name", "flow-1", "--name", "flow-3"});
  EXPECT_EQ(mixed.exit_code, 1) << mixed.out << mixed.err;
  EXPECT_TRUE(contains(mixed.out, registered_line("flow-1", 1, hostname()))) << mixed.out;
  EXPECT_TRUE(contains(mixed.out, "Error registering flow 'flow-3'")) << mixed.out;
  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0]["flow"], "flow-1");
}

TEST(Register, CompileErrorExits2WithTheDiagnostics) {
  Home home;
  CommandResult r = home.ferry({"register", "--path", fixture("compile_error.cpp").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "error: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "Failed to compile flow source")) << r.err;
  EXPECT_TRUE(contains(r.err, "undefined_symbol_here")) << r.err;
  EXPECT_FALSE(contains(r.out, "Registered")) << r.out;
  EXPECT_EQ(home.flows(), Value::array());
  EXPECT_TRUE(home.stored_entries().empty());
}

TEST(Register, MissingSourceExits2) {
  Home home;
  CommandResult r = home.ferry({"register", "--path", "/no/such/flow.cpp"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "/no/such/flow.cpp")) << r.err;
  EXPECT_EQ(home.flows(), Value::array());
}
