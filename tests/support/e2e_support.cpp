#include "support/e2e_support.hpp"

#include "support/ports.hpp"
#include "support/postgres_server.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

namespace ferry::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string example(const std::string& name) {
  return (fs::path(FERRY_EXAMPLES_DIR) / name).string();
}

std::vector<fs::path> files_under(const fs::path& root) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink()) continue;
    if (it->is_regular_file()) files.push_back(it->path());
  }
  return files;
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return name;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Proc::Proc(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
           bool own_group)
    : pid_(spawn_process(argv, extra_env, dir_ / "out", dir_ / "err", own_group)) {}

Proc::~Proc() {
  if (!code_) kill_and_reap(pid_);
}

std::optional<int> Proc::wait_for(std::chrono::milliseconds timeout) {
  if (!code_) code_ = wait_for_exit(pid_, timeout);
  return code_;
}

void Proc::signal(int sig) {
  if (!code_) ::kill(pid_, sig);
}

std::string to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::Embedded:
      return "Embedded";
    case BackendKind::ServerSqlite:
      return "ServerSqlite";
    case BackendKind::ServerPostgres:
      return "ServerPostgres";
  }
  return "Unknown";
}

namespace {
// A fixed test key for the server's secret store (64 hex digits).
constexpr const char* kServerSecretKey =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
}  // namespace

ServerUnderTest::ServerUnderTest(BackendKind kind, const fs::path& home,
                                 std::vector<std::string> env)
    : env_(std::move(env)) {
  env_.push_back(std::string("FERRY_SERVER_SECRET_KEY=") + kServerSecretKey);
  database_ = kind == BackendKind::ServerPostgres ? PostgresServer::shared().create_database()
                                                  : "sqlite://" + (home / "server.db").string();
  CommandResult key = run_command(
      {FERRY_BIN, "server", "api-key", "create", "e2e", "--database", database_, "--json"}, env_,
      std::chrono::seconds(30));
  if (key.exit_code != 0) {
    throw std::runtime_error("ferry server api-key create failed: " + key.out + key.err);
  }
  api_key_ = Value::parse(key.out).at("key").get<std::string>();
  port_ = free_port();
  url_ = "http://127.0.0.1:" + std::to_string(port_);
  start();
}

void ServerUnderTest::start() {
  proc_ = std::make_unique<Proc>(
      std::vector<std::string>{FERRY_BIN, "server", "start", "--port", std::to_string(port_),
                               "--database", database_},
      env_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!port_accepts(port_)) {
    if (!proc_->running() || std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("ferry server did not start on port " + std::to_string(port_) +
                               ": " + proc_->err());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ServerUnderTest::stop(bool hard) {
  proc_->signal(hard ? SIGKILL : SIGTERM);
  proc_->wait_for(std::chrono::seconds(10));
}

Home::Home(std::vector<std::string> env, BackendKind kind) : env_(std::move(env)), kind_(kind) {
  fs::create_directories(dir_.path() / "cache");
  fs::create_directory_symlink(shared_module_cache(), dir_.path() / "cache" / "modules");
  env_.push_back("FERRY_HOME=" + dir_.path().string());
  if (kind_ != BackendKind::Embedded) {
    server_ = std::make_unique<ServerUnderTest>(kind_, dir_.path(), env_);
    env_.push_back("FERRY_API=" + server_->url());
    env_.push_back("FERRY_API_KEY=" + server_->api_key());
  }
}

std::vector<std::string> Home::env(const std::vector<std::string>& extra) const {
  std::vector<std::string> all = env_;
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

std::unique_ptr<Proc> Home::start(std::vector<std::string> args,
                                  const std::vector<std::string>& extra_env, bool own_group) const {
  args.insert(args.begin(), FERRY_BIN);
  return std::make_unique<Proc>(args, env(extra_env), own_group);
}

CommandResult Home::ferry(std::vector<std::string> args, const std::vector<std::string>& extra_env,
                          std::chrono::milliseconds timeout) const {
  args.insert(args.begin(), FERRY_BIN);
  return run_command(args, env(extra_env), timeout);
}

void Home::register_flow(const std::string& path, std::vector<std::string> extra,
                         const std::vector<std::string>& extra_env) const {
  std::vector<std::string> args = {"register", "--path", path};
  args.insert(args.end(), extra.begin(), extra.end());
  CommandResult r = ferry(args, extra_env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(contains(r.out, "Registered flow")) << r.out;
}

std::string Home::create_run(std::vector<std::string> args) const {
  args.insert(args.begin(), "run");
  args.push_back("--json");
  CommandResult r = ferry(args);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  if (r.exit_code != 0) return "";
  std::string id = Value::parse(r.out).at("run_id").get<std::string>();
  EXPECT_EQ(id.size(), 32u) << r.out;
  return id;
}

Value Home::flows() const {
  CommandResult r = ferry({"flows", "ls", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? Value::parse(r.out) : Value::array();
}

Value Home::runs() const {
  CommandResult r = ferry({"runs", "ls", "--json", "--limit", "1000"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? Value::parse(r.out) : Value::array();
}

std::vector<std::vector<std::string>> Home::inspection_commands() const {
  std::vector<std::vector<std::string>> commands = {{"flows", "ls", "--json"},
                                                    {"runs", "ls", "--json"}};
  for (const Value& run : runs()) {
    std::string id = run.at("id");
    commands.push_back({"runs", "show", id, "--json"});
    commands.push_back({"runs", "logs", id});
  }
  return commands;
}

Value Home::listed_run(const std::string& id) const {
  for (const Value& run : runs()) {
    if (run.at("id") == id) return run;
  }
  return Value();
}

std::string Home::state_of(const std::string& id) const {
  Value run = listed_run(id);
  return run.is_null() ? "(missing)" : run.at("state").get<std::string>();
}

Value Home::show(const std::string& id) const {
  CommandResult r = ferry({"runs", "show", id, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? Value::parse(r.out) : Value::object();
}

CommandResult Home::agent(int max_runs, std::vector<std::string> extra,
                          const std::vector<std::string>& extra_env) const {
  std::vector<std::string> args = {
      "agent", "local", "start", "--max-runs", std::to_string(max_runs), "--poll-interval", "0.1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ferry(args, extra_env, 60s);
}

std::set<std::string> Home::stored_entries() const {
  std::set<std::string> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path() / "flows", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    entries.insert(it->path().lexically_relative(path()).string());
  }
  return entries;
}

std::vector<fs::path> Home::stored_files(const std::string& flow) const {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path() / "flows" / flow, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  return files;
}

}  // namespace ferry::test
