// Real git servers for the Git storage tests, each on a free 127.0.0.1 port in a temp folder
// of its own and stopped by its process id: git daemon (git://), lighttpd + git http-backend
// (smart HTTP with basic auth) and sshd (ssh with ed25519 keys). Plus a repository helper
// that commits and pushes to a bare repository the servers export.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/ports.hpp"
#include "support/test_support.hpp"

namespace ferry::test {

// Runs git (no shell) in `cwd`; throws std::runtime_error with its output on failure.
std::string run_git_or_throw(const std::vector<std::string>& args,
                             const std::filesystem::path& cwd);

// A free TCP port on 127.0.0.1 (bound and released: good enough for tests).

// Writes into folder `d` a test CA (ca.pem, ca.key) and a certificate it signed for IP
// 127.0.0.1 (server.pem, server.key), with the openssl command.
void make_test_certificates(const std::filesystem::path& d);

// A bare repository <root>/<name>.git and a working clone to commit from.
class TestRepo {
 public:
  TestRepo(const std::filesystem::path& root, const std::string& name);
  const std::filesystem::path& bare() const { return bare_; }
  const std::filesystem::path& work() const { return work_; }
  void write(const std::string& rel, const std::string& text) const;
  void remove(const std::string& rel) const;
  // Commits everything in the working clone and pushes it to the bare repository's
  // branch; returns the new commit's SHA.
  std::string commit(const std::string& message, const std::string& branch = "main") const;
  void tag(const std::string& name, const std::string& commit, bool annotated = false) const;

 private:
  std::filesystem::path bare_;
  std::filesystem::path work_;
};

// A server process started by a subclass; killed (SIGKILL) and reaped by stop().
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  void stop();
  std::string log() const;  // the server's stdout and stderr

 protected:
  // Starts argv and waits (up to 5 s) until the port accepts connections.
  void start(const std::vector<std::string>& argv);
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// git daemon exporting every repository under `base` (read only).
class GitDaemon : public ServerProcess {
 public:
  explicit GitDaemon(std::filesystem::path base);
  std::string url(const std::string& repo) const;  // git://127.0.0.1:P/<repo>
  void restart();

 private:
  std::filesystem::path base_;
};

// lighttpd serving git http-backend at /git/<repo>, with basic auth for user:password.
class GitHttpServer : public ServerProcess {
 public:
  // tls: HTTPS with a certificate for 127.0.0.1 from a test CA made here (ca_file()).
  GitHttpServer(std::filesystem::path base, const std::string& user, const std::string& password,
                bool tls = false);
  std::string url(const std::string& repo) const;  // http(s)://127.0.0.1:P/git/<repo>
  std::string host() const;                        // http(s)://127.0.0.1:P/git
  std::filesystem::path ca_file() const { return dir_.path() / "ca.pem"; }
  std::string access_log() const;

 private:
  bool tls_ = false;
};

// sshd letting the test's client key log in as the current user; repositories are
// addressed by absolute path.
class GitSshServer : public ServerProcess {
 public:
  GitSshServer();
  std::string url(const std::filesystem::path& bare) const;  // ssh://USER@127.0.0.1:P/abs/path
  // Lets the client key log in as the system user `git` too (as forges' scp-style URLs
  // git@host:repo.git do): creates that user when it is missing (needs root) and hands it
  // the bare repository. Throws with the reason when it cannot.
  void serve_as_git_user(const std::filesystem::path& bare);
  std::filesystem::path identity_file() const { return dir_.path() / "client_ed25519"; }
  // known_hosts with this server's key for [127.0.0.1]:P.
  std::filesystem::path known_hosts_file() const { return dir_.path() / "known_hosts"; }
  // known_hosts naming [127.0.0.1]:P with some other key.
  std::filesystem::path wrong_known_hosts_file() const { return dir_.path() / "wrong_known_hosts"; }
};

}  // namespace ferry::test
