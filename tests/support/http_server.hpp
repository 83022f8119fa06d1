// A small HTTP/1.1 server for the tests, on a free 127.0.0.1 port, answering from a thread
// of its own: it records every request, answers through a handler (by default an in-memory
// object store), and can answer 503 or drop the connection for the next N requests.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ferry::test {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target;                                     // path and query, as sent
  std::string path;                                       // percent-decoded, no query
  std::map<std::string, std::vector<std::string>> query;  // percent-decoded
  HeaderList headers;
  std::string body;
  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // The first value of a query parameter, or "".
  std::string param(const std::string& name) const;
};

struct HttpReply {
  int status = 200;
  HeaderList headers{};
  std::string body{};
  bool drop = false;  // close the connection without answering
};

class HttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;

  // Without a handler: an object store. A request with a body stores it under its path
  // (answering 200 with {"id": "<path>", "size": N}); one without returns what is stored
  // there (200) or 404.
  explicit HttpServer(Handler handler = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path = "/") const;

  std::vector<HttpRequest> requests() const;
  std::size_t request_count() const;
  void clear_requests();
  // The next n requests are answered with `status` (Retry-After: 0), or dropped.
  void fail_next(int n, int status = 503);
  void drop_next(int n);
  // The default store's content at a path ("" if none).
  std::string stored(const std::string& path) const;

 private:
  void serve();
  void handle(int fd);
  HttpReply store(const HttpRequest& request);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;
  std::map<std::string, std::string> objects_;
  int fail_count_ = 0;
  int fail_status_ = 503;
  int drop_count_ = 0;
  std::thread thread_;
};

// Percent-decoding ('+' stays '+').
std::string url_decode(std::string_view text);

}  // namespace ferry::test
