// ferry server start | api-key create/ls/revoke: the HTTP API over SQLite or PostgreSQL.
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "backend/backend.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "ferry/error.hpp"
#include "server/api_keys.hpp"
#include "server/secret_box.hpp"
#include "server/server.hpp"

namespace ferry::cli {

namespace {

struct StartArgs {
  std::string host = "127.0.0.1";
  int port = 4200;
  std::string database;
  std::string tls_cert;
  std::string tls_key;
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  int threads = 8;
};

std::string database_or_default(const std::string& given) {
  return given.empty() ? backend::default_database_url() : given;
}

// The URL with any password removed, for the start-up line.
std::string without_password(std::string url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon != std::string::npos && colon < at) url.erase(colon, at - colon);
  return url;
}

// Marks runs whose agents stopped heartbeating lost (and reschedules them as their flows
// allow) even when no agent is left to do it, until stopped.
class LostRunSweeper {
 public:
  explicit LostRunSweeper(backend::Backend& backend)
      : backend_(backend), thread_([this] { loop(); }) {}
  ~LostRunSweeper() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    const auto timeout = lost_timeout();
    const auto every = std::max(std::chrono::milliseconds(500), timeout / 4);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, every, [this] { return stop_; })) {
      lock.unlock();
      try {
        backend_.mark_lost_runs(timeout);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ferry server: could not check for lost runs: %s\n", e.what());
      }
      lock.lock();
    }
  }

  backend::Backend& backend_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

void start_server(const StartArgs& args) {
  if (args.tls_cert.empty() != args.tls_key.empty()) {
    throw ValueError("TLS needs both --tls-cert and --tls-key (got only one)");
  }
  const std::string database = database_or_default(args.database);
  auto backend = backend::open_backend_url(database);

  server::ServerOptions options;
  options.host = args.host;
  options.port = args.port;
  options.tls_cert = args.tls_cert;
  options.tls_key = args.tls_key;
  options.max_body_bytes = args.max_body_bytes;
  options.threads = args.threads;
  // The key comes from the environment only: a flag would show in the process list.
  if (const char* key = std::getenv("FERRY_SERVER_SECRET_KEY"); key && *key) {
    options.secret_box = std::make_shared<server::SecretBox>(key);
  }

  // SIGTERM and SIGINT are taken by a thread with sigwait; block them before any thread
  // starts so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  server::Server server(*backend, options);
  server.start();
  std::fprintf(stderr, "ferry server listening on %s://%s:%d (database %s%s)\n",
               server.tls() ? "https" : "http", args.host.c_str(), server.port(),
               without_password(database).c_str(),
               options.secret_box ? ", secret store on" : ", secret store off");
  std::fflush(stderr);

  std::thread signals([&server, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0) server.stop();
  });
  {
    LostRunSweeper sweeper(*backend);
    server.run();
  }
  // run() returned: by a signal, or the server failed. Wake the signal thread either way.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  std::fprintf(stderr, "ferry server stopped\n");
}

void add_api_key_commands(CLI::App& server_cmd) {
  CLI::App* keys = server_cmd.add_subcommand(
      "api-key", "API keys for clients and agents (stored hashed in the server's database)");
  keys->require_subcommand(1);
  auto database = std::make_shared<std::string>();
  keys->add_option("--database", *database,
                   "The server's database URL (default: server.database, else "
                   "sqlite:///$FERRY_HOME/ferry.db)");

  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* create = keys->add_subcommand(
      "create", "Make a key and print it once (only its hash is kept: store it now)");
  create->add_option("name", *name, "A name for the key (who or what uses it)")->required();
  create->add_flag("--json", *json, "Print {\"name\":..., \"key\":...}");
  create->callback([database, name, json] {
    auto backend = backend::open_backend_url(database_or_default(*database));
    const std::string key = server::new_api_key();
    backend->add_api_key(*name, server::hash_api_key(key));
    if (*json) {
      std::printf("%s\n", Value{{"name", *name}, {"key", key}}.dump(2).c_str());
    } else {
      std::fprintf(stderr, "API key '%s' created. It is shown only this once:\n", name->c_str());
      std::printf("%s\n", key.c_str());
    }
  });

  auto ls_json = std::make_shared<bool>(false);
  CLI::App* ls = keys->add_subcommand("ls", "List the keys' names (never the keys)");
  ls->add_flag("--json", *ls_json, "Print a JSON array");
  ls->callback([database, ls_json] {
    auto backend = backend::open_backend_url(database_or_default(*database));
    Value out = Value::array();
    for (const auto& key : backend->list_api_keys()) {
      Value item{{"name", key.name}, {"created", format_time(key.created)}};
      item["revoked"] = key.revoked ? Value(format_time(*key.revoked)) : Value();
      out.push_back(std::move(item));
    }
    if (*ls_json) {
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    for (const auto& item : out) {
      std::printf("%-24s created %s%s\n", item["name"].get<std::string>().c_str(),
                  item["created"].get<std::string>().c_str(),
                  item["revoked"].is_null()
                      ? ""
                      : ("  revoked " + item["revoked"].get<std::string>()).c_str());
    }
  });

  auto revoke_name = std::make_shared<std::string>();
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key: it stops working at once");
  revoke->add_option("name", *revoke_name, "The key's name")->required();
  // --database may come after the subcommand too (`api-key create NAME --database URL`).
  for (CLI::App* sub : {create, ls, revoke}) sub->fallthrough();
  revoke->callback([database, revoke_name] {
    auto backend = backend::open_backend_url(database_or_default(*database));
    if (!backend->revoke_api_key(*revoke_name)) {
      throw ValueError("No API key named '" + *revoke_name +
                       "' is in use. List them with: ferry server api-key ls");
    }
    std::printf("Revoked API key '%s'\n", revoke_name->c_str());
  });
}

}  // namespace

void add_server_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "server", "The ferry server: the backend as an HTTP API for agents on many machines");
  cmd->require_subcommand(1);

  auto args = std::make_shared<StartArgs>();
  CLI::App* start = cmd->add_subcommand("start", "Serve the API in the foreground");
  start->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  start->add_option("--port", args->port, "Port to listen on (0: any free one)")
      ->capture_default_str();
  start->add_option("--database", args->database,
                    "sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: "
                    "server.database, else sqlite:///$FERRY_HOME/ferry.db)");
  start->add_option("--tls-cert", args->tls_cert, "PEM certificate (chain) for HTTPS");
  start->add_option("--tls-key", args->tls_key, "PEM private key for HTTPS");
  start
      ->add_option("--max-body-bytes", args->max_body_bytes,
                   "Largest request body accepted (larger: 413)")
      ->capture_default_str();
  start->add_option("--threads", args->threads, "Request threads")->capture_default_str();
  start->footer(
      "Secrets sent to the server are sealed with the key in FERRY_SERVER_SECRET_KEY (64 hex "
      "digits or base64 of 32 bytes); without it the secret store is off.");
  start->callback([args] { start_server(*args); });

  add_api_key_commands(*cmd);
}

}  // namespace ferry::cli
