// ferry flow freeze | inspect: the frozen form of a flow.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli/commands.hpp"
#include "core/files.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"
#include "ferry/version.hpp"

namespace ferry::cli {

namespace {

struct FreezeArgs {
  std::string path;
  std::string flow;
  std::string output;
};

void freeze(const FreezeArgs& args) {
  CompileOptions options;
  options.progress = stderr_is_terminal();
  Flow flow = load_flow_from_source(args.path, args.flow, options);
  freeze_flow(flow, args.output);
  PackageInfo info = inspect_package(detail::read_file(args.output), args.output);
  std::printf("Froze flow '%s' into %s (sha256 %s)\n", flow.name().c_str(), args.output.c_str(),
              info.payload_sha256.c_str());
}

void inspect(const std::string& package, bool json) {
  PackageInfo info = inspect_package(detail::read_file(package), package);
  Value out = {{"flow", info.flow_name},
               {"format", info.format},
               {"payload_sha256", info.payload_sha256},
               {"module_size", info.module_size},
               {"versions", info.versions}};
  if (json) {
    std::cout << out.dump(2) << std::endl;
    return;
  }
  std::printf("flow: %s\nformat: %d\npayload sha256: %s\nmodule size: %zu bytes\n",
              info.flow_name.c_str(), info.format, info.payload_sha256.c_str(), info.module_size);
  for (auto it = info.versions.begin(); it != info.versions.end(); ++it) {
    std::string v = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    std::printf("%s: %s\n", it.key().c_str(), v.c_str());
  }
}

// The health check a Docker storage's image runs at build time (`RUN ferry flow check ...`):
// every flow must load here, with this image's ferry and libraries, or the build fails.
void check(const std::vector<std::string>& locations, bool script) {
  std::printf("Beginning health checks...\n");
  std::printf("System Version check: OK (ferry %s)\n", FERRY_VERSION);
  for (const std::string& location : locations) {
    if (script) {
      CompileOptions options;
      options.progress = false;
      std::vector<Flow> flows = load_flows_from_source(location, options);
      if (flows.empty()) throw ValueError("No flows found in " + location + ".");
    } else {
      Flow flow = thaw_flow(std::filesystem::path(location));
      std::printf("Loaded flow '%s' from %s\n", flow.name().c_str(), location.c_str());
    }
  }
  std::printf(script ? "Flow import from script check: OK\n" : "Frozen flow load check: OK\n");
  std::printf("All health checks passed.\n");
}

}  // namespace

void add_flow_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("flow", "Work with flows: freeze a flow into a package");
  cmd->require_subcommand(1);

  auto freeze_args = std::make_shared<FreezeArgs>();
  CLI::App* fr = cmd->add_subcommand("freeze", "Compile a flow source and freeze one flow");
  fr->add_option("--path", freeze_args->path, "Flow source file")->required();
  fr->add_option("--flow", freeze_args->flow, "Flow name (default: the first flow in the file)");
  fr->add_option("-o,--output", freeze_args->output, "Package file to write")->required();
  fr->callback([freeze_args] { freeze(*freeze_args); });

  auto package = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* in = cmd->add_subcommand("inspect", "Verify a package and show its envelope");
  in->add_option("package", *package, "Package file")->required();
  in->add_flag("--json", *json, "Print as JSON");
  in->callback([package, json] { inspect(*package, *json); });

  auto locations = std::make_shared<std::vector<std::string>>();
  auto script = std::make_shared<bool>(false);
  CLI::App* ck = cmd->add_subcommand(
      "check", "Load every given flow package (or compile flow sources) as an agent would");
  ck->add_option("locations", *locations, "Package files, or flow sources with --script")
      ->required();
  ck->add_flag("--script", *script, "The locations are flow sources: compile and load them");
  ck->callback([locations, script] { check(*locations, *script); });
}

}  // namespace ferry::cli
