// ferry flows ls: the registered flows (latest version of each).
#include <cstdio>
#include <iostream>

#include "backend/backend.hpp"
#include "cli/commands.hpp"

namespace ferry::cli {

namespace {

// The run config column: its type, and for Docker the image, the first thing to know about
// where such a run goes. Read from the JSON as stored, so a version written by a newer ferry
// with a type this one does not know still lists.
std::string run_config_summary(const Value& run_config) {
  if (!run_config.is_object()) return "Universal";
  auto found = run_config.find("type");
  std::string type =
      found != run_config.end() && found->is_string() ? found->get<std::string>() : "Universal";
  auto image = run_config.find("image");
  if (type == "Docker" && image != run_config.end() && image->is_string() &&
      !image->get<std::string>().empty()) {
    return type + "(" + image->get<std::string>() + ")";
  }
  return type;
}

}  // namespace

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
                       {"storage_descriptor", f.storage},
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
                  run_config_summary(f.run_config).c_str(), join(f.labels).c_str());
    }
  });
}

}  // namespace ferry::cli
