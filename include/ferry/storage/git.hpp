// Git storage: a flow source in a git repository, fetched (shallow, at a pinned commit) and
// compiled when a run starts. Script-only. See docs/storage/git.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/error.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

// Extra ssh settings for use_ssh (or an ssh:// clone URL). Host keys are always checked
// (StrictHostKeyChecking=yes) against the machine's known_hosts, plus known_hosts_file.
struct GitSshOptions {
  std::string identity_file{};     // a private key (-i), e.g. a deploy key; default: ssh's own
  std::string known_hosts_file{};  // an extra known_hosts file (UserKnownHostsFile)
  int port = 0;                    // the ssh port when not 22 (scp-style URLs carry none)
};

struct GitOptions {
  std::string flow_path{};            // the flow source, relative to the repository's root
  std::optional<std::string> repo{};  // "org/repo"
  // Host of the clone URL. May start with "http://" or "https://" and carry a port and a
  // path prefix ("http://git.internal:8080/git"): the URL is then built on it as written.
  std::string repo_host = "github.com";
  std::optional<std::string> flow_name{};  // the flow to pick; default: the requested name
  std::optional<std::string> git_token_secret_name{};
  std::optional<std::string> git_token_username{};         // default: the owner part of repo
  std::optional<std::string> git_clone_url_secret_name{};  // a secret holding the clone URL
  std::optional<std::string> branch_name{};
  std::optional<std::string> tag{};
  std::optional<std::string> commit{};  // a full commit SHA (honoured, unlike the reference)
  int clone_depth = 1;
  bool use_ssh = false;
  bool format_access_token = true;  // "user:token@" rather than "token@"
  GitSshOptions ssh_options{};
  bool sparse = false;  // check out only the flow's folder (and the repository's root files)
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// Why fetching from a repository failed. Transient failures (refused or reset connections,
// 5xx answers, timeouts) were already retried when a GitError says so.
// Tls: the server's certificate is not trusted (or names another host).
enum class GitErrorKind { Transient, Auth, HostKey, Tls, NotFound, BadRef, MissingFile, Other };

// A fetch that failed: the message names the repository (without credentials) and the ref,
// and never holds a token.
class GitError : public FlowStorageError {
 public:
  GitError(const std::string& message, GitErrorKind kind)
      : FlowStorageError(message), kind_(kind) {}
  GitErrorKind kind() const { return kind_; }

 private:
  GitErrorKind kind_;
};

// The flow's location is flow_path. Runs resolve branch_name or tag (or the default branch)
// to a commit with `git ls-remote`, fetch that commit shallowly into a checkout cached under
// $FERRY_HOME/cache/git, and compile flow_path there. No default labels, no default result.
class Git : public Storage {
 public:
  // ValueError for more than one of branch_name, tag, commit; for neither repo nor
  // git_clone_url_secret_name; for an empty or absolute flow_path or a short commit.
  // Prints the reference's two warnings to stderr.
  explicit Git(GitOptions options);

  const GitOptions& options() const;
  // The clone URL as the reference builds it, credentials included: for tests and
  // debugging only; ferry itself never passes it to a command line or a message.
  std::string git_clone_url() const;
  // The clone URL without userinfo or query: what messages and run records show.
  std::string display_url() const;
};

}  // namespace ferry::storage
