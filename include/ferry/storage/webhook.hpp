// Webhook storage: flows stored and fetched with HTTP requests to a service of your own
// (a file server, an object store's HTTP API, Dropbox, ...). See docs/storage/webhook.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/error.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

// Request options (build_request_kwargs, get_flow_request_kwargs) are a JSON object:
//   url              string, required
//   headers          object name -> string
//   params           object name -> string, number, bool or array of them (repeated)
//   data             string body (or an object, form-encoded); build() replaces it
//   json             a JSON body (Content-Type: application/json unless set)
//   timeout          seconds for the whole request (default 300; null: none)
//   verify           verify TLS certificates (default true)
//   allow_redirects  follow redirects (default true)
// Every string inside (nested objects included, keys excepted) may hold ${NAME} or $NAME
// templates, filled at the moment of the request from the environment, then the secret
// store. `$$` is a literal `$`. The stored descriptor keeps the templates as written.
struct WebhookOptions {
  Value build_request_kwargs{};
  std::string build_request_http_method = "POST";  // GET, PATCH, POST or PUT
  Value get_flow_request_kwargs{};
  std::string get_flow_request_http_method = "GET";  // GET, PATCH, POST or PUT
  bool stored_as_script = false;
  // Script form: the source build() sends (not stored). `ferry register` sets it to the
  // registered source file when it is empty.
  std::string flow_script_path{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// An HTTP request of a Webhook storage that failed: status() is the HTTP status, or 0 when
// no response came back. The message names the method and the URL as written in the
// options (templates unrendered, without userinfo or query), never a header value.
class HttpError : public Error {
 public:
  HttpError(const std::string& message, long status) : Error(message), status_(status) {}
  long status() const { return status_; }

 private:
  long status_;
};

// What the service answered to a build() request.
struct WebhookResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

// Frozen by default: build() sends each flow's package as the build request's body; the
// location recorded is the flow's name, and get_flow() loads the get request's response
// body. Script form: build() sends the source file at flow_script_path, and get_flow()
// compiles the body it gets back. A storage holds one flow: add_flow replaces the previous
// one of any name (as the reference does) and returns the flow's name. No default labels,
// no default result.
class Webhook : public Storage {
 public:
  // Throws ValueError `HTTP method 'X' not recognized` for a method other than GET, PATCH,
  // POST, PUT (exactly), and for malformed request options.
  explicit Webhook(WebhookOptions options);

  // The response to the last build() request for a flow, if there was one, so a caller can
  // read an id the service returned (and, say, set_get_flow_request_kwargs with it).
  std::optional<WebhookResponse> build_response(const std::string& flow_name) const;
  const std::map<std::string, WebhookResponse>& build_responses() const;

  const Value& build_request_kwargs() const;
  const std::string& build_request_http_method() const;
  const Value& get_flow_request_kwargs() const;
  const std::string& get_flow_request_http_method() const;
  void set_get_flow_request_kwargs(Value kwargs);
  const std::string& flow_script_path() const;
};

}  // namespace ferry::storage
