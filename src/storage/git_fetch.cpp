#include "storage/git_fetch.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>

#include "core/config.hpp"
#include "core/files.hpp"

namespace ferry::storage::git_detail {

namespace fs = std::filesystem;

namespace {

constexpr int kRetries = 3;

std::chrono::milliseconds git_timeout() {
  return std::chrono::milliseconds(
      static_cast<long long>(config::get_number("git", "timeout", 300) * 1000));
}

std::string explain(GitErrorKind kind) {
  switch (kind) {
    case GitErrorKind::Transient:
      return "the server could not be reached or failed (tried " + std::to_string(kRetries + 1) +
             " times)";
    case GitErrorKind::Auth:
      return "authentication was refused: check the token secret (git_token_secret_name and "
             "git_token_username), the clone-URL secret, or the ssh key";
    case GitErrorKind::HostKey:
      return "the server's ssh host key is unknown or does not match known_hosts (host keys are "
             "always checked): add the host's key to ~/.ssh/known_hosts or to "
             "ssh_options.known_hosts_file";
    case GitErrorKind::Tls:
      return "the server's TLS certificate is not trusted: for a private CA, point git at it "
             "on the agent's machine (GIT_SSL_CAINFO=/path/ca.pem in the agent's environment, "
             "or `git config --global http.sslCAInfo /path/ca.pem`)";
    case GitErrorKind::NotFound:
      return "the repository does not exist, or these credentials cannot see it";
    case GitErrorKind::BadRef:
      return "the ref does not exist in the repository";
    default:
      return "git failed";
  }
}

[[noreturn]] void fail(const GitRemote& remote, const GitRefSpec& ref, const std::string& what,
                       GitErrorKind kind, const std::string& git_said) {
  throw GitError("Git storage could not " + what + " " + ref.describe() + " of repository '" +
                     remote.display + "': " + explain(kind) + ". git said: " + git_said,
                 kind);
}

// Runs git; transient failures are retried with backoff, others throw at once.
GitOutput run_remote(const GitRemote& remote, const GitRefSpec& ref, const std::string& what,
                     const std::vector<std::string>& args) {
  double backoff = config::get_number("git", "retry_backoff", 0.5);
  for (int attempt = 0;; ++attempt) {
    GitOutput out = run_git(make_git_command(remote, args), git_timeout());
    if (out.exit_code == 0) return out;
    GitErrorKind kind = out.timed_out ? GitErrorKind::Transient : classify_git_failure(out.err);
    std::string said = out.timed_out ? "timed out" : clean_git_message(remote, out.err);
    if (kind != GitErrorKind::Transient || attempt >= kRetries) fail(remote, ref, what, kind, said);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<long long>(backoff * 1000 * std::pow(2.0, attempt))));
  }
}

// A local git command (no network): a failure is a plain error.
GitOutput run_local(const GitRemote& remote, const std::vector<std::string>& args) {
  GitOutput out = run_git(make_git_command(remote, args), git_timeout());
  if (out.exit_code != 0) {
    throw GitError("git " + args.at(2) + " failed in '" + args.at(1) +
                       "': " + clean_git_message(remote, out.err),
                   GitErrorKind::Other);
  }
  return out;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Cone-mode patterns: the root's files, and everything under `sparse_dir`.
std::string cone_patterns(const std::string& sparse_dir) {
  std::string out = "/*\n!/*/\n";
  fs::path rel = fs::path(sparse_dir).lexically_normal();
  std::string prefix = "/";
  std::vector<std::string> parts;
  for (const fs::path& part : rel) {
    if (part != "." && !part.empty()) parts.push_back(part.string());
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    prefix += parts[i] + "/";
    out += prefix + "\n";
    if (i + 1 < parts.size()) out += "!" + prefix + "*/\n";
  }
  return out;
}

}  // namespace

std::string GitRefSpec::describe() const {
  switch (kind) {
    case Kind::Branch:
      return "branch '" + name + "'";
    case Kind::Tag:
      return "tag '" + name + "'";
    case Kind::Commit:
      return "commit " + name;
    default:
      return "the default branch";
  }
}

std::string GitRefSpec::ref_name() const {
  switch (kind) {
    case Kind::Branch:
      return "refs/heads/" + name;
    case Kind::Tag:
      return "refs/tags/" + name;
    case Kind::Commit:
      return "";
    default:
      return "HEAD";
  }
}

std::string resolve_ref(const GitRemote& remote, const GitRefSpec& ref) {
  if (ref.kind == GitRefSpec::Kind::Commit) return ref.name;
  std::string full = ref.ref_name();
  std::vector<std::string> args = {"ls-remote", remote.url, full};
  if (ref.kind == GitRefSpec::Kind::Tag) args.push_back(full + "^{}");
  GitOutput out = run_remote(remote, ref, "resolve", args);
  std::string found, peeled;
  std::istringstream lines(out.out);
  for (std::string line; std::getline(lines, line);) {
    std::size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string sha = line.substr(0, tab), name = trimmed(line.substr(tab + 1));
    if (name == full) found = sha;
    if (name == full + "^{}") peeled = sha;
  }
  if (!peeled.empty()) return peeled;
  if (found.empty()) {
    fail(remote, ref, "resolve", GitErrorKind::BadRef,
         "no ref named '" + full + "' (git ls-remote listed none)");
  }
  return found;
}

namespace {

// An empty repository in dir, set up for a sparse checkout of sparse_dir when not empty.
void init_checkout_dir(const GitRemote& remote, const std::string& sparse_dir,
                       const fs::path& dir) {
  run_local(remote, {"-C", dir.string(), "init", "-q"});
  if (!sparse_dir.empty()) {
    run_local(remote, {"-C", dir.string(), "config", "core.sparseCheckout", "true"});
    run_local(remote, {"-C", dir.string(), "config", "core.sparseCheckoutCone", "true"});
    detail::write_file_atomic(dir / ".git" / "info" / "sparse-checkout", cone_patterns(sparse_dir));
  }
}

std::vector<std::string> fetch_args(const GitRemote& remote, int depth, const fs::path& dir) {
  std::vector<std::string> fetch = {"-C", dir.string(), "fetch", "-q", "--no-tags"};
  if (depth > 0) fetch.push_back("--depth=" + std::to_string(depth));
  fetch.push_back(remote.url);
  return fetch;
}

std::string fetched_head(const GitRemote& remote, const fs::path& dir) {
  return trimmed(run_local(remote, {"-C", dir.string(), "rev-parse", "FETCH_HEAD^{commit}"}).out);
}

void check_out(const GitRemote& remote, const fs::path& dir, const std::string& commit) {
  run_local(remote, {"-C", dir.string(), "checkout", "-q", "--detach", commit});
  // The checkout is all a run needs; the objects would only take space.
  fs::remove_all(dir / ".git");
}

}  // namespace

std::string fetch_commit(const GitRemote& remote, const std::string& commit, const GitRefSpec& ref,
                         int depth, const std::string& sparse_dir, const fs::path& dir) {
  init_checkout_dir(remote, sparse_dir, dir);
  std::vector<std::string> fetch = fetch_args(remote, depth, dir);
  std::string actual = commit;
  try {
    std::vector<std::string> args = fetch;
    args.push_back(commit);
    run_remote(remote, ref, "fetch", args);
  } catch (const GitError& e) {
    if (e.kind() != GitErrorKind::BadRef) throw;
    // The server hands out only what its refs point at (protocol v0 without
    // uploadpack.allowReachableSHA1InWant): fetch the ref itself, or, for a commit, history.
    std::vector<std::string> args = fetch;
    if (ref.kind == GitRefSpec::Kind::Commit) {
      args.erase(std::remove_if(args.begin(), args.end(),
                                [](const std::string& a) { return a.rfind("--depth", 0) == 0; }),
                 args.end());
      args.push_back("+refs/heads/*:refs/remotes/origin/*");
      args.push_back("+refs/tags/*:refs/tags/*");
      run_remote(remote, ref, "fetch", args);
      GitOutput has = run_git(
          make_git_command(remote, {"-C", dir.string(), "cat-file", "-e", commit + "^{commit}"}),
          git_timeout());
      if (has.exit_code != 0) {
        fail(remote, ref, "fetch", GitErrorKind::BadRef,
             "no commit " + commit + " on any branch or tag");
      }
    } else {
      args.push_back(ref.ref_name());
      run_remote(remote, ref, "fetch", args);
      actual = fetched_head(remote, dir);
    }
  }
  check_out(remote, dir, actual);
  return actual;
}

namespace {

// The commit a fresh clone's HEAD is at: detached (a tag) or a branch, loose or packed.
std::string cloned_head(const fs::path& git_dir) {
  std::string head = trimmed(detail::read_file(git_dir / "HEAD"));
  if (head.rfind("ref: ", 0) != 0) return head;
  std::string ref = head.substr(5);
  std::error_code ec;
  if (fs::is_regular_file(git_dir / ref, ec)) return trimmed(detail::read_file(git_dir / ref));
  std::istringstream packed(detail::read_file(git_dir / "packed-refs"));
  for (std::string line; std::getline(packed, line);) {
    if (line.size() > 41 && line.compare(41, std::string::npos, ref) == 0)
      return line.substr(0, 40);
  }
  return {};
}

}  // namespace

std::string fetch_ref(const GitRemote& remote, const GitRefSpec& ref, int depth,
                      const std::string& sparse_dir, const fs::path& dir) {
  if (sparse_dir.empty()) {
    // One `git clone`: the least a cold fetch can cost (no init, fetch and checkout apart).
    std::vector<std::string> args = {"clone", "-q", "--no-tags"};
    if (depth > 0) args.push_back("--depth=" + std::to_string(depth));
    if (ref.kind != GitRefSpec::Kind::Default) args.push_back("--branch=" + ref.name);
    args.push_back(remote.url);
    args.push_back(dir.string());
    run_remote(remote, ref, "fetch", args);
    std::string commit = cloned_head(dir / ".git");
    if (commit.size() != 40)
      commit = trimmed(run_local(remote, {"-C", dir.string(), "rev-parse", "HEAD"}).out);
    fs::remove_all(dir / ".git");
    return commit;
  }
  init_checkout_dir(remote, sparse_dir, dir);
  std::vector<std::string> args = fetch_args(remote, depth, dir);
  args.push_back(ref.ref_name());
  run_remote(remote, ref, "fetch", args);
  std::string commit = fetched_head(remote, dir);  // a tag is peeled to its commit
  check_out(remote, dir, commit);
  return commit;
}

}  // namespace ferry::storage::git_detail
