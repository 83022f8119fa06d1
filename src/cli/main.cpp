// The ferry command.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "ferry/error.hpp"
#include "ferry/version.hpp"

namespace ferry::cli {

void print_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
}

bool stderr_is_terminal() { return ::isatty(2) == 1; }

}  // namespace ferry::cli

int main(int argc, char** argv) {
  CLI::App app{"ferry: C++ workflow orchestration. Flows live in storage; ferry runs them.",
               "ferry"};
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  app.require_subcommand(1);
  ferry::cli::add_run_command(app);
  ferry::cli::add_flow_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command's own exit status, already reported
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : ferry::cli::kExitError;
  } catch (const ferry::Error& e) {
    ferry::cli::print_error(e.what());
    return ferry::cli::kExitError;
  } catch (const std::exception& e) {
    ferry::cli::print_error(e.what());
    return ferry::cli::kExitError;
  }
  return 0;
}
