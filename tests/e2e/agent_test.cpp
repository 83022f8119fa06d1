// End-to-end: runs of registered flows and the local agent, through the ferry binary as a
// user would drive it. Each test has its own FERRY_HOME (database, stored flows); only the
// content-addressed module cache is shared, so each fixture source compiles once per binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/codec.hpp"
#include "support/test_support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ferry::Value;
using ferry::test::CommandResult;
using ferry::test::fixture;
using ferry::test::read_text;
using ferry::test::TempDir;
using ferry::test::write_text;
using SteadyClock = std::chrono::steady_clock;

// Lost detection within about a second, for the tests that need it.
const std::vector<std::string> kFastLost = {"FERRY__AGENT__HEARTBEAT_INTERVAL=0.2",
                                            "FERRY__AGENT__LOST_TIMEOUT=1"};

std::string example(const std::string& name) {
  return (fs::path(FERRY_EXAMPLES_DIR) / name).string();
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return name;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A child process with its own stdout/stderr files; killed (SIGKILL) and reaped if still
// running when the object goes away, so no test leaves a process behind.
class Proc {
 public:
  // own_group: the process leads a new process group, as a shell's foreground job does.
  Proc(std::vector<std::string> argv, const std::vector<std::string>& extra_env,
       bool own_group = false) {
    fs::path out = dir_ / "out", err = dir_ / "err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string entry(*e);
      bool overridden = false;
      for (const std::string& x : extra_env) {
        if (entry.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) overridden = true;
      }
      if (!overridden) env.push_back(entry);
    }
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp, args;
    for (std::string& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (std::string& s : argv) args.push_back(s.data());
    args.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (own_group) {
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
      posix_spawnattr_setpgroup(&attr, 0);
    }
    int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  ~Proc() {
    if (!code_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }

  // The exit code (128 + signal if killed) once the process ended within `timeout`.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    while (!code_) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (r < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
      if (SteadyClock::now() >= deadline) break;
      std::this_thread::sleep_for(10ms);
    }
    return code_;
  }
  bool running() { return !wait_for(0ms); }
  void signal(int sig) {
    if (!code_) ::kill(pid_, sig);
  }
  std::string out() const { return read_text(dir_ / "out"); }
  std::string err() const { return read_text(dir_ / "err"); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

// Polls pred every 50 ms until it holds or the timeout passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// A fresh FERRY_HOME whose module cache is the binary's shared one, plus settings that every
// ferry command of the test gets.
class Home {
 public:
  explicit Home(std::vector<std::string> env = {}) : env_(std::move(env)) {
    fs::create_directories(dir_.path() / "cache");
    fs::create_directory_symlink(ferry::test::shared_module_cache(),
                                 dir_.path() / "cache" / "modules");
    env_.push_back("FERRY_HOME=" + dir_.path().string());
  }
  const fs::path& path() const { return dir_.path(); }

  std::vector<std::string> env(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> all = env_;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }

  // Starts ferry in the background.
  std::unique_ptr<Proc> start(std::vector<std::string> args,
                              const std::vector<std::string>& extra_env = {},
                              bool own_group = false) const {
    args.insert(args.begin(), FERRY_BIN);
    return std::make_unique<Proc>(args, env(extra_env), own_group);
  }

  // Runs ferry to completion, killing it (and failing the test) after `timeout`.
  CommandResult ferry(std::vector<std::string> args, const std::vector<std::string>& extra_env = {},
                      std::chrono::milliseconds timeout = 60s) const {
    std::string shown;
    for (const std::string& a : args) shown += " " + a;
    auto p = start(std::move(args), extra_env);
    CommandResult r;
    if (auto code = p->wait_for(timeout)) {
      r.exit_code = *code;
    } else {
      p->signal(SIGKILL);
      p->wait_for(5s);
      ADD_FAILURE() << "ferry" << shown << " did not finish within " << timeout.count() << " ms";
    }
    r.out = p->out();
    r.err = p->err();
    return r;
  }

  void register_flow(const std::string& path, std::vector<std::string> extra = {},
                     const std::vector<std::string>& extra_env = {}) const {
    std::vector<std::string> args = {"register", "--path", path};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = ferry(args, extra_env);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_TRUE(contains(r.out, "Registered flow")) << r.out;
  }

  // `ferry run NAME ... --json`: the new run's id.
  std::string create_run(std::vector<std::string> args) const {
    args.insert(args.begin(), "run");
    args.push_back("--json");
    CommandResult r = ferry(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    if (r.exit_code != 0) return "";
    std::string id = Value::parse(r.out).at("run_id").get<std::string>();
    EXPECT_EQ(id.size(), 32u) << r.out;
    return id;
  }

  Value runs() const {
    CommandResult r = ferry({"runs", "ls", "--json", "--limit", "1000"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? Value::parse(r.out) : Value::array();
  }

  // The run as `ferry runs ls --json` lists it (null if it is not listed).
  Value listed_run(const std::string& id) const {
    for (const Value& run : runs()) {
      if (run.at("id") == id) return run;
    }
    return Value();
  }

  std::string state_of(const std::string& id) const {
    Value run = listed_run(id);
    return run.is_null() ? "(missing)" : run.at("state").get<std::string>();
  }

  Value show(const std::string& id) const {
    CommandResult r = ferry({"runs", "show", id, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? Value::parse(r.out) : Value::object();
  }

  // `ferry agent local start --max-runs N --poll-interval 0.1 ...` in the foreground.
  CommandResult agent(int max_runs, std::vector<std::string> extra = {},
                      const std::vector<std::string>& extra_env = {}) const {
    std::vector<std::string> args = {
        "agent",           "local", "start", "--max-runs", std::to_string(max_runs),
        "--poll-interval", "0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return ferry(args, extra_env, 60s);
  }

  // The package files Local storage wrote for a flow.
  std::vector<fs::path> stored_files(const std::string& flow) const {
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(path() / "flows" / flow, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    return files;
  }

 private:
  TempDir dir_;
  std::vector<std::string> env_;
};

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

}  // namespace

// README command 1's main job: register, create a run, an agent runs it, the user reads it.
TEST(Agent, RegisterRunAndReadTheResult) {
  Home home;
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

TEST(Agent, BadRunRequestsCreateNoRun) {
  Home home;
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

TEST(Agent, WatchFollowsTheRunToItsResult) {
  Home home;
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

TEST(Agent, WatchOfAFailingFlowExits1) {
  Home home;
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

TEST(Agent, LabelMismatchLeavesTheRunScheduled) {
  Home home;
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

TEST(Agent, ScriptFormPicksUpEditsWithoutReregistering) {
  Home home;
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

TEST(Agent, FrozenFormIsUnaffectedByEdits) {
  Home home;
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

TEST(Agent, FrozenRunDoesNotRerunTopLevelCode) {
  Home home;
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

TEST(Agent, CorruptedStoredFlowIsRefused) {
  Home home;
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
TEST(Agent, SwappedStoredFlowIsRefusedByTheRecordedDigest) {
  Home home;
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

TEST(Agent, MissingStoredFlowSaysItIsNotOnThisMachine) {
  Home home;
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

TEST(Agent, AgentKilledMidRunLeavesTheRunLost) {
  Home home(kFastLost);
  home.register_flow(fixture("e2e/sleepy.cpp").string());
  std::string id = home.create_run({"sleepy"});
  ASSERT_FALSE(id.empty());
  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"});
  ASSERT_TRUE(eventually([&] { return home.state_of(id) == "Running"; }, 15s))
      << home.state_of(id) << "\n"
      << agent->err();
  std::vector<pid_t> executing;
  ASSERT_TRUE(eventually([&] { return !(executing = execute_processes(id)).empty(); }, 2s))
      << "no `ferry execute flow-run " << id << "` process found while the run is Running";

  agent->signal(SIGKILL);
  ASSERT_EQ(agent->wait_for(5s), std::optional<int>(128 + SIGKILL));
  auto killed = SteadyClock::now();
  // The flow-run child dies with its agent (well before its 5 s task would have ended).
  EXPECT_TRUE(eventually([&] { return execute_processes(id).empty(); }, 2s))
      << "`ferry execute flow-run " << id << "` still running after its agent was killed (pid "
      << executing[0] << ")";

  EXPECT_TRUE(eventually([&] { return home.state_of(id) == "Lost"; }, 6s)) << home.state_of(id);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - killed);
  EXPECT_LT(took, 6s);
  Value run = home.listed_run(id);
  EXPECT_TRUE(contains(run.value("message", ""), "no heartbeat")) << run.dump(2);
  // Lost is final: a late report could not turn it into anything else.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(home.state_of(id), "Lost");
}

// Stopping an agent mid-run (SIGTERM, or Ctrl-C at a terminal, which sends SIGINT to the
// whole foreground process group): it waits the grace period, then releases the run to
// Scheduled so another agent starts it again.
void stop_agent_mid_run(bool ctrl_c) {
  Home home({"FERRY__AGENT__GRACE_PERIOD=0.5"});
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

TEST(Agent, SigtermMidRunReleasesTheRun) { stop_agent_mid_run(false); }

TEST(Agent, CtrlCMidRunReleasesTheRunLikeSigterm) { stop_agent_mid_run(true); }

TEST(Agent, SigtermOnAnIdleAgentExitsPromptly) {
  Home home;
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

TEST(Agent, TwoAgentsRunEachQueuedRunExactlyOnce) {
  Home home;
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
