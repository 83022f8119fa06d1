// Helpers for the end-to-end tests, which drive the ferry binary as a user would. Each test gets
// its own FERRY_HOME (database, stored flows) from Home; only the content-addressed module cache
// is shared, so each fixture source compiles once per test binary.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/codec.hpp"
#include "support/test_support.hpp"

namespace ferry::test {

// The path of a file under examples/.
std::string example(const std::string& name);

// This machine's host name ("localhost" if it has none).
std::string hostname();

bool contains(const std::string& haystack, const std::string& needle);

// Every regular file under root, not following symlinks (a Home's module cache is a link
// to the shared one, which holds only compiled fixtures): what a leak search reads.
std::vector<std::filesystem::path> files_under(const std::filesystem::path& root);

// Polls pred every 50 ms until it holds or the timeout passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// A child process with its own stdout/stderr files; killed (SIGKILL) and reaped if still
// running when the object goes away, so no test leaves a process behind.
class Proc {
 public:
  // own_group: the process leads a new process group, as a shell's foreground job does.
  Proc(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
       bool own_group = false);
  ~Proc();
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }

  // The exit code (128 + signal if killed) once the process ended within `timeout`.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  bool running() { return !wait_for(std::chrono::milliseconds(0)); }
  void signal(int sig);
  std::string out() const { return read_text(dir_ / "out"); }
  std::string err() const { return read_text(dir_ / "err"); }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

// Which backend a Home's commands use: the embedded SQLite file, or a `ferry server` (over
// SQLite, or over PostgreSQL from postgres_server.hpp) that the Home starts and stops.
enum class BackendKind { Embedded, ServerSqlite, ServerPostgres };
std::string to_string(BackendKind kind);
// For INSTANTIATE_TEST_SUITE_P: "Embedded", "ServerSqlite", "ServerPostgres".
struct BackendKindName {
  template <class Info>
  std::string operator()(const Info& info) const {
    return to_string(info.param);
  }
};

// A running `ferry server` of a Home: its own database, one API key, a free loopback port.
class ServerUnderTest {
 public:
  ServerUnderTest(BackendKind kind, const std::filesystem::path& home,
                  std::vector<std::string> env);
  const std::string& url() const { return url_; }
  const std::string& api_key() const { return api_key_; }
  const std::string& database_url() const { return database_; }
  Proc& process() { return *proc_; }
  // Stops the server (SIGTERM, or SIGKILL when hard) and starts it again on the same port.
  void stop(bool hard = false);
  void start();

 private:
  std::vector<std::string> env_;
  std::string database_;
  std::string api_key_;
  int port_ = 0;
  std::string url_;
  std::unique_ptr<Proc> proc_;
};

// A fresh FERRY_HOME whose module cache is the binary's shared one, plus settings that every
// ferry command of the test gets. With a server kind, the Home starts a `ferry server` and
// every command gets FERRY_API and FERRY_API_KEY for it.
class Home {
 public:
  explicit Home(std::vector<std::string> env = {}, BackendKind kind = BackendKind::Embedded);
  const std::filesystem::path& path() const { return dir_.path(); }
  BackendKind kind() const { return kind_; }
  // The Home's server (null when Embedded).
  ServerUnderTest* server() const { return server_.get(); }

  // The environment entries of a ferry command: the Home's settings, FERRY_HOME, then `extra`.
  std::vector<std::string> env(const std::vector<std::string>& extra = {}) const;

  // Starts ferry in the background.
  std::unique_ptr<Proc> start(std::vector<std::string> args,
                              const std::vector<std::string>& extra_env = {},
                              bool own_group = false) const;

  // Runs ferry to completion, killing it (and failing the test) after `timeout`.
  CommandResult ferry(std::vector<std::string> args, const std::vector<std::string>& extra_env = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  // `ferry register --path PATH EXTRA...`, which must succeed.
  void register_flow(const std::string& path, std::vector<std::string> extra = {},
                     const std::vector<std::string>& extra_env = {}) const;

  // `ferry run NAME ... --json`: the new run's id.
  std::string create_run(std::vector<std::string> args) const;

  // `ferry flows ls --json` (an empty array if it failed).
  Value flows() const;

  // `ferry runs ls --json` (an empty array if it failed).
  Value runs() const;
  // The commands that show what ferry keeps (flows ls, runs ls, and runs show / logs of every
  // run), for tests that search their output for secrets.
  std::vector<std::vector<std::string>> inspection_commands() const;

  // The run as `ferry runs ls --json` lists it (null if it is not listed).
  Value listed_run(const std::string& id) const;

  std::string state_of(const std::string& id) const;

  // `ferry runs show ID --json` (an empty object if it failed).
  Value show(const std::string& id) const;

  // `ferry agent local start --max-runs N --poll-interval 0.1 ...` in the foreground.
  CommandResult agent(int max_runs, std::vector<std::string> extra = {},
                      const std::vector<std::string>& extra_env = {}) const;

  // Every file and folder under $FERRY_HOME/flows, relative to $FERRY_HOME.
  std::set<std::string> stored_entries() const;

  // The package files Local storage wrote for a flow.
  std::vector<std::filesystem::path> stored_files(const std::string& flow) const;

 private:
  TempDir dir_;
  std::vector<std::string> env_;
  BackendKind kind_;
  std::unique_ptr<ServerUnderTest> server_;  // destroyed (stopped) before dir_
};

}  // namespace ferry::test
