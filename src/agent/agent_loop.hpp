// The claim loop every agent runs: claim runs whose labels the agent covers, hand them to a
// launcher, heartbeat them, find lost runs, record runs that ended without a final state,
// and on SIGTERM/SIGINT let running flows finish within a grace period, then release the rest.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/run_launcher.hpp"
#include "backend/backend.hpp"

namespace ferry::agent {

struct AgentLoopOptions {
  std::vector<std::string> labels;  // exactly these (the caller adds any hostname label)
  int max_runs = 0;                 // stop after starting this many runs (0: no limit)
  int concurrency = 2;              // runs at once
  std::chrono::milliseconds poll_interval{1000};  // new runs also wake the agent at once
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds lost_timeout{30000};
  std::chrono::milliseconds grace_period{30000};  // on SIGTERM: how long running flows may finish
  bool verbose = true;  // one line per run started and finished, on stderr
};

// Runs until SIGTERM/SIGINT or until max_runs have finished; returns 0.
int run_agent_loop(backend::Backend& backend, AgentLoopOptions options, RunLauncher& launcher);

// Wakes the loop at once (from any thread), e.g. when a launcher's run has ended.
void wake_agent_loop() noexcept;

}  // namespace ferry::agent
