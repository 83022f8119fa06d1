// ferry flow freeze | inspect: the frozen form of a flow.
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "core/files.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

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
}

}  // namespace ferry::cli
