// A real PostgreSQL 15 (Debian's postgresql-15) for the PostgreSQL backend tests: a cluster
// made with initdb in a temporary folder, served on a free 127.0.0.1 port (its Unix socket in
// that folder too), started once per test run and stopped by its process id at exit. Nothing
// in /etc/postgresql or /var/lib/postgresql is read or written. initdb and postgres refuse
// to run as root: then they run as the `postgres` system user (created if missing), which
// owns the temporary folder.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "support/test_support.hpp"

namespace ferry::test {

class PostgresServer {
 public:
  // Whether initdb and postgres are installed (scripts/install-deps.sh: postgresql-15).
  static bool available();
  // The server of this test run, started on the first call. Throws std::runtime_error (with
  // the server's log) when it cannot start; later calls throw the same again.
  static PostgresServer& shared();

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgresql://postgres@127.0.0.1:<port>/<db> (trust authentication: no password).
  std::string url(const std::string& db) const;
  // A new, empty database with a name unique to this run; returns its URL, so that each
  // test works on its own.
  std::string create_database();

  // Stops the server (fast shutdown: clients are disconnected), as an administrator
  // restarting it would; start() brings it back on the same port with the same data.
  void stop() noexcept;
  void start();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  // How long initdb and the first start took.
  std::chrono::milliseconds start_time() const { return start_time_; }
  std::string log() const;

 private:
  PostgresServer();
  // argv, run as the postgres user when this process is root.
  std::vector<std::string> as_server_user(std::vector<std::string> argv) const;
  void init_cluster();
  void wait_until_ready();

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
  std::chrono::milliseconds start_time_{0};
};

}  // namespace ferry::test
