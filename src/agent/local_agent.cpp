#include "agent/local_agent.hpp"

#include <set>

#include "agent/agent_loop.hpp"
#include "agent/process_launcher.hpp"
#include "storage/hostname.hpp"

namespace ferry::agent {

int run_local_agent(backend::Backend& backend, LocalAgentOptions options) {
  AgentLoopOptions loop;
  std::set<std::string> labels(options.labels.begin(), options.labels.end());
  if (options.hostname_label) labels.insert(storage::local_hostname());
  loop.labels.assign(labels.begin(), labels.end());
  loop.max_runs = options.max_runs;
  loop.concurrency = options.concurrency;
  loop.poll_interval = options.poll_interval;
  loop.heartbeat_interval = options.heartbeat_interval;
  loop.lost_timeout = options.lost_timeout;
  loop.grace_period = options.grace_period;
  loop.verbose = options.verbose;
  ProcessLauncher launcher(options.executable);
  return run_agent_loop(backend, loop, launcher);
}

}  // namespace ferry::agent
