// End-to-end: runs of registered flows and the local agent, through the ferry binary as a
// user would drive it. Each test has its own FERRY_HOME (database, stored flows); only the
// content-addressed module cache is shared, so each fixture source compiles once per binary.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ferry::Value;
using ferry::test::BackendKind;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::eventually;
using ferry::test::example;
using ferry::test::fixture;
using ferry::test::Home;
using ferry::test::hostname;
using ferry::test::read_text;
using ferry::test::TempDir;
using ferry::test::write_text;
using SteadyClock = std::chrono::steady_clock;

// Lost detection within about a second, for the tests that need it.
const std::vector<std::string> kFastLost = {"FERRY__AGENT__HEARTBEAT_INTERVAL=0.2",
                                            "FERRY__AGENT__LOST_TIMEOUT=1"};

std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '\0') {
      if (i > start) parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Live (not zombie) processes running `ferry execute flow-run RUN_ID`.
std::vector<pid_t> execute_processes(const std::string& run_id) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::vector<std::string> argv = split_nul(read_text(it->path() / "cmdline"));
    bool match = false;
    for (std::size_t i = 0; i + 2 < argv.size(); ++i) {
      if (argv[i] == "execute" && argv[i + 1] == "flow-run" && argv[i + 2] == run_id) match = true;
    }
    if (!match) continue;
    std::string stat = read_text(it->path() / "stat");
    std::size_t paren = stat.rfind(')');
    char state = paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
    if (state == 'Z' || state == 'X') continue;
    pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

int count_states(const Value& history, const std::string& state) {
  int n = 0;
  for (const Value& c : history) n += c.at("state") == state ? 1 : 0;
  return n;
}

std::vector<std::string> history_states(const Value& history) {
  std::vector<std::string> states;
  for (const Value& c : history) states.push_back(c.at("state").get<std::string>());
  return states;
}

// Every test runs against the embedded backend, a `ferry server` on SQLite and one on
// PostgreSQL: the CLI and agents must behave the same with each.
class Agent : public ::testing::TestWithParam<BackendKind> {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, Agent,
                         ::testing::Values(BackendKind::Embedded, BackendKind::ServerSqlite,
                                           BackendKind::ServerPostgres),
                         ferry::test::BackendKindName{});

// README command 1's main job: register, create a run, an agent runs it, the user reads it.
TEST_P(Agent, RegisterRunAndReadTheResult) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  CommandResult created = home.ferry({"run", "hello", "--param", "name=Ada"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_TRUE(contains(created.out, "Created flow run ")) << created.out;
  EXPECT_TRUE(contains(created.out, "for flow 'hello' version 1 (labels: " + hostname() + ")"))
      << created.out;
  Value queued = home.runs();
  ASSERT_EQ(queued.size(), 1u) << queued.dump(2);
  EXPECT_EQ(queued[0]["state"], "Scheduled");

  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.out << agent.err;

  Value runs = home.runs();
  ASSERT_EQ(runs.size(), 1u) << runs.dump(2);
  const Value& run = runs[0];
  std::string id = run.at("id");
  EXPECT_EQ(run["flow"], "hello");
  EXPECT_EQ(run["version"], 1);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], "Hello, Ada");
  EXPECT_EQ(run["parameters"], Value({{"name", "Ada"}}));
  EXPECT_FALSE(run["agent"].get<std::string>().empty());

  Value shown = home.show(id);
  EXPECT_EQ(history_states(shown["history"]),
            (std::vector<std::string>{"Scheduled", "Pending", "Running", "Success"}))
      << shown["history"].dump(2);
  EXPECT_TRUE(contains(shown["history"][1]["message"].get<std::string>(),
                       "Claimed by agent " + run["agent"].get<std::string>()))
      << shown["history"].dump(2);
  ASSERT_EQ(shown["tasks"].size(), 1u) << shown.dump(2);
  EXPECT_EQ(shown["tasks"][0]["name"], "greet");
  EXPECT_EQ(shown["tasks"][0]["state"], "Success");
  EXPECT_EQ(shown["pinned"]["storage"], "Local");
  EXPECT_EQ(shown["pinned"]["sha256"].get<std::string>().size(), 64u) << shown["pinned"].dump();

  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_TRUE(contains(logs.out, "greeting Ada")) << logs.out;
  CommandResult text = home.ferry({"runs", "show", id});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "State: Success")) << text.out;
  EXPECT_TRUE(contains(text.out, "greet: Success")) << text.out;
}

TEST_P(Agent, BadRunRequestsCreateNoRun) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  home.register_flow(fixture("typed_params.cpp").string());
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{"run", "hello", "--param", "nope=1"},
       "Flow 'hello' has no parameter 'nope'. Its parameters are: name."},
      {{"run", "typed", "--param", "count=abc"}, "Parameter 'count' expects integer, got 'abc'"},
      {{"run", "typed", "--param", "count=1", "--param", "items=[1,\"x\"]"},
       "Parameter 'items' expects array<integer>"},
      {{"run", "typed"}, "Flow 'typed' requires parameter 'count'"},
      {{"run", "hello", "--param", "name"}, "Bad --param 'name': write it as name=value."},
      {{"run", "nosuch"}, "No flow 'nosuch' is registered in project 'default'"},
      {{"run", "hello", "--project", "other"}, "No flow 'hello' is registered in project 'other'"},
  };
  for (const Case& c : cases) {
    CommandResult r = home.ferry(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.expect << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "error: " + c.expect))
        << "want: " << c.expect << "\ngot: " << r.err;
    EXPECT_FALSE(contains(r.err, "terminate called")) << r.err;
    EXPECT_FALSE(contains(r.out, "Created flow run")) << r.out;
  }
  EXPECT_EQ(home.runs(), Value::array());
  // The same requests made valid do create runs (so the empty list above means something).
  EXPECT_FALSE(home.create_run({"typed", "--param", "count=1"}).empty());
  EXPECT_EQ(home.runs().size(), 1u);
}

TEST_P(Agent, WatchFollowsTheRunToItsResult) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"});
  CommandResult r = home.ferry({"run", "hello", "--watch"}, {}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "Result: Hello, world\n")) << r.out;
  for (const char* line : {"Z Scheduled: Flow run scheduled", "Z Pending: Claimed by agent ",
                           "Z Running: Started by process ", "Z Success: "}) {
    EXPECT_TRUE(contains(r.out, line)) << line << "\n" << r.out;
  }
  EXPECT_LT(r.out.find(" Scheduled:"), r.out.find(" Pending:")) << r.out;
  EXPECT_LT(r.out.find(" Pending:"), r.out.find(" Running:")) << r.out;
  EXPECT_LT(r.out.find(" Running:"), r.out.find(" Success:")) << r.out;
  EXPECT_TRUE(contains(r.out, "greet | greeting world")) << r.out;
  EXPECT_EQ(agent->wait_for(10s), std::optional<int>(0)) << agent->err();
}

TEST_P(Agent, WatchOfAFailingFlowExits1) {
  Home home({}, GetParam());
  home.register_flow(fixture("failing.cpp").string());
  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"});
  CommandResult r = home.ferry({"run", "failing", "--watch"}, {}, 30s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "Z Failed: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "'explode'")) << r.out;
  EXPECT_FALSE(contains(r.out, "Result:")) << r.out;
  EXPECT_EQ(agent->wait_for(10s), std::optional<int>(0)) << agent->err();
  Value runs = home.runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["state"], "Failed");
  // Why the task failed is recorded with its task run.
  Value shown = home.show(runs[0]["id"]);
  ASSERT_EQ(shown["tasks"].size(), 2u) << shown.dump(2);
  for (const Value& t : shown["tasks"]) {
    if (t["name"] == "explode") {
      EXPECT_EQ(t["state"], "Failed") << t.dump(2);
      EXPECT_EQ(t["attempts"], 2) << t.dump(2);
      EXPECT_TRUE(contains(t["message"].get<std::string>(), "boom: the task failed on purpose"))
          << t.dump(2);
    } else {
      EXPECT_EQ(t["state"], "TriggerFailed") << t.dump(2);
    }
  }
}

TEST_P(Agent, LabelMismatchLeavesTheRunScheduled) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  std::string id = home.create_run({"hello", "--label", "gpu"});
  ASSERT_FALSE(id.empty());
  Value listed = home.listed_run(id);
  std::set<std::string> want = {"gpu", hostname()};
  EXPECT_EQ(listed["labels"], Value(std::vector<std::string>(want.begin(), want.end())))
      << listed.dump(2);

  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"});
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(agent->running()) << "an agent without the gpu label stopped: " << agent->err();
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait_for(5s), std::optional<int>(0)) << agent->err();
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Scheduled") << run.dump(2);
  EXPECT_EQ(run["agent"], "") << run.dump(2);

  CommandResult gpu = home.agent(1, {"--label", "gpu"});
  EXPECT_EQ(gpu.exit_code, 0) << gpu.err;
  run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], "Hello, world");
}

TEST_P(Agent, ScriptFormPicksUpEditsWithoutReregistering) {
  Home home({}, GetParam());
  TempDir src_dir;
  fs::path src = src_dir / "editable.cpp";
  std::string text = read_text(fixture("e2e/editable.cpp"));
  write_text(src, text);
  CommandResult reg = home.ferry({"register", "--path", src.string(), "--script"});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "Registered flow 'editable' version 1 (storage Local, script;"))
      << reg.out;
  EXPECT_TRUE(home.stored_files("editable").empty()) << "script form stored a package";

  std::string first = home.create_run({"editable"});
  ASSERT_EQ(home.agent(1).exit_code, 0);
  EXPECT_EQ(home.listed_run(first)["result"], "first-word") << home.listed_run(first).dump(2);

  std::string edited = text;
  edited.replace(edited.find("first-word"), 10, "second-word");
  write_text(src, edited);
  std::string second = home.create_run({"editable"});
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(second);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "second-word") << run.dump(2);
  EXPECT_EQ(run["version"], 1) << "the edit was picked up through a new version, not the script";
}

TEST_P(Agent, FrozenFormIsUnaffectedByEdits) {
  Home home({}, GetParam());
  TempDir src_dir;
  fs::path src = src_dir / "editable.cpp";
  std::string text = read_text(fixture("e2e/editable.cpp"));
  write_text(src, text);
  CommandResult reg = home.ferry({"register", "--path", src.string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "Registered flow 'editable' version 1 (storage Local, frozen;"))
      << reg.out;

  std::string edited = text;
  edited.replace(edited.find("first-word"), 10, "second-word");
  write_text(src, edited);
  std::string id = home.create_run({"editable"});
  ASSERT_EQ(home.agent(1).exit_code, 0);
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], "first-word") << run.dump(2);

  // Even with the source gone, the frozen flow runs.
  fs::remove(src);
  std::string again = home.create_run({"editable"});
  ASSERT_EQ(home.agent(1).exit_code, 0);
  EXPECT_EQ(home.listed_run(again)["result"], "first-word") << home.listed_run(again).dump(2);
}

TEST_P(Agent, FrozenRunDoesNotRerunTopLevelCode) {
  Home home({}, GetParam());
  TempDir dir;
  fs::path marker = dir / "marker";
  std::vector<std::string> env = {"FERRY_TEST_MARKER=" + marker.string()};
  home.register_flow(fixture("marker.cpp").string(), {}, env);
  std::string after_register = read_text(marker);
  ASSERT_FALSE(after_register.empty()) << "registration did not run FERRY_FLOWS";

  std::string id = home.create_run({"marker", "--param", "x=5"});
  CommandResult agent = home.agent(1, {}, env);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], 35);
  EXPECT_EQ(read_text(marker), after_register) << "running the frozen flow ran FERRY_FLOWS";
}

TEST_P(Agent, CorruptedStoredFlowIsRefused) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  std::vector<fs::path> files = home.stored_files("hello");
  ASSERT_EQ(files.size(), 1u);
  std::string bytes = read_text(files[0]);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 1;
  write_text(files[0], bytes);

  std::string id = home.create_run({"hello"});
  CommandResult agent = home.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Failed to load flow from storage:", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "SHA-256 digest")) << message;
  EXPECT_EQ(run["result"], Value()) << run.dump(2);
  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "Failed to load flow from storage:")) << logs.out;
  EXPECT_TRUE(home.show(id)["tasks"].empty()) << "a task of the corrupted flow ran";
}

// A well-formed package of another build of the flow, put where the registered one was: its
// own checksum holds, so only the digest recorded at registration can refuse it.
TEST_P(Agent, SwappedStoredFlowIsRefusedByTheRecordedDigest) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  std::vector<fs::path> files = home.stored_files("hello");
  ASSERT_EQ(files.size(), 1u);

  TempDir dir;
  std::string text = read_text(example("hello.cpp"));
  ASSERT_NE(text.find("\"Hello, \""), std::string::npos);
  text.replace(text.find("\"Hello, \""), 9, "\"Hacked, \"");
  write_text(dir / "hello.cpp", text);
  CommandResult freeze = home.ferry(
      {"flow", "freeze", "--path", (dir / "hello.cpp").string(), "-o", (dir / "x.ferry").string()});
  ASSERT_EQ(freeze.exit_code, 0) << freeze.err;
  write_text(files[0], read_text(dir / "x.ferry"));

  std::string id = home.create_run({"hello"});
  CommandResult agent = home.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Failed to load flow from storage:", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "does not match the SHA-256 digest recorded at registration"))
      << message;
  EXPECT_TRUE(home.show(id)["tasks"].empty()) << "a task of the swapped flow ran";
}

TEST_P(Agent, MissingStoredFlowSaysItIsNotOnThisMachine) {
  Home home({}, GetParam());
  home.register_flow(example("hello.cpp"));
  std::vector<fs::path> files = home.stored_files("hello");
  ASSERT_EQ(files.size(), 1u);
  fs::remove(files[0]);

  std::string id = home.create_run({"hello"});
  CommandResult agent = home.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Failed to load flow from storage:", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "does not exist on this machine")) << message;
  EXPECT_TRUE(contains(message, hostname())) << message;
}

// Kills the agent running `id` (SIGKILL) and checks its flow-run child dies with it.
void kill_agent_mid_run(const Home& home, const std::string& id) {
  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"});
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Running"; }, 15s))
      << home.state_of(id) << "\n"
      << agent->err();
  std::vector<pid_t> executing;
  ASSERT_TRUE(eventually([&] { return !(executing = execute_processes(id)).empty(); }, 2s))
      << "no `ferry execute flow-run " << id << "` process found while the run is Running";
  agent->signal(SIGKILL);
  ASSERT_EQ(agent->wait_for(5s), std::optional<int>(128 + SIGKILL));
  // The flow-run child dies with its agent (well before its task would have ended).
  EXPECT_TRUE(eventually([&] { return execute_processes(id).empty(); }, 2s))
      << "`ferry execute flow-run " << id << "` still running after its agent was killed (pid "
      << executing[0] << ")";
}

// By default a lost run is rescheduled once: another agent runs it to the end; lost a second
// time, it stays Lost.
TEST_P(Agent, AgentKilledMidRunIsRescheduledOnceThenLeftLost) {
  Home home(kFastLost, GetParam());
  home.register_flow(fixture("e2e/sleepy.cpp").string());
  std::string id = home.create_run({"sleepy", "--param", "seconds=3"});
  ASSERT_FALSE(id.empty());

  kill_agent_mid_run(home, id);
  auto killed = SteadyClock::now();
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Scheduled"; }, 6s))
      << home.state_of(id);
  EXPECT_LT(SteadyClock::now() - killed, 6s);
  Value run = home.show(id);
  EXPECT_EQ(run.value("message", ""), "Rescheduled after being lost (retry 1 of 1)") << run.dump(2);
  EXPECT_EQ(count_states(run["history"], "Lost"), 1) << run["history"].dump(2);

  kill_agent_mid_run(home, id);
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Lost"; }, 6s)) << home.state_of(id);
  run = home.show(id);
  EXPECT_TRUE(contains(run.value("message", ""), "no heartbeat")) << run.dump(2);
  EXPECT_EQ(history_states(run["history"]),
            (std::vector<std::string>{"Scheduled", "Pending", "Running", "Lost", "Scheduled",
                                      "Pending", "Running", "Lost"}))
      << run["history"].dump(2);
  // Lost is final: a late report could not turn it into anything else.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(home.state_of(id), "Lost");
}

TEST_P(Agent, RescheduledLostRunFinishesOnAnotherAgent) {
  Home home(kFastLost, GetParam());
  home.register_flow(fixture("e2e/sleepy.cpp").string());
  std::string id = home.create_run({"sleepy", "--param", "seconds=2"});
  kill_agent_mid_run(home, id);
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Scheduled"; }, 6s))
      << home.state_of(id);
  CommandResult second = home.agent(1);
  EXPECT_EQ(second.exit_code, 0) << second.err;
  Value run = home.show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], 2) << run.dump(2);
}

// flow.lost_run_retries = 0: the first loss is final.
TEST_P(Agent, FlowWithoutLostRetriesIsLeftLostAtOnce) {
  Home home(kFastLost, GetParam());
  home.register_flow(fixture("e2e/sleepy.cpp").string());
  EXPECT_EQ(home.flows()[1]["run_config"]["lost_run_retries"], 0) << home.flows().dump(2);
  std::string id = home.create_run({"sleepy-once"});
  kill_agent_mid_run(home, id);
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Lost"; }, 6s)) << home.state_of(id);
  Value run = home.show(id);
  EXPECT_EQ(count_states(run["history"], "Scheduled"), 1) << run["history"].dump(2);
}

// Stopping an agent mid-run (SIGTERM, or Ctrl-C at a terminal, which sends SIGINT to the
// whole foreground process group): it waits the grace period, then releases the run to
// Scheduled so another agent starts it again.
void stop_agent_mid_run(BackendKind kind, bool ctrl_c) {
  Home home({"FERRY__AGENT__GRACE_PERIOD=0.5"}, kind);
  home.register_flow(fixture("e2e/sleepy.cpp").string());
  std::string id = home.create_run({"sleepy"});
  ASSERT_FALSE(id.empty());
  auto agent = home.start({"agent", "local", "start", "--poll-interval", "0.1"}, {}, ctrl_c);
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Running"; }, 15s))
      << home.state_of(id) << "\n"
      << agent->err();
  if (ctrl_c) {
    ASSERT_EQ(::kill(-agent->pid(), SIGINT), 0);
  } else {
    agent->signal(SIGTERM);
  }
  EXPECT_EQ(agent->wait_for(5s), std::optional<int>(0)) << agent->err();
  EXPECT_TRUE(eventually([&] { return execute_processes(id).empty(); }, 2s));
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Scheduled") << run.dump(2) << agent->err();
  EXPECT_TRUE(contains(run.value("message", ""), "Released by agent")) << run.dump(2);
}

TEST_P(Agent, SigtermMidRunReleasesTheRun) { stop_agent_mid_run(GetParam(), false); }

TEST_P(Agent, CtrlCMidRunReleasesTheRunLikeSigterm) { stop_agent_mid_run(GetParam(), true); }

TEST_P(Agent, SigtermOnAnIdleAgentExitsPromptly) {
  Home home({}, GetParam());
  // A long poll interval: only the signal itself can end the wait promptly.
  auto agent = home.start({"agent", "local", "start", "--poll-interval", "30"});
  ASSERT_TRUE(eventually([&] { return contains(agent->err(), "started"); }, 10s)) << agent->err();
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(agent->running()) << agent->err();
  auto sent = SteadyClock::now();
  agent->signal(SIGTERM);
  std::optional<int> code = agent->wait_for(5s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - sent);
  ASSERT_TRUE(code.has_value()) << "the agent ignored SIGTERM";
  EXPECT_EQ(*code, 0) << agent->err();
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(contains(agent->err(), "stopped after starting 0 run(s)")) << agent->err();
}

TEST_P(Agent, TwoAgentsRunEachQueuedRunExactlyOnce) {
  Home home({}, GetParam());
  home.register_flow(fixture("e2e/trivial.cpp").string());
  constexpr int kRuns = 20;
  std::map<std::string, int> expected;  // run id -> its parameter (and result)
  for (int i = 0; i < kRuns; ++i) {
    std::string id = home.create_run({"trivial", "--param", "i=" + std::to_string(i)});
    ASSERT_FALSE(id.empty());
    expected[id] = i;
  }
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kRuns));

  std::vector<std::string> args = {"agent", "local", "start", "--poll-interval", "0.1"};
  auto a = home.start(args);
  auto b = home.start(args);
  auto all_final = [&] {
    Value runs = home.runs();
    if (runs.size() != static_cast<std::size_t>(kRuns)) return false;
    for (const Value& r : runs) {
      std::string s = r.at("state");
      if (s == "Scheduled" || s == "Pending" || s == "Running") return false;
    }
    return true;
  };
  bool finished = eventually(all_final, 40s);
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  EXPECT_EQ(a->wait_for(10s), std::optional<int>(0)) << a->err();
  EXPECT_EQ(b->wait_for(10s), std::optional<int>(0)) << b->err();
  ASSERT_TRUE(finished) << home.runs().dump(2);

  std::map<std::string, int> per_agent;
  for (const auto& [id, i] : expected) {
    Value run = home.show(id);
    EXPECT_EQ(run["state"], "Success") << run.dump(2);
    EXPECT_EQ(run["result"], i) << run.dump(2);
    const Value& history = run["history"];
    int claims = 0;
    for (const Value& c : history) {
      if (c.at("state") == "Pending" &&
          contains(c.at("message").get<std::string>(), "Claimed by agent")) {
        ++claims;
      }
    }
    EXPECT_EQ(claims, 1) << history.dump(2);
    EXPECT_EQ(count_states(history, "Running"), 1) << history.dump(2);
    EXPECT_EQ(count_states(history, "Success"), 1) << history.dump(2);
    ++per_agent[run["agent"].get<std::string>()];
  }
  std::cout << "[          ] runs per agent:";
  for (const auto& [agent, n] : per_agent) std::cout << " " << agent << "=" << n;
  std::cout << std::endl;
  EXPECT_LE(per_agent.size(), 2u);
}
