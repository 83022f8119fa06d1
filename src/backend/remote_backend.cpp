#include "backend/remote_backend.hpp"

#include <algorithm>
#include <thread>

#include "backend/backend_json.hpp"
#include "ferry/error.hpp"
#include "net/http_client.hpp"

namespace ferry::backend {

namespace {

using namespace std::chrono_literals;
using Params = net::Fields;

constexpr std::chrono::milliseconds kFirstWait = 100ms;
constexpr std::chrono::milliseconds kMaxWait = 2s;
constexpr double kRequestTimeoutSeconds = 120;

std::string seg(const std::string& s) { return net::url_encode(s); }

bool is_run_id(const std::string& id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A request that got no answer at all is worth retrying unless it can never succeed:
// TLS verification and URL problems stay the same on every attempt.
bool retryable_failure(const std::string& message) {
  for (const char* fatal : {"SSL", "certificate", "URL", "Unsupported protocol"}) {
    if (message.find(fatal) != std::string::npos) return false;
  }
  return true;
}

bool retryable_status(long status) { return status == 502 || status == 503 || status == 504; }

// The server's {"error": ...}, or the start of whatever it sent.
std::string server_message(const net::Response& r) {
  try {
    Value v = Value::parse(r.body);
    if (v.is_object() && v.contains("error") && v["error"].is_string()) {
      return v["error"].get<std::string>();
    }
  } catch (const std::exception&) {
  }
  std::string text = r.body.substr(0, 200);
  return text.empty() ? std::string(net::reason_phrase(r.status)) : text;
}

class RemoteBackend final : public Backend {
 public:
  explicit RemoteBackend(RemoteOptions o) : options_(std::move(o)) {
    while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
    if (options_.url.rfind("http://", 0) != 0 && options_.url.rfind("https://", 0) != 0) {
      throw ValueError("the ferry server URL must start with http:// or https:// (got \"" +
                       net::redact_url(options_.url) + "\")");
    }
    if (options_.api_key.empty()) {
      throw ValueError("no API key for the ferry server at " + net::redact_url(options_.url) +
                       ": set FERRY_API_KEY to a key made by `ferry server api-key create NAME`");
    }
    display_ = net::redact_url(options_.url);
  }

  RegisterOutcome register_flow_version(const FlowVersionSpec& spec) override {
    return register_outcome_from_json(*call("POST", "/flow-versions", {}, to_json(spec)));
  }

  std::optional<FlowVersion> get_flow_version(const std::string& project,
                                              const std::string& flow_name,
                                              std::optional<int> version) override {
    Params params;
    if (version) params.emplace_back("version", std::to_string(*version));
    auto v = call("GET", "/flows/" + seg(project) + "/" + seg(flow_name), params, {}, true);
    if (!v) return std::nullopt;
    return flow_version_from_json(*v);
  }

  std::optional<FlowVersion> get_flow_version_by_id(std::int64_t id) override {
    if (id < 1) return std::nullopt;
    auto v = call("GET", "/flow-versions/" + std::to_string(id), {}, {}, true);
    if (!v) return std::nullopt;
    return flow_version_from_json(*v);
  }

  std::vector<FlowVersion> list_flows(const std::string& project) override {
    Params params;
    if (!project.empty()) params.emplace_back("project", project);
    return list<FlowVersion>(*call("GET", "/flows", params), "flows", flow_version_from_json);
  }

  FlowRun create_flow_run(std::int64_t flow_version_id, const Value& parameters,
                          const std::vector<std::string>& labels) override {
    Value body{
        {"flow_version_id", flow_version_id}, {"parameters", parameters}, {"labels", labels}};
    return flow_run_from_json(*call("POST", "/flow-runs", {}, body));
  }

  std::vector<FlowRun> claim_flow_runs(const std::string& agent_id,
                                       const std::vector<std::string>& agent_labels,
                                       int max_runs) override {
    if (max_runs < 1) return {};
    Value body{{"agent_id", agent_id}, {"labels", agent_labels}, {"max_runs", max_runs}};
    return list<FlowRun>(*call("POST", "/flow-runs/claim", {}, body), "flow_runs",
                         flow_run_from_json);
  }

  std::optional<FlowRun> get_flow_run(const std::string& run_id) override {
    if (!is_run_id(run_id)) return std::nullopt;  // the server refuses it; none has that id
    auto v = call("GET", "/flow-runs/" + run_id, {}, {}, true);
    if (!v) return std::nullopt;
    return flow_run_from_json(*v);
  }

  std::vector<FlowRun> list_flow_runs(const RunFilter& filter) override {
    Params params;
    if (!filter.project.empty()) params.emplace_back("project", filter.project);
    if (!filter.flow_name.empty()) params.emplace_back("flow", filter.flow_name);
    if (filter.state) params.emplace_back("state", to_string(*filter.state));
    params.emplace_back("limit", std::to_string(std::max(filter.limit, 0)));
    return list<FlowRun>(*call("GET", "/flow-runs", params), "flow_runs", flow_run_from_json);
  }

  std::vector<std::pair<State, std::int64_t>> count_flow_runs_by_state() override {
    Value v = *call("GET", "/flow-runs/counts");
    json::ObjectReader r(v);
    const Value counts = r.any("counts");
    r.done();
    if (!counts.is_object()) throw malformed("counts is not an object");
    std::vector<std::pair<State, std::int64_t>> out;
    for (auto it = counts.begin(); it != counts.end(); ++it) {
      std::optional<State> s = state_from_string(it.key());
      if (!s || !it->is_number_integer()) throw malformed("bad entry in counts");
      out.emplace_back(*s, it->get<std::int64_t>());
    }
    return out;
  }

  void set_flow_run_state(const std::string& run_id, State state,
                          const std::string& message) override {
    call("POST", "/flow-runs/" + seg(run_id) + "/state", {},
         Value{{"state", to_string(state)}, {"message", message}});
  }

  void set_flow_run_result(const std::string& run_id, const Value& result) override {
    call("PUT", "/flow-runs/" + seg(run_id) + "/result", {}, Value{{"result", result}});
  }

  void set_flow_run_pinned(const std::string& run_id, const Value& pinned) override {
    call("PUT", "/flow-runs/" + seg(run_id) + "/pinned", {}, Value{{"pinned", pinned}});
  }

  void heartbeat_flow_runs(const std::vector<std::string>& run_ids) override {
    if (run_ids.empty()) return;
    call("POST", "/flow-runs/heartbeat", {}, Value{{"run_ids", run_ids}});
  }

  std::vector<std::string> mark_lost_runs(std::chrono::milliseconds timeout) override {
    Value v = *call("POST", "/flow-runs/mark-lost", {}, Value{{"timeout_ms", timeout.count()}});
    json::ObjectReader r(v);
    auto ids = r.strings("run_ids");
    r.done();
    return ids;
  }

  void set_task_run_state(const std::string& run_id, const std::string& task_name, State state,
                          const std::string& message, int attempts,
                          const std::string& result_location) override {
    call("PUT", "/flow-runs/" + seg(run_id) + "/task-runs/" + seg(task_name), {},
         Value{{"state", to_string(state)},
               {"message", message},
               {"attempts", attempts},
               {"result_location", result_location}});
  }

  std::vector<TaskRun> get_task_runs(const std::string& run_id) override {
    if (!is_run_id(run_id)) return {};
    auto v = call("GET", "/flow-runs/" + run_id + "/task-runs", {}, {}, true);
    if (!v) return {};
    return list<TaskRun>(*v, "task_runs", task_run_from_json);
  }

  void add_logs(const std::vector<LogLine>& lines) override {
    if (lines.empty()) return;
    Value items = Value::array();
    for (const LogLine& l : lines) items.push_back(to_json(l));
    call("POST", "/logs", {}, Value{{"lines", std::move(items)}});
  }

  std::vector<LogLine> get_logs(const std::string& run_id, std::int64_t after_seq,
                                int limit) override {
    if (!is_run_id(run_id)) return {};
    Params params = {{"after_seq", std::to_string(std::max<std::int64_t>(after_seq, 0))},
                     {"limit", std::to_string(std::max(limit, 0))}};
    auto v = call("GET", "/flow-runs/" + run_id + "/logs", params, {}, true);
    if (!v) return {};
    return list<LogLine>(*v, "logs", log_line_from_json);
  }

  void register_agent(const Agent& agent) override { call("POST", "/agents", {}, to_json(agent)); }

  void heartbeat_agent(const std::string& agent_id) override {
    call("POST", "/agents/" + seg(agent_id) + "/heartbeat");
  }

  std::vector<Agent> list_agents() override {
    return list<Agent>(*call("GET", "/agents"), "agents", agent_from_json);
  }

  void add_api_key(const std::string&, const std::string&) override { keys_on_server(); }
  std::optional<std::string> find_api_key(const std::string&) override { keys_on_server(); }
  bool revoke_api_key(const std::string&) override { keys_on_server(); }
  std::vector<ApiKey> list_api_keys() override { keys_on_server(); }

  void put_secret(const std::string& name, const std::string& value) override {
    call("PUT", "/secrets/" + seg(name), {}, Value{{"value", value}});
  }

  std::optional<std::string> get_secret(const std::string& name) override {
    auto v = call("GET", "/secrets/" + seg(name), {}, {}, true);
    if (!v) return std::nullopt;
    json::ObjectReader r(*v);
    r.string("name");
    std::string value = r.string("value");
    r.done();
    return value;
  }

  bool delete_secret(const std::string& name) override {
    return call("DELETE", "/secrets/" + seg(name), {}, {}, true).has_value();
  }

  std::vector<std::string> list_secrets() override {
    Value v = *call("GET", "/secrets");
    json::ObjectReader r(v);
    auto names = r.strings("names");
    r.done();
    return names;
  }

 private:
  [[noreturn]] static void keys_on_server() {
    throw Error(
        "API keys are managed on the server: ferry server api-key create|list|revoke, run where "
        "the server's database is");
  }

  Error malformed(const std::string& what) const {
    return Error("the ferry server at " + display_ + " sent an unexpected answer: " + what);
  }

  template <class T, class F>
  std::vector<T> list(const Value& v, const char* field, F parse) const {
    json::ObjectReader r(v);
    const Value& items = r.array(field);
    std::vector<T> out;
    out.reserve(items.size());
    for (const Value& item : items) out.push_back(parse(item));
    r.done();
    return out;
  }

  // Sends one API call (retrying as described in the header) and returns its JSON answer
  // (null for 204), or nullopt for 404 when `not_found_is_empty`.
  std::optional<Value> call(const std::string& method, const std::string& path,
                            const Params& params = {}, const std::optional<Value>& body = {},
                            bool not_found_is_empty = false) {
    net::Request req;
    req.method = method;
    req.url = options_.url + "/api/v1" + path;
    req.display_url = display_ + "/api/v1" + path;
    req.params = params;
    req.headers = {{"Authorization", "Bearer " + options_.api_key}, {"Accept", "application/json"}};
    if (body) {
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body->dump(-1, ' ', false, Value::error_handler_t::replace);
      req.send_body = true;
    }
    req.ca_file = options_.ca_file;
    req.timeout_seconds = kRequestTimeoutSeconds;
    req.follow_redirects = false;  // the key must not follow a redirect elsewhere
    req.max_retries = 0;           // retried here, for as long as retry_for allows

    auto deadline = std::chrono::steady_clock::now() + options_.retry_for;
    std::chrono::milliseconds wait = kFirstWait;
    net::Response r;
    while (true) {
      std::string failure;
      try {
        r = net::send(req);
        if (!retryable_status(r.status)) break;
        failure = "HTTP " + std::to_string(r.status) + ": " + server_message(r);
      } catch (const net::HttpError& e) {
        if (!retryable_failure(e.what())) {
          throw Error("could not reach the ferry server at " + display_ + ": " + e.what());
        }
        failure = e.what();
      }
      if (std::chrono::steady_clock::now() + wait > deadline) {
        throw Error("the ferry server at " + display_ + " did not answer " + method + " " +
                    "/api/v1" + path + " within " + std::to_string(options_.retry_for.count()) +
                    " s (last: " + failure + ")");
      }
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, kMaxWait);
    }

    if (r.status == 404 && not_found_is_empty) return std::nullopt;
    if (r.status == 401) {
      throw Error("the ferry server at " + display_ +
                  " refused the API key: set FERRY_API_KEY to a valid key (made by `ferry "
                  "server api-key create NAME`)");
    }
    if (r.status == 400 || r.status == 404 || r.status == 409 || r.status == 413) {
      throw ValueError(server_message(r));
    }
    if (!r.ok()) {
      throw Error("the ferry server at " + display_ + " answered HTTP " + std::to_string(r.status) +
                  " to " + method + " /api/v1" + path + ": " + server_message(r));
    }
    if (r.status == 204 || r.body.empty()) return Value(nullptr);
    try {
      return Value::parse(r.body);
    } catch (const Value::parse_error&) {
      throw malformed("not JSON");
    }
  }

  RemoteOptions options_;
  std::string display_;
};

}  // namespace

std::unique_ptr<Backend> open_remote_backend(RemoteOptions options) {
  return std::make_unique<RemoteBackend>(std::move(options));
}

}  // namespace ferry::backend
