#include "agent/local_agent.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "agent/wake.hpp"
#include "core/executor.hpp"
#include "ferry/error.hpp"
#include "storage/hostname.hpp"

namespace ferry::agent {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};
int signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  if (sig == SIGTERM || sig == SIGINT) stop_requested.store(true);
  char c = 0;
  [[maybe_unused]] ssize_t n = ::write(signal_pipe[1], &c, 1);
}

void install_signal_handlers() {
  if (signal_pipe[0] < 0 && ::pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw Error("The agent could not create its signal pipe.");
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
}

void drain_signal_pipe() {
  char buf[64];
  while (::read(signal_pipe[0], buf, sizeof buf) > 0) {
  }
}

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("ferry") : p.string();
}

class Agent {
 public:
  Agent(backend::Backend& backend, LocalAgentOptions options)
      : backend_(backend), options_(std::move(options)) {
    std::set<std::string> labels(options_.labels.begin(), options_.labels.end());
    if (options_.hostname_label) labels.insert(storage::local_hostname());
    labels_.assign(labels.begin(), labels.end());
    id_ = detail::new_run_id();
    name_ = "local-agent@" + storage::local_hostname();
    if (options_.executable.empty()) options_.executable = self_executable();
    options_.concurrency = std::max(1, options_.concurrency);
  }

  int run() {
    install_signal_handlers();
    stop_requested.store(false);
    auto now = backend::Clock::now();
    backend_.register_agent({id_, name_, labels_, now, now});
    std::string shown;
    for (const std::string& l : labels_) shown += (shown.empty() ? "" : ", ") + l;
    say("Agent " + name_ + " (" + id_ + ") started; labels [" + shown + "], concurrency " +
        std::to_string(options_.concurrency));
    WakeWatcher watcher;
    beat(true);
    while (!stop_requested.load()) {
      reap();
      beat(false);
      if (options_.max_runs > 0 && started_ >= options_.max_runs) {
        if (running_.empty()) break;
      } else if (static_cast<int>(running_.size()) < options_.concurrency) {
        int want = options_.concurrency - static_cast<int>(running_.size());
        if (options_.max_runs > 0) want = std::min(want, options_.max_runs - started_);
        std::vector<backend::FlowRun> claimed;
        try {
          claimed = backend_.claim_flow_runs(id_, labels_, want);
        } catch (const std::exception& e) {
          // The backend (a server, its database) is having trouble: the agent carries on
          // and claims again after the poll interval.
          say(std::string("claiming failed (will retry): ") + e.what());
        }
        for (const backend::FlowRun& run : claimed) start(run);
        if (static_cast<int>(claimed.size()) == want && want > 0) continue;  // maybe more queued
      }
      watcher.wait(next_wait(), signal_pipe[0]);
      drain_signal_pipe();
    }
    shutdown();
    say("Agent " + name_ + " stopped after starting " + std::to_string(started_) + " run(s).");
    return 0;
  }

 private:
  void say(const std::string& line) {
    if (options_.verbose) std::fprintf(stderr, "[agent] %s\n", line.c_str());
  }

  std::chrono::milliseconds next_wait() const {
    auto until_beat = std::chrono::duration_cast<std::chrono::milliseconds>(
        last_beat_ + options_.heartbeat_interval - SteadyClock::now());
    return std::max(std::chrono::milliseconds(1), std::min(options_.poll_interval, until_beat));
  }

  void beat(bool force) {
    if (!force && SteadyClock::now() - last_beat_ < options_.heartbeat_interval) return;
    last_beat_ = SteadyClock::now();
    try {
      backend_.heartbeat_agent(id_);
      std::vector<std::string> ids;
      for (const auto& [pid, id] : running_) ids.push_back(id);
      if (!ids.empty()) backend_.heartbeat_flow_runs(ids);
      for (const std::string& lost : backend_.mark_lost_runs(options_.lost_timeout)) {
        say("Run " + lost + " is lost: its agent stopped heartbeating.");
      }
    } catch (const std::exception& e) {
      say(std::string("heartbeat failed (will retry): ") + e.what());
    }
  }

  void start(const backend::FlowRun& run) {
    ++started_;
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      // The child dies with the agent: a run is never left running unwatched.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      // Its own process group: Ctrl-C at the agent's terminal goes to the agent, which then
      // lets the run finish or releases it, instead of killing the run outright.
      ::setpgid(0, 0);
      struct sigaction sa {};
      sa.sa_handler = SIG_DFL;
      for (int sig : {SIGCHLD, SIGTERM, SIGINT}) ::sigaction(sig, &sa, nullptr);
      ::execl(options_.executable.c_str(), "ferry", "execute", "flow-run", run.id.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (pid < 0) {
      backend_.set_flow_run_state(run.id, State::Scheduled,
                                  "The agent could not start a process for this run; released.");
      return;
    }
    running_[pid] = run.id;
    try {
      backend_.heartbeat_flow_runs({run.id});
    } catch (const std::exception& e) {
      say("heartbeat of run " + run.id + " failed (the next beat retries): " + e.what());
    }
    say("Started run " + run.id + " of flow '" + run.flow_name + "' (pid " + std::to_string(pid) +
        ")");
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = running_.find(pid);
      if (it == running_.end()) continue;
      std::string id = it->second;
      running_.erase(it);
      try {
        std::optional<backend::FlowRun> run = backend_.get_flow_run(id);
        if (run && !is_final(run->state)) {
          std::string how = WIFSIGNALED(status)
                                ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                : "exited with code " + std::to_string(WEXITSTATUS(status));
          backend_.set_flow_run_state(
              id, State::Failed,
              "The flow run process " + how + " without reporting a final state.");
          run = backend_.get_flow_run(id);
        }
        say("Run " + id + " finished: " + (run ? to_string(run->state) : "unknown"));
      } catch (const std::exception& e) {
        say("could not check run " + id + ": " + e.what());
      }
    }
  }

  void shutdown() {
    if (running_.empty()) return;
    say("Stopping: waiting up to " + std::to_string(options_.grace_period.count() / 1000) +
        " s for " + std::to_string(running_.size()) + " running flow(s).");
    auto deadline = SteadyClock::now() + options_.grace_period;
    while (!running_.empty() && SteadyClock::now() < deadline) {
      reap();
      beat(false);
      if (running_.empty()) break;
      pollfd fd{signal_pipe[0], POLLIN, 0};
      ::poll(&fd, 1, 100);
      drain_signal_pipe();
    }
    for (const auto& [pid, id] : running_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      try {
        backend_.set_flow_run_state(
            id, State::Scheduled,
            "Released by agent " + id_ + " when it stopped; the run will start again.");
      } catch (const std::exception& e) {
        say("could not release run " + id + ": " + e.what());
      }
      say("Released run " + id);
    }
    running_.clear();
  }

  backend::Backend& backend_;
  LocalAgentOptions options_;
  std::vector<std::string> labels_;
  std::string id_;
  std::string name_;
  std::map<pid_t, std::string> running_;
  int started_ = 0;
  SteadyClock::time_point last_beat_{};
};

}  // namespace

int run_local_agent(backend::Backend& backend, LocalAgentOptions options) {
  return Agent(backend, std::move(options)).run();
}

}  // namespace ferry::agent
