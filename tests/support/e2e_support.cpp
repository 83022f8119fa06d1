#include "support/e2e_support.hpp"

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

Home::Home(std::vector<std::string> env) : env_(std::move(env)) {
  fs::create_directories(dir_.path() / "cache");
  fs::create_directory_symlink(shared_module_cache(), dir_.path() / "cache" / "modules");
  env_.push_back("FERRY_HOME=" + dir_.path().string());
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
