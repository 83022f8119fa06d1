// ferry register: store a source's flows and record them in the backend.
#include <cstdio>
#include <iostream>

#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "registry/registrar.hpp"

namespace ferry::cli {

namespace {

using Outcome = registry::RegisterLine::Outcome;

void run(const registry::RegisterOptions& options, bool json) {
  auto backend = backend::open_default_backend();
  std::vector<registry::RegisterLine> lines = registry::register_flows(*backend, options);
  bool failed = false;
  Value out = Value::array();
  for (const auto& l : lines) {
    failed |= l.outcome == Outcome::Error;
    if (json) {
      out.push_back({{"flow", l.flow},
                     {"outcome", l.outcome == Outcome::Registered ? "registered"
                                 : l.outcome == Outcome::Skipped  ? "skipped"
                                                                  : "error"},
                     {"version", l.version},
                     {"storage", l.storage_type},
                     {"frozen", l.frozen},
                     {"labels", l.labels},
                     {"message", l.message}});
      continue;
    }
    switch (l.outcome) {
      case Outcome::Registered:
        std::printf("Registered flow '%s' version %d (storage %s, %s; labels: %s)\n",
                    l.flow.c_str(), l.version, l.storage_type.c_str(),
                    l.frozen                     ? "frozen"
                    : l.storage_type == "Module" ? "installed module"
                                                 : "script",
                    l.labels.empty() ? "none" : join(l.labels).c_str());
        break;
      case Outcome::Skipped:
        std::printf("Skipped flow '%s' (unchanged; version %d)\n", l.flow.c_str(), l.version);
        break;
      case Outcome::Error:
        std::printf("Error registering flow '%s': %s\n", l.flow.c_str(), l.message.c_str());
        break;
    }
  }
  if (json) std::cout << out.dump(2) << std::endl;
  std::fflush(stdout);
  if (failed) throw CLI::RuntimeError(kExitFlowFailed);
}

}  // namespace

void add_register_command(CLI::App& app) {
  auto options = std::make_shared<registry::RegisterOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "register", "Store a flow source's flows and record a new version of each in the backend");
  cmd->add_option("--path", options->path, "Flow source file")->required();
  cmd->add_option("--project", options->project, "Project (default: default)");
  cmd->add_option("-l,--label", options->labels, "Label added to every flow (repeatable)");
  cmd->add_option("-n,--name", options->names, "Register only this flow (repeatable)");
  cmd->add_flag("--script", options->script,
                "Flows without storage use Local storage in script form (the source is "
                "compiled where it runs) instead of a frozen package");
  cmd->add_flag("--json", *json, "Print the outcome as JSON");
  cmd->callback([options, json] {
    options->progress = stderr_is_terminal();
    run(*options, *json);
  });
}

}  // namespace ferry::cli
