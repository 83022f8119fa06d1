// A small HTTP client on libcurl: one request, bounded retries with backoff on connection
// errors and 429/500/503, and error messages that never carry credentials (no URL userinfo,
// no query string, no header values).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/error.hpp"

namespace ferry::net {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";  // sent verbatim (GET, POST, PUT, PATCH, ...)
  std::string url{};
  Fields params{};   // appended to the URL's query, URL-encoded
  Fields headers{};  // sent as given; no Content-Type is added unless given here
  std::string body{};
  bool send_body = false;        // send `body` (even an empty one) with any method
  double timeout_seconds = 300;  // the whole request, connection included; <= 0: none
  bool verify_tls = true;
  std::string ca_file{};  // PEM CA bundle to verify the server with instead of the system's
  // A TLS client certificate (PEM) and its private key (PEM, unencrypted), for servers that
  // authenticate clients by certificate (a Docker engine on tcp:// with --tlsverify).
  std::string cert_file{};
  std::string key_file{};
  // Connect through this Unix domain socket instead of TCP (a Docker engine's
  // /var/run/docker.sock); the URL's host then only fills the Host header.
  std::string unix_socket{};
  bool follow_redirects = true;
  int max_retries = 3;  // extra attempts after the first, for retryable failures only
  std::chrono::milliseconds backoff{200};  // doubled after every retry
  std::string display_url{};               // how errors name the URL; default redact_url(url)
  // Compute Response::body_sha256 while the body arrives (each chunk is hashed while it is
  // still in the cache, instead of a second pass over the whole body afterwards).
  bool hash_body = false;
  // When set, the body of a 2xx response is handed to it as it arrives (build output, logs)
  // instead of collected in Response::body. Other responses' bodies (error documents, small)
  // are still collected in Response::body, so the caller can report them. Once any byte has
  // been handed over, the request is not retried (the consumer has seen part of an answer).
  // An exception thrown by it aborts the transfer and propagates out of send().
  std::function<void(std::string_view)> on_body{};
};

struct Response {
  long status = 0;
  Fields headers{};  // in the order received, names as sent by the server
  std::string body{};
  int attempts = 0;  // how many times the request was sent
  // With Request::hash_body: SHA-256 (lowercase hex) of exactly `body` (or, with
  // Request::on_body, of the bytes handed to it); else "".
  std::string body_sha256{};
  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

// A request that got no HTTP response (status 0) or, from raise_for_status, a non-2xx one.
class HttpError : public Error {
 public:
  HttpError(const std::string& message, long status) : Error(message), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

// Sends a request. Retries (up to max_retries) on connection failures, a dropped connection
// and statuses 429, 500 and 503, waiting backoff, 2*backoff, ... between attempts (or the
// server's Retry-After seconds, capped at 10 s). Returns the last response whatever its
// status; throws HttpError when no response came back at all.
Response send(const Request& request);

// Throws HttpError "HTTP <status> <reason> from <METHOD> <display url>" unless 2xx.
void raise_for_status(const Request& request, const Response& response);

// The URL with userinfo, query and fragment removed: safe to print.
std::string redact_url(std::string_view url);
// The URL with params appended (percent-encoded, '&'-joined, after any existing query).
std::string url_with_params(std::string_view url, const Fields& params);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string url_encode(std::string_view text);
// application/x-www-form-urlencoded: "a=1&b=x%20y" (names and values url_encode'd).
std::string form_encode(const Fields& fields);
// "Not Found" for 404, ... ("" when unknown).
std::string_view reason_phrase(long status);

}  // namespace ferry::net
