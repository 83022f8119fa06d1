// ferry agent local start | docker start: claim and run flow runs, in subprocesses on this
// machine or in containers.
#include "agent/docker_launcher.hpp"
#include "agent/local_agent.hpp"
#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "ferry/error.hpp"

namespace ferry::cli {

namespace {

std::chrono::milliseconds seconds_setting(const char* key, double fallback) {
  return std::chrono::milliseconds(
      static_cast<long long>(config::get_number("agent", key, fallback) * 1000));
}

// The options every agent has: labels, how many runs and how often it looks for work.
struct LoopArgs {
  std::vector<std::string> labels;
  int max_runs = 0;
  double poll_interval = -1;
  int concurrency = 0;
};

void add_loop_options(CLI::App& start, LoopArgs& args) {
  start.add_option("-l,--label", args.labels, "Label of this agent (repeatable)");
  start.add_option("--max-runs", args.max_runs, "Stop after this many runs have finished");
  start.add_option("--poll-interval", args.poll_interval,
                   "Seconds between checks for work (new runs wake the agent at once)");
  start.add_option("--concurrency", args.concurrency, "Flow runs at once (default: 2)");
}

// Flags first, then the [agent] settings of the config file, then the defaults.
agent::AgentLoopOptions loop_options(const LoopArgs& args) {
  agent::AgentLoopOptions o;
  o.labels = args.labels;
  o.max_runs = args.max_runs;
  o.concurrency = args.concurrency > 0
                      ? args.concurrency
                      : static_cast<int>(config::get_number("agent", "concurrency", 2));
  o.poll_interval =
      args.poll_interval >= 0
          ? std::chrono::milliseconds(static_cast<long long>(args.poll_interval * 1000))
          : seconds_setting("poll_interval", 1);
  o.heartbeat_interval = seconds_setting("heartbeat_interval", 5);
  o.lost_timeout = seconds_setting("lost_timeout", 30);
  o.grace_period = seconds_setting("grace_period", 30);
  return o;
}

void add_local_agent(CLI::App& agent_cmd) {
  CLI::App* local = agent_cmd.add_subcommand("local", "The local agent: one subprocess per run");
  local->require_subcommand(1);
  CLI::App* start = local->add_subcommand("start", "Start a local agent in the foreground");
  struct Args {
    LoopArgs loop;
    bool no_hostname_label = false;
  };
  auto args = std::make_shared<Args>();
  add_loop_options(*start, args->loop);
  start->add_flag("--no-hostname-label", args->no_hostname_label,
                  "Do not add this machine's hostname to the agent's labels");
  start->callback([args] {
    agent::AgentLoopOptions loop = loop_options(args->loop);
    agent::LocalAgentOptions o;
    o.labels = loop.labels;
    o.hostname_label = !args->no_hostname_label;
    o.max_runs = loop.max_runs;
    o.concurrency = loop.concurrency;
    o.poll_interval = loop.poll_interval;
    o.heartbeat_interval = loop.heartbeat_interval;
    o.lost_timeout = loop.lost_timeout;
    o.grace_period = loop.grace_period;
    auto backend = backend::open_default_backend();
    int code = agent::run_local_agent(*backend, o);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

void add_docker_agent(CLI::App& agent_cmd) {
  CLI::App* docker = agent_cmd.add_subcommand(
      "docker", "The Docker agent: one container per run, through the Docker Engine API");
  docker->require_subcommand(1);
  CLI::App* start = docker->add_subcommand("start", "Start a Docker agent in the foreground");
  struct Args {
    LoopArgs loop;
    agent::DockerAgentOptions docker;
  };
  auto args = std::make_shared<Args>();
  add_loop_options(*start, args->loop);
  agent::DockerAgentOptions& d = args->docker;
  start->add_option("-v,--volume", d.volumes,
                    "Mount HOST:CONTAINER[:ro] into every run's container (repeatable)");
  start->add_option("--network", d.network, "Network mode of the containers (e.g. host)");
  start->add_option("--base-url", d.base_url,
                    "Docker engine (default: DOCKER_HOST, else unix:///var/run/docker.sock)");
  start->add_option("--image", d.default_image,
                    "Image for runs whose storage and run config name none (default: the "
                    "ferry runtime image)");
  start->add_option("--api-url", d.api_url,
                    "The server's URL as containers reach it (default: FERRY_API)");
  start->add_option("--registry-credentials-secret", d.registry_credentials_secret,
                    "Secret holding {\"username\", \"password\"} for pulls (default: the "
                    "docker config file)");
  start->callback([args] {
    std::optional<backend::ApiSettings> api = backend::configured_api();
    if (!api) {
      throw ValueError(
          "The Docker agent needs a ferry server: its containers reach the backend only "
          "through the server's API. Start one (`ferry server start`), then set FERRY_API and "
          "FERRY_API_KEY for the agent.");
    }
    agent::DockerAgentOptions o = args->docker;
    if (o.api_url.empty()) o.api_url = api->url;
    o.api_key = api->api_key;
    o.api_ca_file = api->ca_file;
    auto backend = backend::open_default_backend();
    int code = agent::run_docker_agent(*backend, loop_options(args->loop), o);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace

void add_agent_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("agent", "Run agents that execute flow runs");
  cmd->require_subcommand(1);
  add_local_agent(*cmd);
  add_docker_agent(*cmd);
}

}  // namespace ferry::cli
