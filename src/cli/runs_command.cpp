// ferry runs ls | show ID | logs ID.
#include <cstdio>
#include <iostream>

#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "ferry/error.hpp"

namespace ferry::cli {

namespace {

Value history_json(const std::vector<backend::StateChange>& history) {
  Value out = Value::array();
  for (const auto& c : history) {
    out.push_back(
        {{"state", to_string(c.state)}, {"message", c.message}, {"at", format_time(c.at)}});
  }
  return out;
}

Value run_json(const backend::FlowRun& r) {
  return {{"id", r.id},
          {"project", r.project},
          {"flow", r.flow_name},
          {"version", r.flow_version},
          {"state", to_string(r.state)},
          {"message", r.message},
          {"parameters", r.parameters},
          {"labels", r.labels},
          {"agent", r.agent_id},
          {"result", r.result},
          {"pinned", r.pinned},
          {"created", format_time(r.created)},
          {"updated", format_time(r.updated)},
          {"history", history_json(r.history)}};
}

backend::FlowRun must_get(backend::Backend& b, const std::string& id) {
  b.mark_lost_runs(lost_timeout());
  std::optional<backend::FlowRun> run = b.get_flow_run(id);
  if (!run) throw ValueError("Flow run '" + id + "' does not exist. List runs with: ferry runs ls");
  return *run;
}

}  // namespace

void add_runs_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("runs", "Flow runs: list, show, logs");
  cmd->require_subcommand(1);

  struct LsArgs {
    std::string project, flow, state;
    int limit = 50;
    bool json = false;
  };
  auto ls_args = std::make_shared<LsArgs>();
  CLI::App* ls = cmd->add_subcommand("ls", "List flow runs, newest first");
  ls->add_option("--project", ls_args->project, "Only this project");
  ls->add_option("--flow", ls_args->flow, "Only this flow");
  ls->add_option("--state", ls_args->state, "Only runs in this state (e.g. Running, Lost)");
  ls->add_option("--limit", ls_args->limit, "At most this many (default 50)");
  ls->add_flag("--json", ls_args->json, "Print as JSON");
  ls->callback([ls_args] {
    auto backend = backend::open_default_backend();
    backend->mark_lost_runs(lost_timeout());
    backend::RunFilter filter{ls_args->project, ls_args->flow, std::nullopt, ls_args->limit};
    if (!ls_args->state.empty()) {
      filter.state = state_from_string(ls_args->state);
      if (!filter.state) throw ValueError("Unknown state '" + ls_args->state + "'.");
    }
    std::vector<backend::FlowRun> runs = backend->list_flow_runs(filter);
    if (ls_args->json) {
      Value out = Value::array();
      for (const auto& r : runs) out.push_back(run_json(r));
      print_json(out);
      return;
    }
    std::printf("%-32s %-20s %4s %-13s %-20s %s\n", "RUN", "FLOW", "VER", "STATE", "CREATED",
                "MESSAGE");
    for (const auto& r : runs) {
      std::printf("%-32s %-20s %4d %-13s %-20s %s\n", r.id.c_str(), r.flow_name.c_str(),
                  r.flow_version, to_string(r.state), format_time(r.created).c_str(),
                  r.message.c_str());
    }
  });

  auto show_id = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  CLI::App* show = cmd->add_subcommand("show", "Show a flow run: state history and task runs");
  show->add_option("id", *show_id, "Flow run id")->required();
  show->add_flag("--json", *show_json, "Print as JSON");
  show->callback([show_id, show_json] {
    auto backend = backend::open_default_backend();
    backend::FlowRun r = must_get(*backend, *show_id);
    std::vector<backend::TaskRun> tasks = backend->get_task_runs(r.id);
    if (*show_json) {
      Value out = run_json(r);
      out["tasks"] = Value::array();
      for (const auto& t : tasks) {
        out["tasks"].push_back({{"name", t.task_name},
                                {"state", to_string(t.state)},
                                {"message", t.message},
                                {"attempts", t.attempts},
                                {"result_location", t.result_location},
                                {"history", history_json(t.history)}});
      }
      print_json(out);
      return;
    }
    std::printf("Run %s of flow '%s' (project %s, version %d)\nState: %s%s%s\n", r.id.c_str(),
                r.flow_name.c_str(), r.project.c_str(), r.flow_version, to_string(r.state),
                r.message.empty() ? "" : " - ", r.message.c_str());
    std::printf("Parameters: %s\nLabels: %s\n", r.parameters.dump().c_str(),
                r.labels.empty() ? "none" : join(r.labels).c_str());
    if (r.state == State::Success) std::printf("Result: %s\n", r.result.dump().c_str());
    std::printf("History:\n");
    for (const auto& c : r.history) {
      std::printf("  %s %s%s%s\n", format_time(c.at).c_str(), to_string(c.state),
                  c.message.empty() ? "" : ": ", c.message.c_str());
    }
    if (!tasks.empty()) std::printf("Tasks:\n");
    for (const auto& t : tasks) {
      std::printf("  %s: %s%s%s\n", t.task_name.c_str(), to_string(t.state),
                  t.message.empty() ? "" : " - ", t.message.c_str());
    }
  });

  auto logs_id = std::make_shared<std::string>();
  auto logs_json = std::make_shared<bool>(false);
  CLI::App* logs = cmd->add_subcommand("logs", "Print a flow run's log lines");
  logs->add_option("id", *logs_id, "Flow run id")->required();
  logs->add_flag("--json", *logs_json, "Print as JSON");
  logs->callback([logs_id, logs_json] {
    auto backend = backend::open_default_backend();
    must_get(*backend, *logs_id);
    std::vector<backend::LogLine> lines = backend->get_logs(*logs_id);
    if (*logs_json) {
      Value out = Value::array();
      for (const auto& l : lines) {
        out.push_back({{"at", format_time(l.at)},
                       {"level", l.level},
                       {"task", l.task_name},
                       {"message", l.message}});
      }
      print_json(out);
      return;
    }
    for (const auto& l : lines) {
      std::printf("%s %-7s %s| %s\n", format_time(l.at).c_str(), l.level.c_str(),
                  l.task_name.empty() ? "" : (l.task_name + " ").c_str(), l.message.c_str());
    }
  });
}

}  // namespace ferry::cli
