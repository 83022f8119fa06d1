// End-to-end: drives the ferry binary as a user would.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "ferry/codec.hpp"
#include "ferry/version.hpp"
#include "support/e2e_support.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using ferry::test::CommandResult;
using ferry::test::example;
using ferry::test::fixture;
using ferry::test::read_text;
using ferry::test::TempDir;

namespace {

// One FERRY_HOME for the whole binary, so each fixture compiles once.
const fs::path& shared_home() {
  static TempDir dir;
  return dir.path();
}

CommandResult ferry_cmd(std::vector<std::string> args, std::vector<std::string> env = {},
                        const fs::path& home = shared_home()) {
  args.insert(args.begin(), FERRY_BIN);
  env.push_back("FERRY_HOME=" + home.string());
  return ferry::test::run_command(args, env);
}

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST(Cli, VersionAndHelp) {
  CommandResult v = ferry_cmd({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, "ferry " FERRY_VERSION "\n");
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        {"run", "--help"},
                                        {"flow", "--help"},
                                        {"flow", "freeze", "--help"},
                                        {"flow", "inspect", "--help"}}) {
    CommandResult h = ferry_cmd(args);
    EXPECT_EQ(h.exit_code, 0) << args.back();
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << h.out;
  }
}

TEST(Cli, NoCommandIsAnError) {
  CommandResult r = ferry_cmd({});
  EXPECT_NE(r.exit_code, 0);
}

TEST(Cli, RunsTheHelloExample) {
  CommandResult r = ferry_cmd({"run", "--path", example("hello.cpp")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("greet: Success"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Result: Hello, world\n"), std::string::npos) << r.out;
  // The task's log line goes to stderr with the flow and task names.
  EXPECT_NE(r.err.find("INFO"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hello/greet | greeting world"), std::string::npos) << r.err;

  CommandResult ada = ferry_cmd({"run", "--path", example("hello.cpp"), "--param", "name=Ada"});
  ASSERT_EQ(ada.exit_code, 0) << ada.err;
  EXPECT_NE(ada.out.find("Result: Hello, Ada\n"), std::string::npos) << ada.out;
}

TEST(Cli, JsonOutput) {
  CommandResult r =
      ferry_cmd({"run", "--path", fixture("typed_params.cpp").string(), "--param", "count=3",
                 "--param", "items=[10,20]", "--param", "scale=2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ferry::Value j = ferry::Value::parse(r.out);
  EXPECT_EQ(j["flow"], "typed");
  EXPECT_EQ(j["state"], "Success");
  EXPECT_EQ(j["result"], 66);
  EXPECT_EQ(j["tasks"][0]["name"], "sum");
  EXPECT_EQ(j["run_id"].get<std::string>().size(), 32u);
}

TEST(Cli, BadInputGivesOneClearLineAndExit2) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::string typed = fixture("typed_params.cpp").string();
  std::vector<Case> cases = {
      {{"run", "--path", "/no/such/flow.cpp"}, "/no/such/flow.cpp"},
      {{"run", "--path", typed, "--param", "count"},
       "Bad --param 'count': write it as name=value."},
      {{"run", "--path", typed, "--param", "count=abc"},
       "Parameter 'count' expects integer, got 'abc'"},
      {{"run", "--path", typed, "--param", "count=1", "--param", "items=[1,\"x\"]"},
       "Parameter 'items' expects array<integer>"},
      {{"run", "--path", typed, "--param", "nope=1"},
       "Flow 'typed' has no parameter 'nope'. Its parameters are: count, items, scale."},
      {{"run", "--path", typed}, "requires parameter 'count'"},
      {{"run", "--path", fixture("two_flows.cpp").string(), "--flow", "flow-3"},
       "Flow 'flow-3' not found in file. Found flows:"},
      {{"run", "--path", fixture("no_flows.cpp").string()}, "No flows found in file."},
      {{"run"}, "Give a registered flow's NAME, or exactly one of --path FILE"},
      {{"run", "--package", "/no/such.ferry"}, "/no/such.ferry"},
  };
  for (const Case& c : cases) {
    CommandResult r = ferry_cmd(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.expect << "\n" << r.err;
    EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos)
        << "want: " << c.expect << "\ngot: " << r.err;
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(Cli, FailedFlowExits1AndSaysWhy) {
  CommandResult r = ferry_cmd({"run", "--path", fixture("failing.cpp").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("Flow 'failing'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("explode: Failed after 2 attempts (boom: the task failed on purpose)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("after: TriggerFailed (Upstream task 'explode' ended Failed.)"),
            std::string::npos)
      << r.out;
}

TEST(Cli, CompileErrorShowsTheDiagnostics) {
  CommandResult r = ferry_cmd({"run", "--path", fixture("compile_error.cpp").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Failed to compile flow source"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("undefined_symbol_here"), std::string::npos) << r.err;
}

TEST(Cli, CapturingLambdaIsRefused) {
  CommandResult r = ferry_cmd({"run", "--path", fixture("captures.cpp").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("must not capture state"), std::string::npos) << r.err;
}

TEST(Cli, FreezeThenRunThePackageWithoutRerunningTopLevelCode) {
  TempDir dir;
  fs::path marker = dir / "marker";
  fs::path pkg = dir / "marker.ferry";
  std::vector<std::string> env = {"FERRY_TEST_MARKER=" + marker.string()};
  CommandResult f = ferry_cmd({"flow", "freeze", "--path", fixture("marker.cpp").string(), "--flow",
                               "marker", "-o", pkg.string()},
                              env);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_NE(f.out.find("Froze flow 'marker'"), std::string::npos) << f.out;
  ASSERT_EQ(count_lines(read_text(marker)), 1u);

  CommandResult r = ferry_cmd({"run", "--package", pkg.string(), "--param", "x=5"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Result: 35"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines(read_text(marker)), 1u) << "running a frozen flow ran FERRY_FLOWS";

  // Editing the source changes nothing for the frozen flow.
  CommandResult i = ferry_cmd({"flow", "inspect", pkg.string(), "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  ferry::Value info = ferry::Value::parse(i.out);
  EXPECT_EQ(info["flow"], "marker");
  EXPECT_EQ(info["versions"]["ferry_version"], FERRY_VERSION);
}

TEST(Cli, TamperedPackageIsRefused) {
  TempDir dir;
  fs::path pkg = dir / "hello.ferry";
  ASSERT_EQ(
      ferry_cmd({"flow", "freeze", "--path", example("hello.cpp"), "-o", pkg.string()}).exit_code,
      0);
  std::string bytes = read_text(pkg);
  bytes[bytes.size() / 2] ^= 1;
  ferry::test::write_text(pkg, bytes);
  CommandResult r = ferry_cmd({"run", "--package", pkg.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("corrupted or was tampered with"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("Result"), std::string::npos);
  CommandResult i = ferry_cmd({"flow", "inspect", pkg.string()});
  EXPECT_EQ(i.exit_code, 2);
}

TEST(Cli, ScriptEditsArePickedUp) {
  TempDir dir;
  fs::path src = dir / "flow.cpp";
  auto write_flow = [&](const std::string& word) {
    ferry::test::write_text(src, "#include <ferry/ferry.hpp>\nstd::string w() { return \"" + word +
                                     "\"; }\nFERRY_FLOWS(flows) { ferry::Flow f(\"edit\"); "
                                     "f.task<w>(); flows.add(std::move(f)); }\n");
  };
  write_flow("first");
  CommandResult a = ferry_cmd({"run", "--path", src.string()});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("Result: first"), std::string::npos);
  write_flow("second");
  CommandResult b = ferry_cmd({"run", "--path", src.string()});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("Result: second"), std::string::npos);
}

TEST(Cli, SiblingFilesAndHeaders) {
  CommandResult r = ferry_cmd({"run", "--path", fixture("sibling/flow.cpp").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Result: Hello, Marvin!"), std::string::npos) << r.out;
}

TEST(Cli, TwoProcessesCompilingOneSourceShareOneModule) {
  TempDir home;
  auto run = [&] { return ferry_cmd({"run", "--path", example("hello.cpp")}, {}, home.path()); };
  auto a = std::async(std::launch::async, run);
  auto b = std::async(std::launch::async, run);
  CommandResult ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.exit_code, 0) << ra.err;
  EXPECT_EQ(rb.exit_code, 0) << rb.err;
  std::size_t modules = 0, temps = 0;
  for (const auto& e : fs::directory_iterator(home.path() / "cache" / "modules")) {
    std::string name = e.path().filename().string();
    if (name.size() > 3 && name.substr(name.size() - 3) == ".so") ++modules;
    if (name.find(".tmp.") != std::string::npos) ++temps;
  }
  EXPECT_EQ(modules, 1u);
  EXPECT_EQ(temps, 0u);
}

TEST(Cli, EveryExampleRunsToSuccess) {
  for (const auto& entry : fs::directory_iterator(FERRY_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".cpp") continue;
    CommandResult r = ferry_cmd({"run", "--path", entry.path().string()});
    EXPECT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("Result: "), std::string::npos) << entry.path() << "\n" << r.out;
  }
}
