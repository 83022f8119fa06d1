#include "support/postgres_server.hpp"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "support/ports.hpp"

namespace ferry::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kBin = "/usr/lib/postgresql/15/bin/";

// The postgres system user (uid, gid), created when missing. Only called as root.
std::pair<uid_t, gid_t> server_user() {
  if (::getpwnam("postgres") == nullptr) {
    CommandResult r = run_command({"useradd", "--system", "--user-group", "--no-create-home",
                                   "--shell", "/usr/sbin/nologin", "postgres"});
    if (r.exit_code != 0) throw std::runtime_error("useradd postgres failed: " + r.err);
  }
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("there is no postgres user");
  return {pw->pw_uid, pw->pw_gid};
}

}  // namespace

bool PostgresServer::available() {
  return ::access((kBin + "initdb").c_str(), X_OK) == 0 &&
         ::access((kBin + "postgres").c_str(), X_OK) == 0;
}

PostgresServer& PostgresServer::shared() {
  // Started once per test run; a failed start is remembered so that every test reports it
  // without trying (and waiting) again.
  static std::string failure;
  static std::unique_ptr<PostgresServer> instance = [] {
    try {
      auto server = std::unique_ptr<PostgresServer>(new PostgresServer());
      std::cerr << "[PostgreSQL] initdb and start took " << server->start_time().count() << " ms\n";
      return server;
    } catch (const std::exception& e) {
      failure = e.what();
      return std::unique_ptr<PostgresServer>();
    }
  }();
  if (!instance) throw std::runtime_error(failure);
  return *instance;
}

PostgresServer::PostgresServer() {
  if (!available()) {
    throw std::runtime_error("PostgreSQL 15 is not installed (" + kBin +
                             "): run scripts/install-deps.sh");
  }
  const auto begin = std::chrono::steady_clock::now();
  init_cluster();
  port_ = free_port();
  start();
  start_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begin);
}

PostgresServer::~PostgresServer() { stop(); }

std::vector<std::string> PostgresServer::as_server_user(std::vector<std::string> argv) const {
  if (::geteuid() != 0) return argv;
  // setpriv execs the program itself (runuser would fork), so pid_ is the postmaster's.
  std::vector<std::string> wrapped = {"setpriv", "--reuid=postgres", "--regid=postgres",
                                      "--init-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

void PostgresServer::init_cluster() {
  fs::create_directories(dir_ / "socket");
  if (::geteuid() == 0) {
    const auto [uid, gid] = server_user();
    for (const fs::path& p : {dir_.path(), dir_ / "socket"}) {
      if (::chown(p.c_str(), uid, gid) != 0) {
        throw std::runtime_error("cannot give " + p.string() + " to the postgres user");
      }
    }
  }
  // --no-sync and fsync=off: a throwaway cluster need not survive a power cut.
  CommandResult r = run_command(
      as_server_user({kBin + "initdb", "-D", (dir_ / "data").string(), "-A", "trust", "-U",
                      "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}),
      {}, 120s);
  if (r.exit_code != 0) throw std::runtime_error("initdb failed:\n" + r.out + r.err);
}

void PostgresServer::start() {
  if (pid_ > 0) return;
  pid_ = spawn_process(
      as_server_user({kBin + "postgres", "-D", (dir_ / "data").string(), "-c",
                      "listen_addresses=127.0.0.1", "-p", std::to_string(port_), "-k",
                      (dir_ / "socket").string(), "-c", "fsync=off", "-c", "synchronous_commit=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=200"}),
      {}, dir_ / "server.out", dir_ / "server.err");
  try {
    wait_until_ready();
  } catch (...) {
    stop();
    throw;
  }
}

void PostgresServer::wait_until_ready() {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string last_error;
  for (;;) {
    if (std::optional<int> code = wait_for_exit(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error("postgres exited at start (code " + std::to_string(*code) + "):\n" +
                               log());
    }
    try {
      pqxx::connection probe(url("postgres"));  // refused, or "starting up", until ready
      return;
    } catch (const pqxx::broken_connection& e) {
      last_error = e.what();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("postgres did not accept connections within 60 s (" + last_error +
                               "):\n" + log());
    }
    std::this_thread::sleep_for(20ms);
  }
}

void PostgresServer::stop() noexcept {
  if (pid_ <= 0) return;
  // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, the data stays usable.
  ::kill(pid_, SIGINT);
  std::optional<int> code;
  try {
    code = wait_for_exit(pid_, 30s);
  } catch (...) {
  }
  if (!code) kill_and_reap(pid_);
  pid_ = -1;
}

std::string PostgresServer::url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PostgresServer::create_database() {
  const std::string name =
      "ferry_test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  pqxx::connection admin(url("postgres"));
  pqxx::nontransaction tx(admin);  // CREATE DATABASE cannot run in a transaction
  tx.exec("CREATE DATABASE " + name);
  return url(name);
}

std::string PostgresServer::log() const {
  return read_text(dir_ / "server.out") + read_text(dir_ / "server.err");
}

}  // namespace ferry::test
