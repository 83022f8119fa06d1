// The HTTP API of `ferry server` as a plain function: a request in, a response out, no
// sockets. The Server feeds it from cpp-httplib; tests and the fuzzer call it directly.
//
// Every route is under /api/v1/ (see routes() in api_handler.cpp and docs for the table),
// plus GET /metrics (Prometheus text). Bodies and answers are JSON (backend_json.hpp).
// Every request but GET /api/v1/health needs "Authorization: Bearer <key>" with a key the
// backend knows and has not revoked.
//
// Errors are always {"error": "..."}:
//   400  malformed JSON, wrong types, unknown fields or query parameters, bad path segments
//        (not URL-decodable, NUL, "." or ".."), a run id that is not 32 lowercase hex digits,
//        and a ferry::ValueError from the backend on a route that creates something
//        (register, create run, logs: e.g. an unknown flow version id)
//   401  no, unknown or revoked API key
//   404  unknown route; a getter that finds nothing; a ferry::ValueError from the backend
//        (not from parsing the request, which is always 400) on a route that addresses an
//        existing resource by its path (/flow-runs/{id}/..., /agents/{id}/heartbeat,
//        /secrets/{name}: the run, agent or secret does not exist)
//   405  a known path with another method (Allow lists the methods)
//   413  a body over max_body_bytes
//   503  secrets without a SecretBox; GET /api/v1/health when the backend does not answer
//   500  any other error (503 instead when the backend also fails a trivial query: the
//        database is down, and clients retry); secret routes never pass backend text along,
//        so no value leaks.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "server/secret_box.hpp"

namespace ferry::server {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // as sent: still percent-encoded, without the query
  Fields query;        // decoded names and values
  Fields headers;
  std::string body;

  // The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Fields headers;  // extra headers (Allow, WWW-Authenticate)
};

struct ApiOptions {
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  // Without one the secret routes answer 503.
  std::shared_ptr<const SecretBox> secret_box;
};

class ApiHandler {
 public:
  explicit ApiHandler(backend::Backend& backend, ApiOptions options = {});
  ~ApiHandler();
  ApiHandler(const ApiHandler&) = delete;
  ApiHandler& operator=(const ApiHandler&) = delete;

  // Never throws (an unexpected exception is a 500). Thread-safe.
  ApiResponse handle(const ApiRequest& request);
  ApiResponse operator()(const ApiRequest& request) { return handle(request); }

  const ApiOptions& options() const { return options_; }

  struct Route;  // one entry of the route table (api_handler.cpp)

 private:
  ApiResponse dispatch(const ApiRequest& request, std::string& route_name);
  std::string metrics_text();
  void count(const std::string& route, int status);
  void observe_claim(double seconds);

  backend::Backend& backend_;
  ApiOptions options_;

  std::mutex metrics_mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::vector<std::uint64_t> claim_buckets_;  // cumulative counts per bucket bound
  std::uint64_t claim_count_ = 0;
  double claim_sum_ = 0;
};

}  // namespace ferry::server
