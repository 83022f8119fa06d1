// ferry flows ls: the registered flows (latest version of each).
#include <cstdio>
#include <iostream>

#include "backend/backend.hpp"
#include "cli/commands.hpp"

namespace ferry::cli {

void add_flows_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("flows", "Registered flows");
  cmd->require_subcommand(1);
  auto project = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* ls = cmd->add_subcommand("ls", "List the latest version of each registered flow");
  ls->add_option("--project", *project, "Only this project");
  ls->add_flag("--json", *json, "Print as JSON");
  ls->callback([project, json] {
    auto backend = backend::open_default_backend();
    std::vector<backend::FlowVersion> flows = backend->list_flows(*project);
    if (*json) {
      Value out = Value::array();
      for (const auto& f : flows) {
        out.push_back({{"project", f.project},
                       {"flow", f.flow_name},
                       {"version", f.version},
                       {"labels", f.labels},
                       {"storage", f.storage.value("type", "")},
                       {"run_config", f.run_config},
                       {"parameters", f.graph.value("parameters", Value::array())},
                       {"tasks", f.graph.value("tasks", Value::array()).size()},
                       {"registered", format_time(f.created)}});
      }
      std::cout << out.dump(2) << std::endl;
      return;
    }
    if (flows.empty()) {
      std::printf("No flows registered. Register one with: ferry register --path FILE\n");
      return;
    }
    std::printf("%-12s %-24s %7s %-8s %-10s %s\n", "PROJECT", "FLOW", "VERSION", "STORAGE",
                "RUN CONFIG", "LABELS");
    for (const auto& f : flows) {
      std::printf("%-12s %-24s %7d %-8s %-10s %s\n", f.project.c_str(), f.flow_name.c_str(),
                  f.version, f.storage.value("type", "").c_str(),
                  f.run_config.value("type", "").c_str(), join(f.labels).c_str());
    }
  });
}

}  // namespace ferry::cli
