#include "agent/agent_loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>

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

class Agent {
 public:
  Agent(backend::Backend& backend, AgentLoopOptions options, RunLauncher& launcher)
      : backend_(backend), options_(std::move(options)), launcher_(launcher) {
    std::sort(options_.labels.begin(), options_.labels.end());
    options_.labels.erase(std::unique(options_.labels.begin(), options_.labels.end()),
                          options_.labels.end());
    id_ = detail::new_run_id();
    name_ = launcher_.kind() + "-agent@" + storage::local_hostname();
    options_.concurrency = std::max(1, options_.concurrency);
  }

  int run() {
    install_signal_handlers();
    stop_requested.store(false);
    auto now = backend::Clock::now();
    backend_.register_agent({id_, name_, options_.labels, now, now});
    std::string shown;
    for (const std::string& l : options_.labels) shown += (shown.empty() ? "" : ", ") + l;
    say("Agent " + name_ + " (" + id_ + ") started; labels [" + shown + "], concurrency " +
        std::to_string(options_.concurrency));
    WakeWatcher watcher;
    beat(true);
    while (!stop_requested.load()) {
      reap();
      beat(false);
      std::size_t running = launcher_.running().size();
      if (options_.max_runs > 0 && started_ >= options_.max_runs) {
        if (running == 0) break;
      } else if (static_cast<int>(running) < options_.concurrency) {
        int want = options_.concurrency - static_cast<int>(running);
        if (options_.max_runs > 0) want = std::min(want, options_.max_runs - started_);
        std::vector<backend::FlowRun> claimed;
        try {
          claimed = backend_.claim_flow_runs(id_, options_.labels, want);
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
      std::vector<std::string> ids = launcher_.running();
      if (!ids.empty()) backend_.heartbeat_flow_runs(ids);
      for (const std::string& lost : backend_.mark_lost_runs(options_.lost_timeout)) {
        say("Run " + lost + " is lost: its agent stopped heartbeating.");
      }
    } catch (const std::exception& e) {
      say(std::string("heartbeat failed (will retry): ") + e.what());
    }
  }

  void release(const std::string& id, const std::string& why) {
    try {
      backend_.set_flow_run_state(id, State::Scheduled, why);
    } catch (const std::exception&) {
      // The lost-run check releases it once the backend is back.
    }
  }

  void refuse(const backend::FlowRun& run, const std::string& why) {
    say("Run " + run.id + " of flow '" + run.flow_name + "' not started: " + why);
    try {
      backend_.add_logs({{run.id, "", "ERROR", why, backend::Clock::now(), 0}});
      backend_.set_flow_run_state(run.id, State::Failed, why);
    } catch (const std::exception& e) {
      say("could not fail run " + run.id + ": " + e.what());
    }
  }

  void start(const backend::FlowRun& run) {
    ++started_;
    std::optional<backend::FlowVersion> version;
    try {
      version = backend_.get_flow_version_by_id(run.flow_version_id);
    } catch (const std::exception& e) {
      // Without its version (storage, run config) the run might start in the wrong place:
      // it goes back to the queue instead.
      say("could not read the flow version of run " + run.id + " (released): " + e.what());
      release(run.id, std::string("The agent could not read the run's flow version; released: ") +
                          e.what());
      return;
    }
    if (!version) {
      refuse(run, "The run's flow version " + std::to_string(run.flow_version_id) +
                      " does not exist; register the flow again.");
      return;
    }
    std::string why = launcher_.refusal(run, *version);
    if (!why.empty()) {
      refuse(run, why);
      return;
    }
    try {
      launcher_.start(run, *version);
    } catch (const std::exception& e) {
      say("could not start run " + run.id + " (released): " + e.what());
      release(run.id, std::string("The agent could not start this run; released: ") + e.what());
      return;
    }
    try {
      backend_.heartbeat_flow_runs({run.id});
    } catch (const std::exception& e) {
      say("heartbeat of run " + run.id + " failed (the next beat retries): " + e.what());
    }
    say("Started run " + run.id + " of flow '" + run.flow_name + "'");
  }

  void reap() {
    for (const FinishedRun& done : launcher_.reap()) {
      try {
        std::optional<backend::FlowRun> run = backend_.get_flow_run(done.run_id);
        if (run && !is_final(run->state)) {
          backend_.set_flow_run_state(done.run_id, State::Failed, done.unreported);
          run = backend_.get_flow_run(done.run_id);
        }
        say("Run " + done.run_id + " finished: " + (run ? to_string(run->state) : "unknown"));
      } catch (const std::exception& e) {
        say("could not check run " + done.run_id + ": " + e.what());
      }
    }
  }

  void shutdown() {
    if (launcher_.running().empty()) return;
    say("Stopping: waiting up to " + std::to_string(options_.grace_period.count() / 1000) +
        " s for " + std::to_string(launcher_.running().size()) + " running flow(s).");
    auto deadline = SteadyClock::now() + options_.grace_period;
    while (!launcher_.running().empty() && SteadyClock::now() < deadline) {
      reap();
      beat(false);
      if (launcher_.running().empty()) break;
      pollfd fd{signal_pipe[0], POLLIN, 0};
      ::poll(&fd, 1, 100);
      drain_signal_pipe();
    }
    for (const std::string& id : launcher_.stop_all()) {
      release(id, "Released by agent " + id_ + " when it stopped; the run will start again.");
      say("Released run " + id);
    }
    reap();
  }

  backend::Backend& backend_;
  AgentLoopOptions options_;
  RunLauncher& launcher_;
  std::string id_;
  std::string name_;
  int started_ = 0;
  SteadyClock::time_point last_beat_{};
};

}  // namespace

int run_agent_loop(backend::Backend& backend, AgentLoopOptions options, RunLauncher& launcher) {
  return Agent(backend, std::move(options), launcher).run();
}

void wake_agent_loop() noexcept {
  if (signal_pipe[1] < 0) return;
  char c = 0;
  [[maybe_unused]] ssize_t n = ::write(signal_pipe[1], &c, 1);
}

}  // namespace ferry::agent
