// ferry agent local start: claims and runs flow runs on this machine.
#include "agent/local_agent.hpp"
#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"

namespace ferry::cli {

namespace {

std::chrono::milliseconds seconds_setting(const char* key, double fallback) {
  return std::chrono::milliseconds(
      static_cast<long long>(config::get_number("agent", key, fallback) * 1000));
}

}  // namespace

void add_agent_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("agent", "Run agents that execute flow runs");
  cmd->require_subcommand(1);
  CLI::App* local = cmd->add_subcommand("local", "The local agent: one subprocess per run");
  local->require_subcommand(1);
  CLI::App* start = local->add_subcommand("start", "Start a local agent in the foreground");

  struct Args {
    std::vector<std::string> labels;
    bool no_hostname_label = false;
    int max_runs = 0;
    double poll_interval = -1;
    int concurrency = 0;
  };
  auto args = std::make_shared<Args>();
  start->add_option("-l,--label", args->labels, "Label of this agent (repeatable)");
  start->add_flag("--no-hostname-label", args->no_hostname_label,
                  "Do not add this machine's hostname to the agent's labels");
  start->add_option("--max-runs", args->max_runs, "Stop after this many runs have finished");
  start->add_option("--poll-interval", args->poll_interval,
                    "Seconds between checks for work (new runs wake the agent at once)");
  start->add_option("--concurrency", args->concurrency, "Flow runs at once (default: 2)");
  start->callback([args] {
    agent::LocalAgentOptions o;
    o.labels = args->labels;
    o.hostname_label = !args->no_hostname_label;
    o.max_runs = args->max_runs;
    o.concurrency = args->concurrency > 0
                        ? args->concurrency
                        : static_cast<int>(config::get_number("agent", "concurrency", 2));
    o.poll_interval =
        args->poll_interval >= 0
            ? std::chrono::milliseconds(static_cast<long long>(args->poll_interval * 1000))
            : seconds_setting("poll_interval", 1);
    o.heartbeat_interval = seconds_setting("heartbeat_interval", 5);
    o.lost_timeout = seconds_setting("lost_timeout", 30);
    o.grace_period = seconds_setting("grace_period", 30);
    auto backend = backend::open_default_backend();
    int code = agent::run_local_agent(*backend, o);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace ferry::cli
