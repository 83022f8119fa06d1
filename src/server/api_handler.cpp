#include "server/api_handler.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>

#include "backend/backend_json.hpp"
#include "core/text.hpp"
#include "ferry/error.hpp"
#include "server/api_keys.hpp"

namespace ferry::server {

namespace {

using backend::Backend;
using backend::to_json;
using backend::json::ObjectReader;
using detail::iequals;

// Bodies nested deeper than this are refused before parsing: the values are stored and
// dumped again recursively, and a body of 4 MiB of '[' would otherwise exhaust the stack.
constexpr int kMaxJsonDepth = 64;

// Upper bounds of the claim-time histogram, in seconds.
constexpr double kClaimBuckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// Thrown inside the handler and turned into a JSON error answer.
struct ApiError {
  int status;
  std::string message;
  Fields headers{};
};

std::string dump(const Value& v) { return v.dump(-1, ' ', false, Value::error_handler_t::replace); }

// A name for error messages: JSON-quoted, so control characters and invalid UTF-8 stay
// readable and harmless.
std::string json_quoted(std::string_view text) { return dump(Value(std::string(text))); }

ApiResponse json_response(int status, const Value& body) {
  ApiResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

ApiResponse no_content() {
  ApiResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

ApiResponse error_response(int status, const std::string& message, Fields headers = {}) {
  ApiResponse r = json_response(status, Value{{"error", message}});
  r.headers = std::move(headers);
  return r;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits the raw path at '/' and percent-decodes each segment, so an encoded '/' stays
// inside its name. NUL, "." and ".." are refused outright: names reach the backend only as
// bound parameters, but nothing should ever look like a path trick further on.
std::vector<std::string> split_path(std::string_view path) {
  if (path.empty() || path.front() != '/') throw ApiError{400, "the path must start with '/'"};
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (true) {
    std::size_t end = path.find('/', start);
    std::string_view raw = path.substr(start, end == std::string_view::npos ? end : end - start);
    std::string decoded;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '%') {
        decoded.push_back(raw[i]);
        continue;
      }
      int hi = i + 1 < raw.size() ? hex_value(raw[i + 1]) : -1;
      int lo = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        throw ApiError{400, "the path has a '%' not followed by two hex digits"};
      }
      decoded.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
    if (decoded.find('\0') != std::string::npos) {
      throw ApiError{400, "a path segment contains a NUL character"};
    }
    if (decoded == "." || decoded == "..") {
      throw ApiError{400, "a path segment is \".\" or \"..\", which no resource is named"};
    }
    segments.push_back(std::move(decoded));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return segments;
}

// Refuses JSON nested deeper than kMaxJsonDepth (brackets outside strings).
void check_depth(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw ApiError{400, "the JSON body is nested deeper than " + std::to_string(kMaxJsonDepth) +
                                " levels"};
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// What one route handler gets.
struct Call {
  const ApiRequest& request;
  std::vector<std::string> params;  // the decoded {placeholders}, in order
  Backend& backend_;
  const SecretBox* secret_box;
  std::function<void(double)> observe_claim;
  std::function<std::string()> metrics;
  // Set on the first use of the backend: a ValueError before it is the request's own
  // (codec, parameters: 400); after it, the backend's (the route decides: 400 or 404).
  bool reached_backend = false;

  Backend& backend() {
    reached_backend = true;
    return backend_;
  }

  // The body as a JSON document (never echoing it in errors: it may hold a secret).
  Value body() const {
    if (request.body.empty()) throw ApiError{400, "malformed JSON body: the body is empty"};
    check_depth(request.body);
    try {
      return Value::parse(request.body);
    } catch (const Value::parse_error& e) {
      throw ApiError{400, "malformed JSON body: syntax error at byte " + std::to_string(e.byte)};
    } catch (const Value::out_of_range&) {
      // nlohmann's error 406: a number a double cannot hold ("1e999").
      throw ApiError{400, "malformed JSON body: a number is out of range"};
    }
  }
  void no_body() const {
    if (!request.body.empty()) throw ApiError{400, "this route takes no body"};
  }

  // Query parameters: only those named in `allowed`, each at most once.
  std::optional<std::string> query(const char* name) const {
    std::optional<std::string> found;
    for (const auto& [k, v] : request.query) {
      if (k != name) continue;
      if (found) throw ApiError{400, "query parameter \"" + std::string(name) + "\" is repeated"};
      found = v;
    }
    return found;
  }
  void allow_query(std::initializer_list<const char*> allowed) const {
    for (const auto& param : request.query) {
      const std::string& k = param.first;  // clang 14 cannot capture a structured binding
      bool known =
          std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; });
      if (!known) throw ApiError{400, "unknown query parameter " + json_quoted(k)};
    }
  }
  std::int64_t query_int(const char* name, std::int64_t fallback, std::int64_t min,
                         std::int64_t max) const {
    std::optional<std::string> text = query(name);
    if (!text) return fallback;
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size() || text->empty()) {
      throw ApiError{400, "query parameter \"" + std::string(name) +
                              "\": expected an integer, got " + json_quoted(*text)};
    }
    if (n < min || n > max) {
      throw ApiError{400, "query parameter \"" + std::string(name) + "\": expected " +
                              std::to_string(min) + " to " + std::to_string(max) + ", got " +
                              *text};
    }
    return n;
  }

  // A path parameter that must be a flow run id: 32 lowercase hex digits.
  const std::string& run_id(std::size_t i) const {
    const std::string& id = params.at(i);
    bool ok = id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
              });
    if (!ok)
      throw ApiError{400, "flow run id " + json_quoted(id) + ": expected 32 lowercase hex digits"};
    return id;
  }
  std::int64_t int_param(std::size_t i, const char* what) const {
    const std::string& text = params.at(i);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 1) {
      throw ApiError{400,
                     std::string(what) + " " + json_quoted(text) + ": expected a positive integer"};
    }
    return n;
  }
  const SecretBox& box() const {
    if (!secret_box) {
      throw ApiError{503,
                     "this server has no secret store: start it with FERRY_SERVER_SECRET_KEY set "
                     "(64 hex digits, e.g. from `openssl rand -hex 32`)"};
    }
    return *secret_box;
  }
};

// What a backend ferry::ValueError means on a route.
enum class OnValueError { BadRequest, NotFound };

}  // namespace

struct ApiHandler::Route {
  const char* method;
  const char* pattern;
  bool auth;
  OnValueError on_value_error;
  bool secret;  // never pass backend error text along
  std::function<ApiResponse(Call&)> run;
  std::vector<std::string> segments{};  // split pattern; "{...}" is a placeholder
  int literals = 0;
};

namespace {

Value array_of(const auto& items) {
  Value out = Value::array();
  for (const auto& item : items) out.push_back(to_json(item));
  return out;
}

std::vector<ApiHandler::Route> make_routes() {
  using R = ApiHandler::Route;
  constexpr auto BadRequest = OnValueError::BadRequest;
  constexpr auto NotFound = OnValueError::NotFound;
  std::vector<R> routes = {
      {"GET", "/api/v1/health", false, BadRequest, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         try {
           c.backend().find_api_key(hash_api_key(""));
         } catch (const std::exception&) {
           return error_response(503, "the backend does not answer");
         }
         return json_response(200, Value{{"status", "ok"}});
       }},
      {"GET", "/metrics", true, BadRequest, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         ApiResponse r;
         r.content_type = "text/plain; version=0.0.4";
         r.body = c.metrics();
         return r;
       }},
      // Flows and versions.
      {"POST", "/api/v1/flow-versions", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         auto spec = backend::flow_version_spec_from_json(c.body());
         backend::RegisterOutcome o = c.backend().register_flow_version(spec);
         return json_response(o.created ? 201 : 200, to_json(o));
       }},
      {"GET", "/api/v1/flow-versions/{id}", true, NotFound, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         auto v = c.backend().get_flow_version_by_id(c.int_param(0, "flow version id"));
         if (!v) throw ApiError{404, "no flow version with id " + c.params[0]};
         return json_response(200, to_json(*v));
       }},
      {"GET", "/api/v1/flows", true, BadRequest, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({"project"});
         auto flows = c.backend().list_flows(c.query("project").value_or(""));
         return json_response(200, Value{{"flows", array_of(flows)}});
       }},
      {"GET", "/api/v1/flows/{project}/{flow}", true, NotFound, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({"version"});
         std::optional<int> version;
         if (c.query("version")) version = static_cast<int>(c.query_int("version", 0, 1, 1 << 30));
         auto v = c.backend().get_flow_version(c.params[0], c.params[1], version);
         if (!v) {
           throw ApiError{404, "no flow " + json_quoted(c.params[1]) + " in project " +
                                   json_quoted(c.params[0]) +
                                   (version ? " with version " + std::to_string(*version) : "")};
         }
         return json_response(200, to_json(*v));
       }},
      // Runs.
      {"POST", "/api/v1/flow-runs", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         Value body = c.body();
         ObjectReader r(body);
         std::int64_t version_id = r.int64("flow_version_id");
         Value parameters = r.any_or("parameters", Value::object());
         auto labels = r.strings_or("labels", {});
         r.done();
         return json_response(201,
                              to_json(c.backend().create_flow_run(version_id, parameters, labels)));
       }},
      {"GET", "/api/v1/flow-runs", true, BadRequest, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({"project", "flow", "state", "limit"});
         backend::RunFilter f;
         f.project = c.query("project").value_or("");
         f.flow_name = c.query("flow").value_or("");
         if (auto s = c.query("state")) {
           f.state = state_from_string(*s);
           if (!f.state) {
             throw ApiError{
                 400, "query parameter \"state\": expected a state name, got " + json_quoted(*s)};
           }
         }
         f.limit = static_cast<int>(c.query_int("limit", 100, 0, 100000));  // 0: no limit
         return json_response(200, Value{{"flow_runs", array_of(c.backend().list_flow_runs(f))}});
       }},
      {"POST", "/api/v1/flow-runs/claim", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         Value body = c.body();
         ObjectReader r(body);
         std::string agent_id = r.string("agent_id");
         auto labels = r.strings_or("labels", {});
         int max_runs = r.int32_or("max_runs", 1);
         r.done();
         if (max_runs < 1 || max_runs > 1000) {
           throw ApiError{
               400, "field \"max_runs\": expected 1 to 1000, got " + std::to_string(max_runs)};
         }
         auto start = std::chrono::steady_clock::now();
         auto runs = c.backend().claim_flow_runs(agent_id, labels, max_runs);
         c.observe_claim(
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
         return json_response(200, Value{{"flow_runs", array_of(runs)}});
       }},
      {"GET", "/api/v1/flow-runs/counts", true, BadRequest, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         Value counts = Value::object();
         for (const auto& [state, n] : c.backend().count_flow_runs_by_state()) {
           counts[to_string(state)] = n;
         }
         return json_response(200, Value{{"counts", counts}});
       }},
      {"POST", "/api/v1/flow-runs/heartbeat", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         Value body = c.body();
         ObjectReader r(body);
         auto ids = r.strings("run_ids");
         r.done();
         c.backend().heartbeat_flow_runs(ids);
         return no_content();
       }},
      {"POST", "/api/v1/flow-runs/mark-lost", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         Value body = c.body();
         ObjectReader r(body);
         std::int64_t timeout = r.int64("timeout_ms");
         r.done();
         if (timeout < 0) throw ApiError{400, "field \"timeout_ms\": expected 0 or more"};
         auto ids = c.backend().mark_lost_runs(std::chrono::milliseconds(timeout));
         return json_response(200, Value{{"run_ids", ids}});
       }},
      {"GET", "/api/v1/flow-runs/{id}", true, NotFound, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         auto run = c.backend().get_flow_run(c.run_id(0));
         if (!run) throw ApiError{404, "no flow run " + c.params[0]};
         return json_response(200, to_json(*run));
       }},
      {"POST", "/api/v1/flow-runs/{id}/state", true, NotFound, false,
       [](Call& c) {
         c.allow_query({});
         const std::string& id = c.run_id(0);
         Value body = c.body();
         ObjectReader r(body);
         State state = r.state("state");
         std::string message = r.string_or("message", "");
         r.done();
         c.backend().set_flow_run_state(id, state, message);
         return no_content();
       }},
      {"PUT", "/api/v1/flow-runs/{id}/result", true, NotFound, false,
       [](Call& c) {
         c.allow_query({});
         const std::string& id = c.run_id(0);
         Value body = c.body();
         ObjectReader r(body);
         Value result = r.any("result");
         r.done();
         c.backend().set_flow_run_result(id, result);
         return no_content();
       }},
      {"PUT", "/api/v1/flow-runs/{id}/pinned", true, NotFound, false,
       [](Call& c) {
         c.allow_query({});
         const std::string& id = c.run_id(0);
         Value body = c.body();
         ObjectReader r(body);
         Value pinned = r.any("pinned");
         r.done();
         c.backend().set_flow_run_pinned(id, pinned);
         return no_content();
       }},
      // Task runs.
      {"GET", "/api/v1/flow-runs/{id}/task-runs", true, NotFound, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         auto tasks = c.backend().get_task_runs(c.run_id(0));
         return json_response(200, Value{{"task_runs", array_of(tasks)}});
       }},
      {"PUT", "/api/v1/flow-runs/{id}/task-runs/{task}", true, NotFound, false,
       [](Call& c) {
         c.allow_query({});
         const std::string& id = c.run_id(0);
         Value body = c.body();
         ObjectReader r(body);
         State state = r.state("state");
         std::string message = r.string_or("message", "");
         int attempts = r.int32_or("attempts", 0);
         std::string location = r.string_or("result_location", "");
         r.done();
         c.backend().set_task_run_state(id, c.params[1], state, message, attempts, location);
         return no_content();
       }},
      // Logs.
      {"POST", "/api/v1/logs", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         Value body = c.body();
         ObjectReader r(body);
         const Value& items = r.array("lines");
         std::vector<backend::LogLine> lines;
         lines.reserve(items.size());
         for (std::size_t i = 0; i < items.size(); ++i) {
           try {
             lines.push_back(backend::log_line_from_json(items[i]));
           } catch (const ValueError& e) {
             throw ApiError{400, "lines[" + std::to_string(i) + "]: " + e.what()};
           }
         }
         r.done();
         c.backend().add_logs(lines);
         return no_content();
       }},
      {"GET", "/api/v1/flow-runs/{id}/logs", true, NotFound, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({"after_seq", "limit"});
         const std::string& id = c.run_id(0);
         std::int64_t after = c.query_int("after_seq", 0, 0, INT64_MAX);
         int limit = static_cast<int>(c.query_int("limit", 10000, 0, 1000000));  // 0: no limit
         return json_response(200,
                              Value{{"logs", array_of(c.backend().get_logs(id, after, limit))}});
       }},
      // Agents.
      {"POST", "/api/v1/agents", true, BadRequest, false,
       [](Call& c) {
         c.allow_query({});
         c.backend().register_agent(backend::agent_from_json(c.body()));
         return no_content();
       }},
      {"GET", "/api/v1/agents", true, BadRequest, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         return json_response(200, Value{{"agents", array_of(c.backend().list_agents())}});
       }},
      {"POST", "/api/v1/agents/{id}/heartbeat", true, NotFound, false,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         c.backend().heartbeat_agent(c.params[0]);
         return no_content();
       }},
      // Secrets: sealed before they reach the backend, opened after.
      {"GET", "/api/v1/secrets", true, BadRequest, true,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         c.box();
         return json_response(200, Value{{"names", c.backend().list_secrets()}});
       }},
      {"PUT", "/api/v1/secrets/{name}", true, BadRequest, true,
       [](Call& c) {
         c.allow_query({});
         const SecretBox& box = c.box();
         Value body = c.body();
         ObjectReader r(body);
         std::string value = r.string("value");
         r.done();
         c.backend().put_secret(c.params[0], box.seal(value, c.params[0]));
         return no_content();
       }},
      {"GET", "/api/v1/secrets/{name}", true, NotFound, true,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         const SecretBox& box = c.box();
         auto sealed = c.backend().get_secret(c.params[0]);
         if (!sealed) throw ApiError{404, "no secret " + json_quoted(c.params[0])};
         return json_response(
             200, Value{{"name", c.params[0]}, {"value", box.open(*sealed, c.params[0])}});
       }},
      {"DELETE", "/api/v1/secrets/{name}", true, NotFound, true,
       [](Call& c) {
         c.no_body();
         c.allow_query({});
         c.box();
         if (!c.backend().delete_secret(c.params[0])) {
           throw ApiError{404, "no secret " + json_quoted(c.params[0])};
         }
         return no_content();
       }},
  };
  for (R& r : routes) {
    r.segments = split_path(r.pattern);
    r.literals = static_cast<int>(std::count_if(r.segments.begin(), r.segments.end(),
                                                [](const std::string& s) { return s[0] != '{'; }));
  }
  return routes;
}

const std::vector<ApiHandler::Route>& routes() {
  static const std::vector<ApiHandler::Route> table = make_routes();
  return table;
}

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::optional<std::string> ApiRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

ApiHandler::ApiHandler(backend::Backend& backend, ApiOptions options)
    : backend_(backend), options_(std::move(options)), claim_buckets_(std::size(kClaimBuckets), 0) {
  routes();  // builds the table now, not on the first request
}

ApiHandler::~ApiHandler() = default;

ApiResponse ApiHandler::handle(const ApiRequest& request) {
  std::string route = " unmatched";  // "METHOD PATTERN"; no method when none matched
  ApiResponse response;
  try {
    response = dispatch(request, route);
  } catch (const ApiError& e) {
    response = error_response(e.status, e.message, e.headers);
  } catch (const std::exception&) {
    response = error_response(500, "internal error");
  } catch (...) {
    response = error_response(500, "internal error");
  }
  count(route, response.status);
  return response;
}

ApiResponse ApiHandler::dispatch(const ApiRequest& request, std::string& route_name) {
  if (request.body.size() > options_.max_body_bytes) {
    throw ApiError{413, "the body is " + std::to_string(request.body.size()) +
                            " bytes; this server takes at most " +
                            std::to_string(options_.max_body_bytes)};
  }
  std::vector<std::string> segments = split_path(request.path);

  // The most specific routes matching the path (literal segments beat placeholders, so
  // /flow-runs/claim is never read as a run id).
  std::vector<const Route*> matches;
  int best = -1;
  for (const Route& r : routes()) {
    if (r.segments.size() != segments.size()) continue;
    bool match = true;
    for (std::size_t i = 0; match && i < segments.size(); ++i) {
      const std::string& p = r.segments[i];
      match = p[0] == '{' ? !segments[i].empty() : p == segments[i];
    }
    if (!match) continue;
    if (r.literals > best) {
      matches.clear();
      best = r.literals;
    }
    if (r.literals == best) matches.push_back(&r);
  }
  const Route* route = nullptr;
  for (const Route* r : matches) {
    if (r->method == request.method) route = r;
  }
  if (route) {
    route_name = std::string(route->method) + " " + route->pattern;
  } else if (!matches.empty()) {
    route_name = std::string(" ") + matches.front()->pattern;
  }
  bool needs_auth = route ? route->auth : true;
  if (needs_auth) {
    std::optional<std::string> auth = request.header("Authorization");
    std::string key;
    if (auth && auth->size() > 7 && iequals(std::string_view(*auth).substr(0, 7), "Bearer ")) {
      key = detail::trim(std::string_view(*auth).substr(7));
    }
    Fields challenge = {{"WWW-Authenticate", "Bearer"}};
    if (key.empty()) {
      throw ApiError{401,
                     "missing API key: send the header \"Authorization: Bearer <key>\" (an "
                     "operator makes keys with `ferry server api-key create NAME`)",
                     challenge};
    }
    std::optional<std::string> name;
    // Anything much longer than a key is not one; no need to hash megabytes.
    if (key.size() <= 256) name = backend_.find_api_key(hash_api_key(key));
    if (!name) throw ApiError{401, "unknown or revoked API key", challenge};
  }
  if (!route) {
    if (matches.empty()) throw ApiError{404, "no such route: " + json_quoted(request.path)};
    std::string allow;
    for (const Route* r : matches) allow += (allow.empty() ? "" : ", ") + std::string(r->method);
    throw ApiError{405,
                   "method " + json_quoted(request.method) + " not allowed here; use " + allow,
                   {{"Allow", allow}}};
  }

  Call call{request,
            {},
            backend_,
            options_.secret_box.get(),
            [this](double s) { observe_claim(s); },
            [this] { return metrics_text(); }};
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (route->segments[i][0] == '{') call.params.push_back(segments[i]);
  }
  try {
    return route->run(call);
  } catch (const ApiError&) {
    throw;
  } catch (const ValueError& e) {
    // From the codec (before the backend ran) or the backend: either way the caller's input.
    int status =
        call.reached_backend && route->on_value_error == OnValueError::NotFound ? 404 : 400;
    std::string message = e.what();
    if (route->secret && message.find("field \"") != 0) message = "invalid secret request";
    throw ApiError{status, message};
  } catch (const Error& e) {
    // A backend that fails on a trivial query too is down (a database restarting): 503, which
    // clients retry. Otherwise the request itself failed: 500.
    bool down = false;
    try {
      backend_.find_api_key(hash_api_key(""));
    } catch (const std::exception&) {
      down = true;
    }
    std::string what = e.what();
    if (route->secret && what.find("could not be decrypted") == std::string::npos) {
      what = "the secret store failed";
    }
    throw ApiError{down ? 503 : 500, down ? "the backend is unavailable: " + what : what};
  }
}

void ApiHandler::count(const std::string& route, int status) {
  std::lock_guard lock(metrics_mutex_);
  ++requests_[{route, status}];
}

void ApiHandler::observe_claim(double seconds) {
  std::lock_guard lock(metrics_mutex_);
  for (std::size_t i = 0; i < std::size(kClaimBuckets); ++i) {
    if (seconds <= kClaimBuckets[i]) ++claim_buckets_[i];
  }
  ++claim_count_;
  claim_sum_ += seconds;
}

std::string ApiHandler::metrics_text() {
  auto counts = backend_.count_flow_runs_by_state();
  std::ostringstream out;
  out << "# HELP ferry_flow_runs Flow runs by state.\n# TYPE ferry_flow_runs gauge\n";
  for (const auto& [state, n] : counts) {
    out << "ferry_flow_runs{state=\"" << to_string(state) << "\"} " << n << "\n";
  }
  std::lock_guard lock(metrics_mutex_);
  out << "# HELP ferry_claim_seconds Time spent claiming flow runs.\n"
         "# TYPE ferry_claim_seconds histogram\n";
  for (std::size_t i = 0; i < std::size(kClaimBuckets); ++i) {
    out << "ferry_claim_seconds_bucket{le=\"" << format_double(kClaimBuckets[i]) << "\"} "
        << claim_buckets_[i] << "\n";
  }
  out << "ferry_claim_seconds_bucket{le=\"+Inf\"} " << claim_count_ << "\n"
      << "ferry_claim_seconds_sum " << format_double(claim_sum_) << "\n"
      << "ferry_claim_seconds_count " << claim_count_ << "\n";
  out << "# HELP ferry_http_requests_total HTTP requests by route pattern and status.\n"
         "# TYPE ferry_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    std::size_t space = key.first.find(' ');
    out << "ferry_http_requests_total{method=\"" << key.first.substr(0, space) << "\",route=\""
        << key.first.substr(space + 1) << "\",status=\"" << key.second << "\"} " << n << "\n";
  }
  return out.str();
}

}  // namespace ferry::server
