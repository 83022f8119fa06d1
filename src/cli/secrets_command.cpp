// ferry secrets set | ls | rm: the secret store (secrets/active_store.hpp): the server's when
// FERRY_API is set, else $FERRY_HOME/secrets.json on this machine.
// Values are never printed.
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "core/files.hpp"
#include "ferry/error.hpp"
#include "secrets/active_store.hpp"
#include "secrets/secret_store.hpp"

namespace ferry::cli {

namespace {

// One trailing newline ("\n" or "\r\n") is not part of a value: `echo TOKEN |` and text
// files end with one.
std::string strip_one_newline(std::string value) {
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

// From a terminal: a prompt and one line without echo. Otherwise all of stdin.
std::string read_value_from_stdin(const std::string& name) {
  if (::isatty(0) == 1) {
    std::fprintf(stderr, "Value of secret %s (input hidden): ", name.c_str());
    std::fflush(stderr);
    termios old{};
    bool restore = ::tcgetattr(0, &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(0, TCSAFLUSH, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (restore) ::tcsetattr(0, TCSAFLUSH, &old);
    std::fprintf(stderr, "\n");
    return strip_one_newline(line);
  }
  std::string data;
  char buf[1 << 14];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ValueError("Cannot read the secret's value from stdin.");
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return strip_one_newline(std::move(data));
}

struct SetArgs {
  std::string name;
  std::optional<std::string> value;
  std::string from_file;
};

void set_secret(const SetArgs& args) {
  secrets::check_secret_name(args.name);
  if (args.value && !args.from_file.empty()) {
    throw ValueError("Give the value of secret '" + args.name +
                     "' once: as VALUE, with --from-file, or on stdin.");
  }
  std::string value;
  if (args.value) {
    value = *args.value;
  } else if (!args.from_file.empty()) {
    value = strip_one_newline(detail::read_file(args.from_file));
  } else {
    value = read_value_from_stdin(args.name);
  }
  if (value.empty()) {
    throw ValueError("The value of secret '" + args.name +
                     "' is empty; nothing was stored. Give it as VALUE, with --from-file F, "
                     "or on stdin.");
  }
  auto store = secrets::open_active_store();
  store->set(args.name, value);
  std::printf("Set secret '%s' in %s\n", args.name.c_str(), store->where().c_str());
}

}  // namespace

void add_secrets_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("secrets",
                                     "Secrets (on this machine, or on the server when FERRY_API is "
                                     "set): set, list (names only), remove");
  cmd->require_subcommand(1);

  auto set_args = std::make_shared<SetArgs>();
  CLI::App* set = cmd->add_subcommand(
      "set",
      "Add or replace a secret. The value comes from VALUE, --from-file F, or stdin (prefer "
      "stdin or a file: a VALUE on the command line is visible to other users in the process "
      "list)");
  set->add_option("name", set_args->name, "Secret name: letters, digits and underscores")
      ->required();
  set->add_option("value", set_args->value, "The value (visible in the process list!)");
  set->add_option("--from-file", set_args->from_file,
                  "Read the value from this file (one trailing newline is dropped)");
  set->callback([set_args] { set_secret(*set_args); });

  auto ls_json = std::make_shared<bool>(false);
  CLI::App* ls = cmd->add_subcommand("ls", "List the secrets' names (never their values)");
  ls->add_flag("--json", *ls_json, "Print the names as a JSON array");
  ls->callback([ls_json] {
    std::vector<std::string> names = secrets::open_active_store()->names();
    if (*ls_json) {
      // Names only, so nothing to mask.
      std::printf("%s\n", Value(names).dump(2).c_str());
      return;
    }
    for (const std::string& n : names) std::printf("%s\n", n.c_str());
  });

  auto rm_name = std::make_shared<std::string>();
  CLI::App* rm = cmd->add_subcommand("rm", "Remove a secret");
  rm->add_option("name", *rm_name, "Secret name")->required();
  rm->callback([rm_name] {
    secrets::check_secret_name(*rm_name);
    auto store = secrets::open_active_store();
    if (!store->remove(*rm_name)) {
      throw ValueError("No secret '" + *rm_name + "' in " + store->where() +
                       ". List them with: ferry secrets ls");
    }
    std::printf("Removed secret '%s'\n", rm_name->c_str());
  });
}

}  // namespace ferry::cli
