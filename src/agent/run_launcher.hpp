// What an agent's claim loop (agent_loop.hpp) hands claimed runs to: a subprocess per run
// (the local agent) or a container per run (the Docker agent). The loop claims, heartbeats,
// reaps and releases; a launcher only decides whether it can run a run, starts it, and says
// when it has ended.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace ferry::agent {

struct FinishedRun {
  std::string run_id;
  // Recorded (as the run's Failed message) only when the run ended without reporting a
  // final state itself: "The flow run process exited with code 3 without ...".
  std::string unreported;
};

class RunLauncher {
 public:
  virtual ~RunLauncher() = default;
  // "local", "docker": the agent's name is "<kind>-agent@<host>".
  virtual std::string kind() const = 0;
  // "" when this launcher can run the run, else why not (the run is failed with it).
  virtual std::string refusal(const backend::FlowRun& run, const backend::FlowVersion& version) = 0;
  // Starts the run; throws when it cannot (the run is released to be tried again).
  virtual void start(const backend::FlowRun& run, const backend::FlowVersion& version) = 0;
  // Runs that ended since the last call.
  virtual std::vector<FinishedRun> reap() = 0;
  // The ids of the runs still going (for heartbeats).
  virtual std::vector<std::string> running() const = 0;
  // Stops every run still going (the agent is shutting down), waits for them, and returns
  // their ids (the loop releases them).
  virtual std::vector<std::string> stop_all() = 0;
};

}  // namespace ferry::agent
