// ferry execute flow-run ID: what an agent starts for each run.
#include "agent/flow_run_executor.hpp"
#include "backend/backend.hpp"
#include "cli/commands.hpp"

namespace ferry::cli {

void add_execute_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("execute", "Execute work claimed by an agent");
  cmd->require_subcommand(1);
  auto run_id = std::make_shared<std::string>();
  CLI::App* fr = cmd->add_subcommand(
      "flow-run", "Fetch a flow run's flow from its storage, run it, and report to the backend");
  fr->add_option("id", *run_id, "Flow run id")->required();
  fr->callback([run_id] {
    auto backend = backend::open_default_backend();
    int code = agent::execute_flow_run(*backend, *run_id);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace ferry::cli
