// ferry run: creates a run of a registered flow for an agent, or runs a flow source or a
// frozen package in this process.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include "agent/secrets.hpp"
#include "agent/wake.hpp"
#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "cli/params.hpp"
#include "core/graph.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::cli {

namespace {

struct RunArgs {
  std::string name;  // a registered flow: create a run for an agent
  std::string project = "default";
  std::vector<std::string> labels;
  bool watch = false;
  std::string path;
  std::string package;
  std::string flow;
  std::vector<std::string> params;
  std::size_t threads = 0;
  bool json = false;
};

std::string show_value(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Value run_to_json(const RunResult& r) {
  Value tasks = Value::array();
  for (const TaskRunResult& t : r.tasks) {
    tasks.push_back({{"name", t.name},
                     {"state", to_string(t.state)},
                     {"message", t.message},
                     {"attempts", t.attempts},
                     {"result", t.result}});
  }
  return {{"flow", r.flow_name},  {"run_id", r.run_id}, {"state", to_string(r.state)},
          {"message", r.message}, {"result", r.result}, {"tasks", std::move(tasks)}};
}

void print_run(const RunResult& r) {
  std::printf("Flow '%s' (run %s): %s\n", r.flow_name.c_str(), r.run_id.c_str(),
              to_string(r.state));
  for (const TaskRunResult& t : r.tasks) {
    std::string line = "  " + t.name + ": " + to_string(t.state);
    if (t.attempts > 1) line += " after " + std::to_string(t.attempts) + " attempts";
    if (!t.message.empty()) line += " (" + t.message + ")";
    std::printf("%s\n", line.c_str());
  }
  if (r.ok()) {
    std::printf("Result: %s\n", show_value(r.result).c_str());
  } else {
    std::printf("%s\n", r.message.c_str());
  }
}

// Prints state changes and log lines of a run until it is final; returns its final state.
State watch_run(backend::Backend& backend, const std::string& run_id) {
  std::size_t shown_states = 0;
  std::int64_t last_seq = 0;
  int polls = 0;
  for (;;) {
    std::optional<backend::FlowRun> run = backend.get_flow_run(run_id);
    if (!run) throw ValueError("Flow run '" + run_id + "' disappeared.");
    // States and log lines of this poll, in the order they happened.
    std::vector<std::pair<backend::Clock::time_point, std::string>> events;
    for (const backend::LogLine& l : backend.get_logs(run_id, last_seq)) {
      last_seq = l.seq;
      events.emplace_back(l.at, format_time(l.at) + " " + l.level + " " +
                                    (l.task_name.empty() ? "" : l.task_name + " ") + "| " +
                                    l.message);
    }
    for (; shown_states < run->history.size(); ++shown_states) {
      const backend::StateChange& c = run->history[shown_states];
      events.emplace_back(c.at, format_time(c.at) + " " + to_string(c.state) +
                                    (c.message.empty() ? "" : ": " + c.message));
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& e : events) std::printf("%s\n", e.second.c_str());
    std::fflush(stdout);
    if (is_final(run->state)) {
      if (run->state == State::Success)
        std::printf("Result: %s\n", show_value(run->result).c_str());
      return run->state;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // Lost-run detection takes the write lock: once a second is plenty.
    if (++polls % 20 == 0) backend.mark_lost_runs(lost_timeout());
  }
}

void create_run(const RunArgs& args) {
  auto backend = backend::open_default_backend();
  std::optional<backend::FlowVersion> version = backend->get_flow_version(args.project, args.name);
  if (!version) {
    throw ValueError("No flow '" + args.name + "' is registered in project '" + args.project +
                     "'. Register it first: ferry register --path FILE --project " + args.project);
  }
  auto graph = std::make_shared<detail::Graph>(detail::graph_from_json(version->graph));
  Flow flow(graph);
  Value params = detail::resolve_parameters(*graph, parse_params(flow, args.params));
  std::set<std::string> labels(version->labels.begin(), version->labels.end());
  labels.insert(args.labels.begin(), args.labels.end());
  backend::FlowRun run =
      backend->create_flow_run(version->id, params, {labels.begin(), labels.end()});
  agent::notify_agents();
  if (args.json && !args.watch) {
    print_json(Value{{"run_id", run.id},
                     {"flow", args.name},
                     {"version", version->version},
                     {"labels", run.labels}});
    return;
  }
  std::printf("Created flow run %s for flow '%s' version %d (labels: %s)\n", run.id.c_str(),
              args.name.c_str(), version->version,
              run.labels.empty() ? "none" : join(run.labels).c_str());
  std::fflush(stdout);
  if (args.watch && watch_run(*backend, run.id) != State::Success) {
    throw CLI::RuntimeError(kExitFlowFailed);
  }
}

void run(const RunArgs& args) {
  if (!args.name.empty()) {
    if (!args.path.empty() || !args.package.empty()) {
      throw ValueError(
          "Give a registered flow's NAME, or --path/--package to run in this process, "
          "not both.");
    }
    create_run(args);
    return;
  }
  if (args.path.empty() == args.package.empty()) {
    throw ValueError(
        "Give a registered flow's NAME, or exactly one of --path FILE (a flow source) "
        "or --package PKG (a frozen flow).");
  }
  Flow flow = [&] {
    if (!args.package.empty()) {
      Flow f = thaw_flow(std::filesystem::path(args.package));
      if (!args.flow.empty() && args.flow != f.name()) {
        throw ValueError("Package '" + args.package + "' holds flow '" + f.name() + "', not '" +
                         args.flow + "'.");
      }
      return f;
    }
    CompileOptions options;
    options.progress = stderr_is_terminal();
    return load_flow_from_source(args.path, args.flow, options);
  }();
  Value params = parse_params(flow, args.params);
  RunOptions options;
  options.threads = args.threads;
  // As an agent does: the storage's secrets resolved (and registered for masking) first.
  if (flow.storage) options.secrets = agent::resolve_secrets(flow.storage.secrets());
  RunResult result = flow.run(params, options);
  if (args.json) {
    print_json(run_to_json(result));
  } else {
    print_run(result);
  }
  std::fflush(stdout);
  if (!result.ok()) throw CLI::RuntimeError(kExitFlowFailed);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Create a run of a registered flow for an agent, or run a flow source or package here");
  cmd->add_option("name", args->name, "Registered flow to run (through an agent)");
  cmd->add_option("--project", args->project, "Project of the registered flow (default: default)");
  cmd->add_option("-l,--label", args->labels, "Extra label of the run (repeatable)");
  cmd->add_flag("--watch", args->watch,
                "Follow the run's states and logs; exit 0 on Success, 1 otherwise");
  cmd->add_option("--path", args->path, "Flow source file to run here (compiled and cached)");
  cmd->add_option("--package", args->package, "Frozen flow package (from `ferry flow freeze`)");
  cmd->add_option("--flow", args->flow, "Flow name (default: the first flow in the file)");
  cmd->add_option("--param", args->params, "Parameter as name=value (repeatable)");
  cmd->add_option("--threads", args->threads, "Worker threads (default: one per core)");
  cmd->add_flag("--json", args->json, "Print the run as JSON");
  cmd->callback([args] { run(*args); });
}

}  // namespace ferry::cli
