// How the Docker agent runs one claimed flow run: in a container of the run's image, running
// `ferry execute flow-run ID` against the same backend (FERRY_API and FERRY_API_KEY in its
// environment), its log lines streamed to the agent's, the container removed afterwards.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_loop.hpp"
#include "agent/run_launcher.hpp"
#include "ferry/codec.hpp"

namespace ferry::agent {

struct DockerAgentOptions {
  std::string base_url;                     // Docker engine; default DOCKER_HOST, else the socket
  std::string default_image;                // when neither storage nor run config names one
  std::vector<std::string> volumes;         // HOST:CONTAINER[:ro], for every run
  std::string network;                      // container network mode ("host", a network name)
  std::string registry_credentials_secret;  // for pulls; default the docker config file
  std::string api_url;                      // what containers use to reach the backend
  std::string api_key;                      // passed to containers in their environment only
  std::string api_ca_file;
  bool verbose = true;
};

// The image a run executes in, as the reference chooses it: Docker storage's image (pinned to
// its digest when the registration recorded one) > the run config's image > the agent's
// default > the ferry runtime image of this ferry version.
std::string choose_image(const Value& storage, const Value& run_config,
                         const std::string& agent_default);

class DockerLauncher : public RunLauncher {
 public:
  explicit DockerLauncher(DockerAgentOptions options);
  ~DockerLauncher() override;

  std::string kind() const override { return "docker"; }
  std::string refusal(const backend::FlowRun& run, const backend::FlowVersion& version) override;
  void start(const backend::FlowRun& run, const backend::FlowVersion& version) override;
  std::vector<FinishedRun> reap() override;
  std::vector<std::string> running() const override;
  std::vector<std::string> stop_all() override;

 private:
  struct Job;
  void run_job(std::shared_ptr<Job> job);

  DockerAgentOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Job>> jobs_;
};

// `ferry agent docker start`: the claim loop with a DockerLauncher.
int run_docker_agent(backend::Backend& backend, AgentLoopOptions loop, DockerAgentOptions options);

}  // namespace ferry::agent
