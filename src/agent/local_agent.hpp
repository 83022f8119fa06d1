// The local agent: claims runs whose labels it covers and runs each in a subprocess
// (`ferry execute flow-run ID`), heartbeating them and detecting lost runs.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace ferry::agent {

struct LocalAgentOptions {
  std::vector<std::string> labels;
  bool hostname_label = true;
  int max_runs = 0;     // stop after starting this many runs (0: no limit)
  int concurrency = 2;  // runs at once
  std::chrono::milliseconds poll_interval{1000};  // new runs also wake the agent at once
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds lost_timeout{30000};
  std::chrono::milliseconds grace_period{30000};  // on SIGTERM: how long running flows may finish
  std::string executable;  // the ferry binary for subprocesses (default: this program)
  bool verbose = true;     // one line per run started and finished, on stderr
};

// Runs until SIGTERM/SIGINT (then stops claiming, lets running flows finish within the
// grace period, releases the rest, and returns 0) or until max_runs have finished.
int run_local_agent(backend::Backend& backend, LocalAgentOptions options);

}  // namespace ferry::agent
