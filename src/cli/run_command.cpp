// ferry run: runs a flow in this process, from a source file or a frozen package.
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/params.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::cli {

namespace {

struct RunArgs {
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

void run(const RunArgs& args) {
  if (args.path.empty() == args.package.empty()) {
    throw ValueError(
        "Give exactly one of --path FILE (a flow source) or --package PKG (a frozen "
        "flow).");
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
  RunResult result = flow.run(params, options);
  if (args.json) {
    std::cout << run_to_json(result).dump(2) << std::endl;
  } else {
    print_run(result);
  }
  std::fflush(stdout);
  if (!result.ok()) throw CLI::RuntimeError(kExitFlowFailed);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a flow in this process and print its result");
  cmd->add_option("--path", args->path, "Flow source file (compiled and cached)");
  cmd->add_option("--package", args->package, "Frozen flow package (from `ferry flow freeze`)");
  cmd->add_option("--flow", args->flow, "Flow name (default: the first flow in the file)");
  cmd->add_option("--param", args->params, "Parameter as name=value (repeatable)");
  cmd->add_option("--threads", args->threads, "Worker threads (default: one per core)");
  cmd->add_flag("--json", args->json, "Print the run as JSON");
  cmd->callback([args] { run(*args); });
}

}  // namespace ferry::cli
