// The ferry command's subcommands: each adds itself to the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace ferry::cli {

// Exit codes: 0 success; 1 the flow ran and did not succeed; 2 bad input or an error.
inline constexpr int kExitFlowFailed = 1;
inline constexpr int kExitError = 2;

void add_run_command(CLI::App& app);
void add_flow_command(CLI::App& app);

// Prints "error: <message>" on stderr.
void print_error(const std::string& message);

// Whether stderr is a terminal (long operations show progress only then).
bool stderr_is_terminal();

}  // namespace ferry::cli
