// The local agent's launcher: each run in a subprocess (`ferry execute flow-run ID`) on this
// machine, with the environment and working folder of the flow's Local run config. Flows in
// Docker storage or with a Docker run config are refused: they belong to the Docker agent.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "agent/run_launcher.hpp"

namespace ferry::agent {

class ProcessLauncher : public RunLauncher {
 public:
  // executable: the ferry binary for subprocesses ("" = this program).
  explicit ProcessLauncher(std::string executable);

  std::string kind() const override { return "local"; }
  std::string refusal(const backend::FlowRun& run, const backend::FlowVersion& version) override;
  void start(const backend::FlowRun& run, const backend::FlowVersion& version) override;
  std::vector<FinishedRun> reap() override;
  std::vector<std::string> running() const override;
  std::vector<std::string> stop_all() override;

 private:
  std::string executable_;
  std::map<pid_t, std::string> running_;
};

}  // namespace ferry::agent
