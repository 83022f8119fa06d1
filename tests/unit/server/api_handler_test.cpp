// The HTTP API as a function (no sockets) over a SqliteBackend in a temp folder: routes,
// authentication, every class of bad request, hostile names, secrets and metrics.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "backend/backend_json.hpp"
#include "ferry/error.hpp"
#include "server/api_handler.hpp"
#include "server/api_keys.hpp"
#include "server/secret_box.hpp"
#include "support/test_support.hpp"

namespace {

using ferry::Value;
using ferry::server::ApiHandler;
using ferry::server::ApiOptions;
using ferry::server::ApiRequest;
using ferry::server::ApiResponse;
using ferry::server::Fields;

const std::string kSecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

Value spec_json(const std::string& project, const std::string& flow, const std::string& key) {
  return Value{{"project", project},
               {"flow_name", flow},
               {"graph", {{"tasks", {"a", "b"}}}},
               {"run_config", {{"type", "Universal"}}},
               {"labels", Value::array()},
               {"storage", {{"type", "Local"}, {"path", "/flows/x"}}},
               {"idempotency_key", key}};
}

class ApiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = ferry::backend::open_sqlite_backend((dir_ / "ferry.db").string());
    key_ = ferry::server::new_api_key();
    backend_->add_api_key("tests", ferry::server::hash_api_key(key_));
    ApiOptions options;
    options.max_body_bytes = 64 * 1024;
    options.secret_box = std::make_shared<ferry::server::SecretBox>(kSecretKey);
    handler_ = std::make_unique<ApiHandler>(*backend_, options);
  }

  ApiResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                   Fields query = {}, std::optional<std::string> key = {}) {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.query = std::move(query);
    r.body = body;
    std::string k = key.value_or(key_);
    if (!k.empty()) r.headers.emplace_back("authorization", "Bearer " + k);
    return handler_->handle(r);
  }
  ApiResponse call_json(const std::string& method, const std::string& path, const Value& body) {
    return call(method, path, body.dump());
  }

  // The status, and that an error answer is JSON {"error": "<text>"}; returns the text.
  std::string expect_error(const ApiResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    Value v;
    try {
      v = Value::parse(r.body);
    } catch (const std::exception&) {
      ADD_FAILURE() << "not JSON: " << r.body;
      return "";
    }
    EXPECT_TRUE(v.is_object() && v.size() == 1 && v["error"].is_string()) << r.body;
    return v.value("error", "");
  }

  // The handler still serves ordinary requests.
  void expect_still_working() {
    EXPECT_EQ(call("GET", "/api/v1/health").status, 200);
    EXPECT_EQ(call("GET", "/api/v1/flows").status, 200);
  }

  std::string new_run(const std::string& project = "p", const std::string& flow = "f") {
    ApiResponse reg = call_json("POST", "/api/v1/flow-versions", spec_json(project, flow, "k1"));
    EXPECT_TRUE(reg.status == 201 || reg.status == 200) << reg.body;
    std::int64_t id = Value::parse(reg.body)["version"]["id"];
    ApiResponse run = call_json("POST", "/api/v1/flow-runs", Value{{"flow_version_id", id}});
    EXPECT_EQ(run.status, 201) << run.body;
    return Value::parse(run.body)["id"];
  }

  ferry::test::TempDir dir_;
  std::unique_ptr<ferry::backend::Backend> backend_;
  std::string key_;
  std::unique_ptr<ApiHandler> handler_;
};

TEST_F(ApiHandlerTest, HealthNeedsNoKey) {
  ApiResponse r = call("GET", "/api/v1/health", "", {}, std::string());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Value::parse(r.body), (Value{{"status", "ok"}}));
}

TEST_F(ApiHandlerTest, EverythingElseNeedsAValidUnrevokedKey) {
  std::string msg = expect_error(call("GET", "/api/v1/flows", "", {}, std::string()), 401);
  EXPECT_NE(msg.find("Authorization: Bearer"), std::string::npos) << msg;
  expect_error(call("GET", "/api/v1/flows", "", {}, std::string("ferry_not_a_key")), 401);
  expect_error(call("GET", "/metrics", "", {}, std::string()), 401);
  // Not "Bearer": refused too.
  ApiRequest basic{"GET", "/api/v1/flows", {}, {{"Authorization", "Basic " + key_}}, ""};
  expect_error(handler_->handle(basic), 401);
  // Unknown routes and methods do not tell an unauthenticated caller anything.
  expect_error(call("GET", "/api/v1/nothing", "", {}, std::string()), 401);
  ApiResponse ok = call("GET", "/api/v1/flows");
  EXPECT_EQ(ok.status, 200) << ok.body;

  ASSERT_TRUE(backend_->revoke_api_key("tests"));
  ApiResponse revoked = call("GET", "/api/v1/flows");
  expect_error(revoked, 401);
  bool challenge = false;
  for (const auto& [k, v] : revoked.headers) challenge |= k == "WWW-Authenticate" && v == "Bearer";
  EXPECT_TRUE(challenge);
}

TEST_F(ApiHandlerTest, RunLifecycle) {
  ApiResponse reg = call_json("POST", "/api/v1/flow-versions", spec_json("p", "f", "k1"));
  ASSERT_EQ(reg.status, 201) << reg.body;
  auto outcome = ferry::backend::register_outcome_from_json(Value::parse(reg.body));
  EXPECT_TRUE(outcome.created);
  EXPECT_EQ(outcome.version.version, 1);
  // Same idempotency key: nothing new, 200.
  ApiResponse again = call_json("POST", "/api/v1/flow-versions", spec_json("p", "f", "k1"));
  EXPECT_EQ(again.status, 200);
  EXPECT_FALSE(Value::parse(again.body)["created"]);

  std::string vid = std::to_string(outcome.version.id);
  EXPECT_EQ(call("GET", "/api/v1/flow-versions/" + vid).status, 200);
  expect_error(call("GET", "/api/v1/flow-versions/99999"), 404);
  expect_error(call("GET", "/api/v1/flow-versions/abc"), 400);
  EXPECT_EQ(call("GET", "/api/v1/flows/p/f").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/flows/p/f", "", {{"version", "1"}}).status, 200);
  expect_error(call("GET", "/api/v1/flows/p/f", "", {{"version", "2"}}), 404);
  expect_error(call("GET", "/api/v1/flows/p/nope"), 404);
  Value flows = Value::parse(call("GET", "/api/v1/flows", "", {{"project", "p"}}).body);
  EXPECT_EQ(flows["flows"].size(), 1u);
  EXPECT_EQ(Value::parse(call("GET", "/api/v1/flows", "", {{"project", "q"}}).body)["flows"].size(),
            0u);

  ApiResponse created = call_json("POST", "/api/v1/flow-runs",
                                  Value{{"flow_version_id", outcome.version.id},
                                        {"parameters", {{"n", 1}}},
                                        {"labels", {"gpu"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto run = ferry::backend::flow_run_from_json(Value::parse(created.body));
  EXPECT_EQ(run.state, ferry::State::Scheduled);
  EXPECT_EQ(run.id.size(), 32u);
  expect_error(call_json("POST", "/api/v1/flow-runs", Value{{"flow_version_id", 424242}}), 400);

  // Claiming needs the labels.
  Value none = Value::parse(
      call_json("POST", "/api/v1/flow-runs/claim", Value{{"agent_id", "a1"}, {"max_runs", 5}})
          .body);
  EXPECT_EQ(none["flow_runs"].size(), 0u);
  Value claimed = Value::parse(
      call_json("POST", "/api/v1/flow-runs/claim", Value{{"agent_id", "a1"}, {"labels", {"gpu"}}})
          .body);
  ASSERT_EQ(claimed["flow_runs"].size(), 1u);
  EXPECT_EQ(claimed["flow_runs"][0]["state"], "Pending");
  EXPECT_EQ(claimed["flow_runs"][0]["agent_id"], "a1");

  std::string base = "/api/v1/flow-runs/" + run.id;
  EXPECT_EQ(
      call_json("POST", base + "/state", Value{{"state", "Running"}, {"message", "go"}}).status,
      204);
  EXPECT_EQ(call_json("POST", "/api/v1/flow-runs/heartbeat", Value{{"run_ids", {run.id}}}).status,
            204);
  EXPECT_EQ(call_json("PUT", base + "/task-runs/t%2F1",
                      Value{{"state", "Success"}, {"attempts", 1}, {"result_location", "/r"}})
                .status,
            204);
  Value tasks = Value::parse(call("GET", base + "/task-runs").body);
  ASSERT_EQ(tasks["task_runs"].size(), 1u);
  EXPECT_EQ(tasks["task_runs"][0]["task_name"], "t/1");  // an encoded '/' stays in the name
  Value line{{"run_id", run.id},
             {"task_name", "t/1"},
             {"level", "INFO"},
             {"message", "hi"},
             {"at", 1700000000000}};
  EXPECT_EQ(call_json("POST", "/api/v1/logs", Value{{"lines", {line, line}}}).status, 204);
  Value logs = Value::parse(call("GET", base + "/logs").body);
  ASSERT_EQ(logs["logs"].size(), 2u);
  std::string after = std::to_string(logs["logs"][0]["seq"].get<std::int64_t>());
  EXPECT_EQ(
      Value::parse(call("GET", base + "/logs", "", {{"after_seq", after}}).body)["logs"].size(),
      1u);
  EXPECT_EQ(call_json("PUT", base + "/result", Value{{"result", {{"v", 3}}}}).status, 204);
  EXPECT_EQ(call_json("PUT", base + "/pinned", Value{{"pinned", {{"sha", "abc"}}}}).status, 204);
  EXPECT_EQ(call_json("POST", base + "/state", Value{{"state", "Success"}}).status, 204);

  auto got = ferry::backend::flow_run_from_json(Value::parse(call("GET", base).body));
  EXPECT_EQ(got.state, ferry::State::Success);
  EXPECT_EQ(got.result, (Value{{"v", 3}}));
  EXPECT_EQ(got.pinned, (Value{{"sha", "abc"}}));
  EXPECT_GE(got.history.size(), 3u);

  Value listed = Value::parse(
      call("GET", "/api/v1/flow-runs", "", {{"project", "p"}, {"flow", "f"}, {"state", "Success"}})
          .body);
  EXPECT_EQ(listed["flow_runs"].size(), 1u);
  EXPECT_EQ(
      Value::parse(call("GET", "/api/v1/flow-runs", "", {{"state", "Failed"}}).body)["flow_runs"]
          .size(),
      0u);
  Value counts = Value::parse(call("GET", "/api/v1/flow-runs/counts").body);
  EXPECT_EQ(counts["counts"]["Success"], 1);

  // Agents.
  Value agent{
      {"id", "a1"}, {"name", "host"}, {"labels", {"gpu"}}, {"started", 1}, {"heartbeat", 2}};
  EXPECT_EQ(call_json("POST", "/api/v1/agents", agent).status, 204);
  EXPECT_EQ(call("POST", "/api/v1/agents/a1/heartbeat").status, 204);
  Value agents = Value::parse(call("GET", "/api/v1/agents").body);
  ASSERT_EQ(agents["agents"].size(), 1u);
  EXPECT_GT(agents["agents"][0]["heartbeat"].get<std::int64_t>(), 2);
}

TEST_F(ApiHandlerTest, LostRunsAreRescheduledThroughTheApi) {
  std::string id = new_run();
  call_json("POST", "/api/v1/flow-runs/claim", Value{{"agent_id", "a1"}});
  call_json("POST", "/api/v1/flow-runs/" + id + "/state", Value{{"state", "Running"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ApiResponse lost = call_json("POST", "/api/v1/flow-runs/mark-lost", Value{{"timeout_ms", 10}});
  ASSERT_EQ(lost.status, 200) << lost.body;
  EXPECT_EQ(Value::parse(lost.body)["run_ids"], Value::array({id}));
  Value run = Value::parse(call("GET", "/api/v1/flow-runs/" + id).body);
  EXPECT_EQ(run["state"], "Scheduled");
  EXPECT_EQ(run["agent_id"], "");
  expect_error(call_json("POST", "/api/v1/flow-runs/mark-lost", Value{{"timeout_ms", -1}}), 400);
}

TEST_F(ApiHandlerTest, EveryBadRequestClassGetsItsStatusAndAJsonError) {
  std::string id = new_run();
  std::string base = "/api/v1/flow-runs/" + id;
  struct Case {
    std::string method, path, body;
    Fields query;
    int status;
    std::string contains;
  };
  std::vector<Case> cases = {
      {"POST", "/api/v1/flow-versions", "{\"project\": ", {}, 400, "malformed JSON"},
      {"POST", "/api/v1/flow-versions", "", {}, 400, "empty"},
      // Found by api_request_fuzzer: nlohmann throws out_of_range, not parse_error, here.
      {"POST",
       "/api/v1/flow-versions",
       "{\"labels\": [1000.0E0955161]}",
       {},
       400,
       "a number is out of range"},
      {"POST", "/api/v1/flow-versions", "[1,2]", {}, 400, "expected an object"},
      {"POST", base + "/state", "{\"state\": 3}", {}, 400, "field \"state\": expected a string"},
      {"POST", base + "/state", "{\"state\": \"Bogus\"}", {}, 400, "expected a state name"},
      {"POST",
       base + "/state",
       "{\"state\": \"Running\", \"x\": 1}",
       {},
       400,
       "field \"x\": unknown field"},
      {"POST",
       "/api/v1/flow-runs/claim",
       "{\"agent_id\": \"a\", \"max_runs\": \"2\"}",
       {},
       400,
       "field \"max_runs\": expected an integer, got a string"},
      {"POST",
       "/api/v1/flow-runs/claim",
       "{\"agent_id\": \"a\", \"max_runs\": 0}",
       {},
       400,
       "max_runs"},
      {"GET", "/api/v1/flow-runs", "", {{"limit", "ten"}}, 400, "expected an integer"},
      {"GET", "/api/v1/flow-runs", "", {{"limit", "-1"}}, 400, "limit"},
      {"GET", "/api/v1/flow-runs", "", {{"state", "Sleeping"}}, 400, "state"},
      {"GET", "/api/v1/flow-runs", "", {{"sort", "id"}}, 400, "unknown query parameter"},
      {"GET", "/api/v1/flow-runs", "", {{"limit", "1"}, {"limit", "2"}}, 400, "repeated"},
      {"GET", "/api/v1/flows", "{}", {}, 400, "takes no body"},
      {"POST", "/api/v1/flow-versions", std::string(64 * 1024 + 1, ' '), {}, 413, "at most"},
      {"POST",
       "/api/v1/logs",
       std::string(100, '[') + std::string(100, ']'),
       {},
       400,
       "nested deeper"},
      {"GET", "/api/v1/nothing", "", {}, 404, "no such route"},
      {"GET", "/api/v1/flow-runs/" + id + "/", "", {}, 404, "no such route"},
      {"GET", "/", "", {}, 404, "no such route"},
      {"DELETE", base, "", {}, 405, "not allowed"},
      {"GET", "/api/v1/flow-runs/claim", "", {}, 405, "POST"},
      {"PATCH", "/api/v1/flow-versions", "{}", {}, 405, "not allowed"},
      {"GET", "/api/v1/flow-runs/ABCDEF", "", {}, 400, "32 lowercase hex"},
      {"GET", "/api/v1/flow-runs/" + std::string(32, '0'), "", {}, 404, "no flow run"},
      {"POST",
       "/api/v1/flow-runs/" + std::string(32, '0') + "/state",
       "{\"state\": \"Running\"}",
       {},
       404,
       ""},
      {"GET", "/api/v1/flows/p/%zz", "", {}, 400, "hex digits"},
      {"GET", "/api/v1/flows/p/abc%2", "", {}, 400, "hex digits"},
      {"GET", "/api/v1/flows/p/a%00b", "", {}, 400, "NUL"},
      {"GET", "/api/v1/flows/p/..", "", {}, 400, "\"..\""},
      {"GET", "/api/v1/flows/%2e%2e/f", "", {}, 400, "\"..\""},
      {"GET", "/api/v1/flows/./f", "", {}, 400, "\".\""},
      {"GET", "api/v1/flows", "", {}, 400, "start with '/'"},
      {"PUT", "/api/v1/secrets/x", "{\"value\": 5}", {}, 400, "expected a string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 60));
    std::string msg = expect_error(call(c.method, c.path, c.body, c.query), c.status);
    EXPECT_NE(msg.find(c.contains), std::string::npos) << msg;
    expect_still_working();
  }
  // 405 says which methods the path takes.
  ApiResponse r = call("DELETE", base);
  bool allow = false;
  for (const auto& [k, v] : r.headers) allow |= k == "Allow" && v == "GET";
  EXPECT_TRUE(allow);
}

TEST_F(ApiHandlerTest, HostileNamesAreJustNames) {
  const std::string drop = "'; DROP TABLE flow_runs;--";
  const std::string dots = "../..";
  std::string id1 = new_run(drop, dots);
  std::string id2 = new_run(dots, drop);
  // Names travel percent-encoded in paths and come back intact.
  auto encode = [](const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += std::isalnum(c) ? std::string(1, static_cast<char>(c)) : std::string(buf);
    }
    return out;
  };
  ApiResponse r = call("GET", "/api/v1/flows/" + encode(drop) + "/" + encode(dots));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Value::parse(r.body)["project"], drop);
  EXPECT_EQ(Value::parse(r.body)["flow_name"], dots);
  Value runs = Value::parse(call("GET", "/api/v1/flow-runs", "", {{"project", drop}}).body);
  ASSERT_EQ(runs["flow_runs"].size(), 1u);
  EXPECT_EQ(runs["flow_runs"][0]["id"], id1);
  // The table is still there, with both runs.
  Value all = Value::parse(call("GET", "/api/v1/flow-runs").body);
  EXPECT_EQ(all["flow_runs"].size(), 2u);
  EXPECT_EQ(backend_->list_flow_runs({}).size(), 2u);

  EXPECT_EQ(call_json("PUT", "/api/v1/secrets/" + encode(drop), Value{{"value", "v"}}).status, 204);
  EXPECT_EQ(Value::parse(call("GET", "/api/v1/secrets/" + encode(drop)).body)["value"], "v");
  EXPECT_EQ(call_json("PUT", "/api/v1/flow-runs/" + id2 + "/task-runs/" + encode(drop),
                      Value{{"state", "Running"}})
                .status,
            204);
  EXPECT_EQ(backend_->get_task_runs(id2).at(0).task_name, drop);
  // A name that is not valid UTF-8 still gets a JSON error (and no crash).
  expect_error(call("GET", "/api/v1/flows/%FF%FE/x"), 404);
  expect_still_working();
}

TEST_F(ApiHandlerTest, SecretsAreSealedAndNeverListed) {
  const std::string value = "s3cr3t-value-do-not-leak";
  ASSERT_EQ(call_json("PUT", "/api/v1/secrets/db", Value{{"value", value}}).status, 204);
  ASSERT_EQ(call_json("PUT", "/api/v1/secrets/api", Value{{"value", "other"}}).status, 204);
  // The backend holds only sealed text.
  auto stored = backend_->get_secret("db");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->rfind("v1:", 0), 0u);
  EXPECT_EQ(stored->find(value), std::string::npos);

  ApiResponse got = call("GET", "/api/v1/secrets/db");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Value::parse(got.body), (Value{{"name", "db"}, {"value", value}}));
  ApiResponse list = call("GET", "/api/v1/secrets");
  EXPECT_EQ(Value::parse(list.body), (Value{{"names", {"api", "db"}}}));
  EXPECT_EQ(list.body.find(value), std::string::npos);
  EXPECT_EQ(call("GET", "/metrics").body.find(value), std::string::npos);

  // A sealed value moved to another name does not open, and the error names no value.
  backend_->put_secret("moved", *stored);
  std::string msg = expect_error(call("GET", "/api/v1/secrets/moved"), 500);
  EXPECT_NE(msg.find("could not be decrypted"), std::string::npos);
  EXPECT_EQ(msg.find(value), std::string::npos);

  EXPECT_EQ(call("DELETE", "/api/v1/secrets/db").status, 204);
  expect_error(call("DELETE", "/api/v1/secrets/db"), 404);
  expect_error(call("GET", "/api/v1/secrets/db"), 404);

  // Without a SecretBox: 503 saying what to do.
  ApiHandler plain(*backend_, ApiOptions{});
  ApiRequest r{"GET", "/api/v1/secrets", {}, {{"Authorization", "Bearer " + key_}}, ""};
  ApiResponse no_box = plain.handle(r);
  EXPECT_EQ(no_box.status, 503);
  EXPECT_NE(no_box.body.find("FERRY_SERVER_SECRET_KEY"), std::string::npos);
  r.method = "PUT";
  r.path = "/api/v1/secrets/x";
  r.body = Value{{"value", "plain"}}.dump();
  EXPECT_EQ(plain.handle(r).status, 503);
  EXPECT_FALSE(backend_->get_secret("x"));
}

// Parses Prometheus text: "name{labels} value" per sample; comments must be HELP or TYPE.
std::map<std::string, double> parse_metrics(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"\\]*",?)*\})?) (\S+)$)");
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, comment)) continue;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not a metrics line: " << line;
      continue;
    }
    EXPECT_FALSE(out.count(m[1])) << "duplicate " << m[1];
    out[m[1]] = std::stod(m[4]);
  }
  return out;
}

TEST_F(ApiHandlerTest, MetricsParseAndCount) {
  new_run();
  std::string second = new_run();
  call_json("POST", "/api/v1/flow-runs/claim", Value{{"agent_id", "a"}, {"max_runs", 1}});
  call_json("POST", "/api/v1/flow-runs/claim", Value{{"agent_id", "a"}, {"max_runs", 1}});
  call_json("POST", "/api/v1/flow-runs/claim", Value{{"agent_id", "a"}, {"max_runs", 1}});
  call("GET", "/api/v1/flow-runs/" + second);
  call("GET", "/api/v1/flow-runs/" + std::string(32, 'a'));
  call("GET", "/api/v1/nowhere");
  call("GET", "/api/v1/flows", "", {}, std::string("bad"));

  ApiResponse r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  auto m = parse_metrics(r.body);
  EXPECT_EQ(m["ferry_flow_runs{state=\"Pending\"}"], 2);
  EXPECT_FALSE(m.count("ferry_flow_runs{state=\"Scheduled\"}"));
  EXPECT_EQ(m["ferry_claim_seconds_count"], 3);
  EXPECT_EQ(m["ferry_claim_seconds_bucket{le=\"+Inf\"}"], 3);
  EXPECT_GE(m["ferry_claim_seconds_sum"], 0);
  double previous = 0;
  for (const auto& [name, v] : m) {
    if (name.rfind("ferry_claim_seconds_bucket", 0) == 0) {
      EXPECT_LE(v, 3);
      previous = std::max(previous, v);
    }
  }
  EXPECT_EQ(m["ferry_http_requests_total{method=\"POST\",route=\"/api/v1/flow-runs/"
              "claim\",status=\"200\"}"],
            3);
  // The pattern, not the path: both run lookups count under {id}.
  EXPECT_EQ(m["ferry_http_requests_total{method=\"GET\",route=\"/api/v1/flow-runs/"
              "{id}\",status=\"200\"}"],
            1);
  EXPECT_EQ(m["ferry_http_requests_total{method=\"GET\",route=\"/api/v1/flow-runs/"
              "{id}\",status=\"404\"}"],
            1);
  EXPECT_EQ(
      m["ferry_http_requests_total{method=\"POST\",route=\"/api/v1/flow-runs\",status=\"201\"}"],
      2);
  EXPECT_EQ(m["ferry_http_requests_total{method=\"\",route=\"unmatched\",status=\"404\"}"], 1);
  EXPECT_EQ(m["ferry_http_requests_total{method=\"GET\",route=\"/api/v1/flows\",status=\"401\"}"],
            1);
  for (const auto& [name, v] : m) EXPECT_EQ(name.find("nowhere"), std::string::npos) << name;
}

TEST_F(ApiHandlerTest, ConcurrentCallsClaimEachRunOnce) {
  ApiResponse reg = call_json("POST", "/api/v1/flow-versions", spec_json("p", "f", "k"));
  std::int64_t vid = Value::parse(reg.body)["version"]["id"];
  constexpr int kRuns = 40;
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_EQ(call_json("POST", "/api/v1/flow-runs", Value{{"flow_version_id", vid}}).status, 201);
  }
  std::mutex mutex;
  std::vector<std::string> claimed;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        ApiResponse r =
            call_json("POST", "/api/v1/flow-runs/claim",
                      Value{{"agent_id", "agent" + std::to_string(t)}, {"max_runs", 2}});
        if (r.status != 200) {
          ++errors;
          continue;
        }
        Value body = Value::parse(r.body);
        std::lock_guard lock(mutex);
        for (const Value& run : body["flow_runs"]) claimed.push_back(run["id"]);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kRuns));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(), claimed.size());
  auto m = parse_metrics(call("GET", "/metrics").body);
  EXPECT_EQ(m["ferry_claim_seconds_count"], 120);
}

}  // namespace
