// Clone URL helpers for Git storage: building the reference's URLs, and taking credentials
// out of a URL so that git gets them through its environment, never its command line.
#pragma once

#include <string>
#include <string_view>

#include "ferry/storage/git.hpp"

namespace ferry::storage::git_detail {

// The reference's clone URL for the options and a resolved token ("" when none):
// https://user:token@host/repo.git, git@host:repo.git with use_ssh. (The clone-URL secret
// is handled by the caller: it is used verbatim.)
std::string build_clone_url(const GitOptions& options, const std::string& token);

// The URL without userinfo, query or fragment: safe to show. scp-style URLs
// ("git@host:path") carry no password and are returned as they are.
std::string display_url(std::string_view url);

// A URL split into what git may see and the credentials it must not see on a command line.
struct UrlCredentials {
  std::string url;       // without userinfo (http and https only; other URLs unchanged)
  std::string user;      // percent-decoded
  std::string password;  // percent-decoded
  bool has_credentials = false;
};
UrlCredentials split_credentials(std::string_view url);

bool is_http_url(std::string_view url);
// ssh://... or scp-style user@host:path.
bool is_ssh_url(std::string_view url);

// Wraps text in single quotes for the shell that runs GIT_SSH_COMMAND.
std::string shell_quote(std::string_view text);

}  // namespace ferry::storage::git_detail
