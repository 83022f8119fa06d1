#include "support/test_support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ferry::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "ferry-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ScopedFerryHome::ScopedFerryHome() {
  if (const char* prev = std::getenv("FERRY_HOME")) {
    previous_ = prev;
    had_previous_ = true;
  }
  ::setenv("FERRY_HOME", dir_.path().c_str(), 1);
}

ScopedFerryHome::~ScopedFerryHome() {
  if (had_previous_) {
    ::setenv("FERRY_HOME", previous_.c_str(), 1);
  } else {
    ::unsetenv("FERRY_HOME");
  }
}

void write_text(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path fixture(const std::string& name) { return fs::path(FERRY_TEST_FIXTURES) / name; }

fs::path shared_module_cache() {
  static TempDir dir;
  return dir.path();
}

pid_t spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                    const fs::path& out, const fs::path& err, bool own_group) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const std::string& x : extra_env) {
      if (entry.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) overridden = true;
    }
    if (!overridden) env_strings.push_back(entry);
  }
  // Within extra_env a later entry overrides an earlier one of the same name (a test's own
  // settings come after its Home's).
  for (std::size_t i = 0; i < extra_env.size(); ++i) {
    const std::string& x = extra_env[i];
    const std::size_t name_len = x.find('=') + 1;
    bool later = false;
    for (std::size_t j = i + 1; j < extra_env.size() && !later; ++j) {
      later = extra_env[j].compare(0, name_len, x, 0, name_len) == 0;
    }
    if (!later) env_strings.push_back(x);
  }
  std::vector<char*> envp, args;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

namespace {

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return exit_code_of(status);
    if (r < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int kill_and_reap(pid_t pid) noexcept {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 128 + SIGKILL;
  }
  return exit_code_of(status);
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env,
                          std::chrono::milliseconds timeout) {
  // stdout and stderr go to temp files, so neither pipe can fill up and block the child.
  TempDir dir;
  pid_t pid = spawn_process(argv, extra_env, dir / "out", dir / "err");
  CommandResult result;
  if (std::optional<int> code = wait_for_exit(pid, timeout)) {
    result.exit_code = *code;
  } else {
    result.exit_code = kill_and_reap(pid);
    std::string shown;
    for (const std::string& a : argv) shown += " " + a;
    ADD_FAILURE() << shown << " did not finish within " << timeout.count() << " ms";
  }
  result.out = read_text(dir / "out");
  result.err = read_text(dir / "err");
  return result;
}

}  // namespace ferry::test
