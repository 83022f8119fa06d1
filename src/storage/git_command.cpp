#include "storage/git_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>

#include "core/text.hpp"
#include "storage/git_url.hpp"

extern char** environ;

namespace ferry::storage::git_detail {

namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void replace_all(std::string& text, const std::string& what, std::string_view with) {
  if (what.empty()) return;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

std::string ssh_command(const GitSshOptions& ssh) {
  // BatchMode: never prompt (there is no one to answer); host keys are always checked.
  std::string cmd = "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=30";
  if (ssh.port > 0) cmd += " -p " + std::to_string(ssh.port);
  if (!ssh.identity_file.empty()) {
    cmd += " -i " + shell_quote(ssh.identity_file) + " -o IdentitiesOnly=yes";
  }
  if (!ssh.known_hosts_file.empty()) {
    // Added to the user's own file, not instead of it.
    cmd += " -o " + shell_quote("UserKnownHostsFile=~/.ssh/known_hosts " + ssh.known_hosts_file);
  }
  return cmd;
}

}  // namespace

GitRemote make_remote(const std::string& clone_url, const GitSshOptions& ssh) {
  GitRemote r;
  UrlCredentials c = split_credentials(clone_url);
  r.url = c.url;
  r.display = display_url(clone_url);
  r.ssh = ssh;
  if (c.has_credentials) {
    std::string pair = c.user + ":" + c.password;
    std::string encoded = detail::base64_encode(pair);
    r.auth_header = "Authorization: Basic " + encoded;
    for (const std::string& v : {c.password, pair, encoded}) {
      if (!v.empty()) r.secret_values.push_back(v);
    }
    // A token given as the user name (format_access_token = false) is a secret too.
    if (c.password.empty() && !c.user.empty()) r.secret_values.push_back(c.user);
  }
  return r;
}

GitCommand make_git_command(const GitRemote& remote, std::vector<std::string> args) {
  GitCommand cmd;
  cmd.argv.push_back("git");
  for (std::string& a : args) cmd.argv.push_back(std::move(a));
  std::vector<std::pair<std::string, std::string>> config = {
      // No credential helper may store or offer anything: credentials come from us only.
      {"credential.helper", ""},
      // Protocol v2 lets a server hand out any reachable commit by SHA.
      {"protocol.version", "2"},
      {"advice.detachedHead", "false"},
      {"init.defaultBranch", "main"},
  };
  if (!remote.auth_header.empty() && is_http_url(remote.url)) {
    config.emplace_back("http.extraHeader", remote.auth_header);
  }
  cmd.env.push_back("GIT_CONFIG_COUNT=" + std::to_string(config.size()));
  for (std::size_t i = 0; i < config.size(); ++i) {
    cmd.env.push_back("GIT_CONFIG_KEY_" + std::to_string(i) + "=" + config[i].first);
    cmd.env.push_back("GIT_CONFIG_VALUE_" + std::to_string(i) + "=" + config[i].second);
  }
  cmd.env.push_back("GIT_TERMINAL_PROMPT=0");
  cmd.env.push_back("GIT_SSH_COMMAND=" + ssh_command(remote.ssh));
  return cmd;
}

GitOutput run_git(const GitCommand& command, std::chrono::milliseconds timeout) {
  // The environment: ours, without inherited GIT_* (a hook's GIT_DIR, someone's
  // GIT_ASKPASS or GIT_TRACE_CURL) or SSH_ASKPASS, plus the command's entries. The machine's
  // TLS settings (GIT_SSL_CAINFO for a private CA, ...) and GIT_CONFIG_GLOBAL stay.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    bool kept = entry.rfind("GIT_SSL_", 0) == 0 || entry.rfind("GIT_CONFIG_GLOBAL=", 0) == 0;
    if (!kept && (entry.rfind("GIT_", 0) == 0 || entry.rfind("SSH_ASKPASS=", 0) == 0)) continue;
    env.emplace_back(entry);
  }
  for (const std::string& e : command.env) env.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (const std::string& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw Error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a timeout also stops the ssh or remote helper it started.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw Error(std::string("Cannot run git (install the git package): ") + std::strerror(rc));
  }

  GitOutput result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[8192];
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  for (pollfd& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
}

GitErrorKind classify_git_failure(std::string_view stderr_text) {
  std::string t = lower(stderr_text);
  // Host keys first: "Host key verification failed" also ends in "Could not read from
  // remote repository", which is not the point.
  if (contains(t, "host key verification failed") ||
      contains(t, "remote host identification has changed") || contains(t, "no matching host key"))
    return GitErrorKind::HostKey;
  if (contains(t, "ssl certificate problem") ||
      contains(t, "server certificate verification failed") ||
      contains(t, "unable to get local issuer certificate") ||
      contains(t, "certificate verify failed") || contains(t, "no alternative certificate subject"))
    return GitErrorKind::Tls;
  if (contains(t, "requested url returned error: 401") ||
      contains(t, "requested url returned error: 403") || contains(t, "authentication failed") ||
      contains(t, "could not read username") || contains(t, "could not read password") ||
      contains(t, "terminal prompts disabled") || contains(t, "permission denied (publickey") ||
      contains(t, "permission denied, please try again"))
    return GitErrorKind::Auth;
  if (contains(t, "requested url returned error: 404") || contains(t, "repository not found") ||
      (contains(t, "repository '") && contains(t, "' not found")) ||
      contains(t, "does not appear to be a git repository") ||
      contains(t, "repository not exported") ||
      contains(t, "not found: did you run git update-server-info"))
    return GitErrorKind::NotFound;
  if (contains(t, "couldn't find remote ref") || contains(t, "not our ref") ||
      contains(t, "not found in upstream") || contains(t, "no such remote ref") ||
      contains(t, "unadvertised object") || contains(t, "bad object") ||
      contains(t, "invalid refspec"))
    return GitErrorKind::BadRef;
  static const std::regex server_error("requested url returned error: 5[0-9][0-9]");
  if (std::regex_search(t, server_error) || contains(t, "connection refused") ||
      contains(t, "connection reset") || contains(t, "connection timed out") ||
      contains(t, "operation timed out") || contains(t, "timed out after") ||
      contains(t, "could not resolve host") ||
      contains(t, "temporary failure in name resolution") || contains(t, "early eof") ||
      contains(t, "the remote end hung up unexpectedly") || contains(t, "rpc failed") ||
      contains(t, "unable to connect") || contains(t, "kex_exchange_identification") ||
      contains(t, "connection closed by") || contains(t, "network is unreachable") ||
      contains(t, "broken pipe"))
    return GitErrorKind::Transient;
  return GitErrorKind::Other;
}

std::string clean_git_message(const GitRemote& remote, std::string_view stderr_text) {
  std::string text(stderr_text);
  static const std::regex userinfo(R"(([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'"]*@)");
  text = std::regex_replace(text, userinfo, "$1");
  // Longest first, so a pair is masked whole rather than around its token.
  std::vector<std::string> values = remote.secret_values;
  std::sort(values.begin(), values.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& v : values) replace_all(text, v, "****");
  replace_all(text, remote.url, remote.display);
  // The last few meaningful lines: git's own progress and hints are noise here.
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line.rfind("hint:", 0) != 0) lines.push_back(line);
    start = end + 1;
  }
  std::string out;
  std::size_t first = lines.size() > 4 ? lines.size() - 4 : 0;
  for (std::size_t i = first; i < lines.size(); ++i) out += (out.empty() ? "" : " / ") + lines[i];
  return out.empty() ? "(git printed nothing)" : out;
}

}  // namespace ferry::storage::git_detail
