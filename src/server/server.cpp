#include "server/server.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "ferry/error.hpp"

namespace ferry::server {

namespace {

// Only SO_REUSEADDR: binding a port another server holds must fail ("port in use"), which
// httplib's default SO_REUSEPORT would let succeed, splitting the traffic between both.
void socket_options(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

void to_httplib(const ApiResponse& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [name, value] : from.headers) to.set_header(name, value);
  if (!from.content_type.empty()) {
    to.set_content(from.body, from.content_type.c_str());
  } else {
    to.body = from.body;
  }
}

std::string json_error(const std::string& message) {
  return Value{{"error", message}}.dump(-1, ' ', false, Value::error_handler_t::replace);
}

}  // namespace

Server::Server(backend::Backend& backend, ServerOptions options)
    : options_(std::move(options)),
      handler_(backend, ApiOptions{options_.max_body_bytes, options_.secret_box}) {}

Server::~Server() { stop(); }

void Server::start() {
  bool want_tls = !options_.tls_cert.empty() || !options_.tls_key.empty();
  if (want_tls) {
    if (options_.tls_cert.empty() || options_.tls_key.empty()) {
      throw ValueError("TLS needs both a certificate and a key file (got only one)");
    }
    for (const std::string& f : {options_.tls_cert, options_.tls_key}) {
      if (!std::filesystem::is_regular_file(f)) throw ValueError("TLS file " + f + " not found");
    }
    auto ssl =
        std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(), options_.tls_key.c_str());
    if (!ssl->is_valid()) {
      throw ValueError("could not load the TLS certificate " + options_.tls_cert + " and key " +
                       options_.tls_key + " (PEM files that belong together are needed)");
    }
    http_ = std::move(ssl);
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *http_;
  s.set_socket_options(socket_options);
  s.set_payload_max_length(options_.max_body_bytes);
  int threads = options_.threads > 0 ? options_.threads : 1;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  // Every method and path goes to the handler, which does its own routing (404 and 405).
  auto forward = [this](const httplib::Request& req, httplib::Response& res) {
    ApiRequest r;
    r.method = req.method;
    // The raw target: httplib's `path` is already decoded, which would merge an encoded
    // '/' inside a name with the real separators.
    r.path = req.target.substr(0, req.target.find('?'));
    for (const auto& [k, v] : req.params) r.query.emplace_back(k, v);
    for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
    r.body = req.body;
    to_httplib(handler_.handle(r), res);
  };
  s.Get(".*", forward);
  s.Post(".*", forward);
  s.Put(".*", forward);
  s.Delete(".*", forward);
  s.Patch(".*", forward);
  s.Options(".*", forward);
  // What httplib answers itself (413 for an oversized body, 400 for a bad request line)
  // gets a JSON error too; the handler's own answers already have a body.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = res.status == 413
                                  ? "the body is larger than this server takes (" +
                                        std::to_string(options_.max_body_bytes) + " bytes)"
                                  : std::string("HTTP ") + std::to_string(res.status);
        res.set_content(json_error(message), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(json_error("internal error"), "application/json");
  });

  std::string where = options_.host + ":" + std::to_string(options_.port);
  if (options_.port == 0) {
    port_ = s.bind_to_any_port(options_.host);
    if (port_ <= 0) {
      throw Error("could not listen on " + options_.host + " (any port): " + std::strerror(errno));
    }
  } else {
    errno = 0;
    if (!s.bind_to_port(options_.host, options_.port)) {
      int e = errno;
      throw Error("could not listen on " + where + ": " +
                  (e == EADDRINUSE ? std::string("port in use")
                   : e             ? std::strerror(e)
                                   : "bind failed"));
    }
    port_ = options_.port;
  }
}

void Server::run() {
  if (!http_) throw Error("Server::run() before a successful start()");
  in_run_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  in_run_ = false;
}

void Server::stop() {
  stop_requested_ = true;
  if (!http_) return;
  // httplib's stop() does nothing until its loop has begun: a stop() just after run() was
  // entered waits (briefly) for the loop, or run() would never return.
  for (int i = 0; i < 1000 && in_run_ && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
}

}  // namespace ferry::server
