// Helpers shared by the unit and end-to-end tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ferry::test {

// A fresh temporary folder, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Sets FERRY_HOME to a fresh temporary folder for the object's lifetime.
class ScopedFerryHome {
 public:
  ScopedFerryHome();
  ~ScopedFerryHome();
  const std::filesystem::path& path() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string previous_;
  bool had_previous_ = false;
};

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

// A path under tests/fixtures.
std::filesystem::path fixture(const std::string& name);

// A flow module cache shared by the tests of one test binary, so each fixture source is
// compiled once per test run rather than once per test.
std::filesystem::path shared_module_cache();

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Starts a program with arguments (no shell; found on PATH unless argv[0] has a slash), with
// stdin from /dev/null and stdout/stderr written to the files `out` and `err`; extra_env entries
// are NAME=VALUE and replace the inherited ones of that name. own_group: the process leads a new
// process group, as a shell's foreground job does. Returns the child's pid.
pid_t spawn_process(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                    const std::filesystem::path& out, const std::filesystem::path& err,
                    bool own_group = false);

// Waits up to `timeout` for the child `pid` to end (polling every 10 ms): its exit code (128 +
// signal if killed), or nothing if it is still running. Once it returns a code the child is
// reaped and must not be waited for again.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

// Kills the child `pid` (SIGKILL) and reaps it: its exit code (128 + SIGKILL). Never throws, so
// destructors may call it.
int kill_and_reap(pid_t pid) noexcept;

// Runs a program to completion like spawn_process; extra_env entries are NAME=VALUE. A program
// still running after `timeout` is killed (SIGKILL) and the test fails.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace ferry::test
