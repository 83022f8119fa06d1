// The ferry command.
#include <unistd.h>

#include <cstdio>

#include <ctime>

#include "agent/secrets.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/masking.hpp"
#include "ferry/error.hpp"
#include "ferry/version.hpp"

namespace ferry::cli {

void print_error(const std::string& message) {
  // An error may quote a secret (a task's message, a rendered request): mask the values
  // this process resolved and the ones the store holds.
  agent::register_known_secrets();
  std::fprintf(stderr, "error: %s\n", detail::mask_secrets(message).c_str());
}

void print_json(const Value& value) {
  agent::register_known_secrets();
  std::string text = detail::mask_secrets_json(value).dump(2);
  std::fprintf(stdout, "%s\n", text.c_str());
  std::fflush(stdout);
}

bool stderr_is_terminal() { return ::isatty(2) == 1; }

std::string format_time(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

std::chrono::milliseconds lost_timeout() {
  return std::chrono::milliseconds(
      static_cast<long long>(ferry::config::get_number("agent", "lost_timeout", 30) * 1000));
}

}  // namespace ferry::cli

int main(int argc, char** argv) {
  CLI::App app{"ferry: C++ workflow orchestration. Flows live in storage; ferry runs them.",
               "ferry"};
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  app.require_subcommand(1);
  ferry::cli::add_register_command(app);
  ferry::cli::add_run_command(app);
  ferry::cli::add_agent_command(app);
  ferry::cli::add_execute_command(app);
  ferry::cli::add_flows_command(app);
  ferry::cli::add_runs_command(app);
  ferry::cli::add_flow_command(app);
  ferry::cli::add_secrets_command(app);
  ferry::cli::add_server_command(app);
  ferry::cli::add_image_command(app);
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
