// Running the git command line for Git storage. Credentials reach git only through its
// environment (GIT_CONFIG_COUNT/KEY/VALUE with an http.extraHeader), never its argv; every
// text that comes back is cleaned of userinfo and secret values before anyone sees it.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/storage/git.hpp"

namespace ferry::storage::git_detail {

// Where to fetch from, as git will be told.
struct GitRemote {
  std::string url;          // no userinfo: safe on a command line
  std::string display;      // for messages and run records
  std::string auth_header;  // "Authorization: Basic ..." for http(s), or ""
  GitSshOptions ssh{};
  std::vector<std::string> secret_values;  // removed from any text git prints
};

// A remote from a clone URL that may hold userinfo (the reference's https://user:token@...).
GitRemote make_remote(const std::string& clone_url, const GitSshOptions& ssh);

struct GitCommand {
  std::vector<std::string> argv;  // starts with "git"
  std::vector<std::string> env;   // NAME=VALUE set for git (inherited GIT_* are dropped)
};

// `git ARGS...` with the environment that carries the remote's credentials and ssh settings.
GitCommand make_git_command(const GitRemote& remote, std::vector<std::string> args);

struct GitOutput {
  int exit_code = -1;  // 128 + signal when killed (a timeout kills it)
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs the command (no shell, stdin /dev/null), killing it after `timeout`.
GitOutput run_git(const GitCommand& command, std::chrono::milliseconds timeout);

// What a failed git run's stderr says went wrong.
GitErrorKind classify_git_failure(std::string_view stderr_text);

// The last lines of git's stderr, without userinfo in URLs and without the remote's secrets.
std::string clean_git_message(const GitRemote& remote, std::string_view stderr_text);

}  // namespace ferry::storage::git_detail
