// The ferry command's subcommands: each adds itself to the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "ferry/codec.hpp"

namespace ferry::cli {

// Exit codes: 0 success; 1 the flow ran and did not succeed; 2 bad input or an error.
inline constexpr int kExitFlowFailed = 1;
inline constexpr int kExitError = 2;

void add_run_command(CLI::App& app);
void add_flow_command(CLI::App& app);
void add_register_command(CLI::App& app);
void add_execute_command(CLI::App& app);
void add_agent_command(CLI::App& app);
void add_flows_command(CLI::App& app);
void add_runs_command(CLI::App& app);
void add_secrets_command(CLI::App& app);
void add_server_command(CLI::App& app);
void add_image_command(CLI::App& app);

// Prints "error: <message>" on stderr.
// Secret values this process resolved, or the secret store holds, are masked as "****".
void print_error(const std::string& message);

// Prints a --json output (indented, one trailing newline) with secret values masked, as
// print_error does.
void print_json(const Value& value);

// Whether stderr is a terminal (long operations show progress only then).
bool stderr_is_terminal();

// "2026-11-27 15:40:01Z" (UTC).
std::string format_time(std::chrono::system_clock::time_point t);
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");
// How long a lost run may go without a heartbeat (agent.lost_timeout, seconds).
std::chrono::milliseconds lost_timeout();

}  // namespace ferry::cli
