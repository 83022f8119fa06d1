// `ferry server`: the HTTP API (ApiHandler) on cpp-httplib, over plain HTTP or TLS.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "backend/backend.hpp"
#include "server/api_handler.hpp"
#include "server/secret_box.hpp"

namespace httplib {
class Server;
}

namespace ferry::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: an ephemeral port (see Server::port())
  // Both set: HTTPS with this PEM certificate (chain) and key.
  std::string tls_cert{};
  std::string tls_key{};
  std::size_t max_body_bytes = 4 * 1024 * 1024;  // larger bodies get 413
  int threads = 8;
  std::shared_ptr<const SecretBox> secret_box{};  // none: the secret routes answer 503
};

class Server {
 public:
  Server(backend::Backend& backend, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port. Throws ferry::Error naming host:port when it cannot (port in use,
  // address not local), and ferry::ValueError when the TLS certificate or key do not load.
  void start();
  // Serves until stop(); start() must have succeeded.
  void run();
  // Makes run() return. Callable from any thread. It flags and shuts the listening socket
  // (only a stop() in the instant between entering run() and the accept loop starting waits
  // a moment), so a signal handler may call it too.
  void stop();

  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert.empty(); }
  ApiHandler& handler() { return handler_; }

 private:
  ServerOptions options_;
  ApiHandler handler_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> in_run_{false};
};

}  // namespace ferry::server
