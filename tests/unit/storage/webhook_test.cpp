// Webhook storage (reference §2.11 and cases 84-94) against real HTTP servers: the loopback
// test server (tests/support/http_server) for methods, bodies, templates, errors and retries,
// and Debian's nginx as an independent WebDAV file server behind basic authentication.
// Nothing is mocked below the HTTP layer: every request goes through libcurl and a socket.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.hpp"
#include "ferry/ferry.hpp"
#include "secrets/secret_store.hpp"
#include "support/http_server.hpp"
#include "support/nginx_server.hpp"
#include "support/test_support.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

namespace fs = std::filesystem;

using storage::HttpError;
using storage::Storage;
using storage::Webhook;
using storage::WebhookOptions;
using storage_test::error_of;
using storage_test::fixture_flow;
using storage_test::has;
using storage_test::ScopedEnv;
using Objects = std::map<std::string, std::string>;

// One fixture source for every test here, so the test binary compiles a single module.
constexpr const char* kFixture = "storage/named_flows.cpp";

Flow test_flow() { return fixture_flow(kFixture, "test"); }       // runs to 43
Flow uber_flow() { return fixture_flow(kFixture, "Über flow"); }  // runs to 42

// The flow's result (the fixture's flows have one terminal task), or -1 when it failed.
int run_answer(const Flow& flow) {
  RunResult r = flow.run(Value::object(), storage_test::quiet_run());
  EXPECT_TRUE(r.ok()) << r.message;
  return r.ok() && r.result.is_number_integer() ? r.result.get<int>() : -1;
}

// Build and get requests to the same URL of the loopback server.
WebhookOptions store_at(const HttpServer& server, const std::string& path,
                        std::string build_method = "POST", std::string get_method = "GET") {
  WebhookOptions o;
  o.build_request_kwargs = {{"url", server.url(path)}};
  o.build_request_http_method = std::move(build_method);
  o.get_flow_request_kwargs = {{"url", server.url(path)}};
  o.get_flow_request_http_method = std::move(get_method);
  return o;
}

// The HttpError a call throws (status -1 and a marker message when it throws none).
template <class F>
std::pair<long, std::string> http_error_of(F&& f) {
  try {
    f();
  } catch (const HttpError& e) {
    return {e.status(), e.what()};
  } catch (const std::exception& e) {
    return {-1, std::string("<wrong exception type: ") + e.what() + ">"};
  }
  return {-1, "<no exception>"};
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto byte = [&](std::size_t i) { return std::uint32_t(static_cast<unsigned char>(in[i])); };
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i + 1 == in.size()) {
    std::uint32_t n = byte(i) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

// A loopback server handler where PUT stores and every other method reads back, so a get
// request may carry a body (a JSON query, as Dropbox's download does) without overwriting
// the stored flow the way the default store would.
HttpServer::Handler put_stores(Objects& objects, std::mutex& mutex) {
  return [&objects, &mutex](const HttpRequest& r) -> HttpReply {
    std::lock_guard lock(mutex);
    if (r.method == "PUT") {
      objects[r.path] = r.body;
      return {201, {}, "stored"};
    }
    auto it = objects.find(r.path);
    if (it == objects.end()) return {404, {}, "no such object"};
    return {200, {{"Content-Type", "application/octet-stream"}}, it->second};
  };
}

}  // namespace

// Every Webhook test gets its own FERRY_HOME (secret store, caches) whose module cache is
// the binary's shared one, so loading the fixture (frozen or served as source) is a cache hit.
class WebhookTest : public ::testing::Test {
 protected:
  // The one compile of the fixture happens here rather than inside the first test.
  static void SetUpTestSuite() { storage_test::compiled_fixture(kFixture); }
  void SetUp() override { storage_test::share_module_cache(home_.path()); }

  ScopedFerryHome home_;
};

class WebhookStorage : public WebhookTest {};

// ---- construction (cases 84, 85) --------------------------------------------------------

TEST_F(WebhookStorage, ValidConstructionKeepsKwargsAndMethods) {
  ScopedEnv unset("WEBHOOK_TEST_TOKEN", nullptr);  // templates are not rendered here
  Value build_kw = {{"url", "https://files.example.com/upload"},
                    {"headers", {{"Authorization", "Bearer ${WEBHOOK_TEST_TOKEN}"}}},
                    {"params", {{"v", 1}, {"tags", {"a", "b"}}}}};
  Value get_kw = {{"url", "https://files.example.com/download"}, {"timeout", 5}};
  Webhook s({.build_request_kwargs = build_kw,
             .build_request_http_method = "PATCH",
             .get_flow_request_kwargs = get_kw,
             .get_flow_request_http_method = "POST"});
  EXPECT_EQ(s.type(), "Webhook");
  EXPECT_EQ(s.build_request_kwargs(), build_kw);
  EXPECT_EQ(s.build_request_http_method(), "PATCH");
  EXPECT_EQ(s.get_flow_request_kwargs(), get_kw);
  EXPECT_EQ(s.get_flow_request_http_method(), "POST");
  EXPECT_TRUE(s.secrets().empty());
  EXPECT_FALSE(s.stored_as_script());
  EXPECT_EQ(s.flow_script_path(), "");
  EXPECT_TRUE(s.flows().empty());
  EXPECT_TRUE(s.labels().empty()) << "no default labels";
  EXPECT_FALSE(static_cast<bool>(s.default_result())) << "no default result";
  EXPECT_FALSE(s.build_response("test").has_value());

  Webhook defaults({.build_request_kwargs = build_kw, .get_flow_request_kwargs = get_kw});
  EXPECT_EQ(defaults.build_request_http_method(), "POST");
  EXPECT_EQ(defaults.get_flow_request_http_method(), "GET");
}

TEST_F(WebhookStorage, AllSixteenMethodCombinationsBuildAndGetAFlowThroughTheServer) {
  HttpServer server;
  Flow flow = test_flow();
  const std::vector<std::string> methods{"GET", "PATCH", "POST", "PUT"};
  for (const std::string& build : methods) {
    for (const std::string& get : methods) {
      SCOPED_TRACE("build " + build + ", get " + get);
      std::string path = "/flows/" + build + "-" + get;
      Webhook s(store_at(server, path, build, get));
      server.clear_requests();
      EXPECT_EQ(s.add_flow(flow), "test");
      s.build();
      std::vector<HttpRequest> seen = server.requests();
      ASSERT_EQ(seen.size(), 1u);
      EXPECT_EQ(seen[0].method, build);
      EXPECT_EQ(seen[0].path, path);
      EXPECT_EQ(inspect_package(seen[0].body).flow_name, "test") << "the body is the package";
      EXPECT_EQ(detail::sha256_hex(seen[0].body), s.impl()->digests.at("test"));

      Flow loaded = s.get_flow("test");
      seen = server.requests();
      ASSERT_EQ(seen.size(), 2u);
      EXPECT_EQ(seen[1].method, get);
      EXPECT_EQ(seen[1].path, path);
      EXPECT_EQ(seen[1].body, "") << "a get request sends no body";
      EXPECT_EQ(loaded.name(), "test");
      EXPECT_EQ(run_answer(loaded), 43);
    }
  }
}

TEST_F(WebhookStorage, UnknownMethodsAreRefusedWithTheReferenceMessage) {
  Value kw = {{"url", "http://127.0.0.1:9/x"}};
  EXPECT_EQ(error_of<ValueError>([&] {
              Webhook({.build_request_kwargs = kw,
                       .build_request_http_method = "PASTA",
                       .get_flow_request_kwargs = kw});
            }),
            "HTTP method 'PASTA' not recognized");
  EXPECT_EQ(error_of<ValueError>([&] {
              Webhook({.build_request_kwargs = kw,
                       .get_flow_request_kwargs = kw,
                       .get_flow_request_http_method = "BET"});
            }),
            "HTTP method 'BET' not recognized");
  // Exactly the four names, case-sensitive, as the reference's method map.
  for (const char* method : {"get", "Put", "DELETE", "HEAD", ""}) {
    EXPECT_EQ(error_of<ValueError>([&] {
                Webhook({.build_request_kwargs = kw,
                         .build_request_http_method = method,
                         .get_flow_request_kwargs = kw});
              }),
              std::string("HTTP method '") + method + "' not recognized");
  }
}

TEST_F(WebhookStorage, MalformedRequestOptionsAreRefusedAtConstruction) {
  Value ok = {{"url", "http://127.0.0.1:9/x"}};
  auto build_error = [&](const Value& kw) {
    return error_of<ValueError>(
        [&] { Webhook({.build_request_kwargs = kw, .get_flow_request_kwargs = ok}); });
  };
  EXPECT_TRUE(has(build_error(Value::object()), "needs a \"url\"")) << build_error(Value::object());
  Value typo = {{"url", "http://x/"}, {"header", {{"A", "b"}}}};
  EXPECT_TRUE(has(build_error(typo), "unknown option 'header'")) << build_error(typo);
  Value headers = {{"url", "http://x/"}, {"headers", {{"A", {{"nested", "b"}}}}}};
  EXPECT_TRUE(has(build_error(headers), "header 'A' must be a string")) << build_error(headers);
  std::string get_error = error_of<ValueError>(
      [&] { Webhook({.build_request_kwargs = ok, .get_flow_request_kwargs = "http://x/"}); });
  EXPECT_TRUE(has(get_error, "get_flow_request_kwargs must be a JSON object")) << get_error;
}

// ---- add_flow, build, get_flow (cases 86, 87) -------------------------------------------

TEST_F(WebhookStorage, AddFlowReturnsTheNameAndSilentlyReplacesThePreviousFlow) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/one", "PUT", "GET"));
  EXPECT_EQ(s.add_flow(test_flow()), "test");
  EXPECT_TRUE(s.contains("test"));
  EXPECT_FALSE(s.contains("0b4c8f6e-2d3a-4c5e-9f1a-7b6d5e4c3b2a"));
  EXPECT_EQ(s.flows(), (Objects{{"test", "test"}}));
  // The reference's Webhook replaces instead of raising "Name conflict".
  EXPECT_EQ(s.add_flow(test_flow()), "test");
  EXPECT_EQ(s.add_flow(uber_flow()), "Über flow");
  EXPECT_EQ(s.flows(), (Objects{{"Über flow", "Über flow"}}));
  EXPECT_FALSE(s.contains("test"));
  EXPECT_EQ(server.request_count(), 0u) << "add_flow uploads nothing; build does";

  s.build();
  ASSERT_EQ(server.request_count(), 1u) << "only the flow held is uploaded";
  EXPECT_EQ(inspect_package(server.requests()[0].body).flow_name, "Über flow");
  EXPECT_EQ(error_of<ValueError>([&] { s.get_flow("test"); }),
            "Flow is not contained in this storage");
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

TEST_F(WebhookStorage, FrozenBuildAndGetRoundTripRunsTheFlow) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/test.ferry", "PUT", "GET"));
  s.build();
  EXPECT_EQ(server.request_count(), 0u) << "nothing added, nothing sent";
  s.add_flow(test_flow());
  s.build();
  std::string stored = server.stored("/flows/test.ferry");
  EXPECT_EQ(inspect_package(stored).flow_name, "test");
  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);
  ASSERT_EQ(server.request_count(), 2u);
  EXPECT_EQ(server.requests()[1].method, "GET");
}

TEST_F(WebhookStorage, DataInBuildKwargsWarnsAndIsReplacedByTheFlow) {
  HttpServer server;
  WebhookOptions o = store_at(server, "/flows/data", "PUT", "GET");
  o.build_request_kwargs["data"] = "not the flow";
  Webhook s(o);
  s.add_flow(test_flow());
  ::testing::internal::CaptureStderr();
  s.build();
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(err, "'data' found in build_request_kwargs")) << err;
  EXPECT_TRUE(has(err, "flow content and should not be set directly")) << err;
  ASSERT_EQ(server.request_count(), 1u);
  std::string body = server.requests()[0].body;
  EXPECT_EQ(inspect_package(body).flow_name, "test") << "the flow's bytes were sent";
  EXPECT_FALSE(has(body, "not the flow"));
  EXPECT_EQ(s.build_request_kwargs()["data"], "not the flow") << "the options are unchanged";
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
}

// ---- HTTP errors (case 89) ----------------------------------------------------------------

TEST_F(WebhookStorage, BuildAnswered404IsAnHttpErrorNamingTheUrlButNoSecret) {
  ScopedEnv token("WEBHOOK_TEST_TOKEN", "tok-5ecret-value");
  HttpServer server([](const HttpRequest&) { return HttpReply{404, {}, "no such bucket"}; });
  WebhookOptions o = store_at(server, "/missing/bucket");
  o.build_request_kwargs["url"] = server.url("/missing/bucket?sig=${WEBHOOK_TEST_TOKEN}");
  o.build_request_kwargs["headers"] = {{"Authorization", "Bearer ${WEBHOOK_TEST_TOKEN}"}};
  o.build_request_kwargs["params"] = {{"key", "${WEBHOOK_TEST_TOKEN}"}};
  Webhook s(o);
  s.add_flow(test_flow());
  auto [status, message] = http_error_of([&] { s.build(); });
  EXPECT_EQ(status, 404) << message;
  EXPECT_TRUE(has(message, "HTTP 404 Not Found from POST " + server.url("/missing/bucket")))
      << message;
  EXPECT_TRUE(has(message, "flow 'test'")) << message;
  EXPECT_FALSE(has(message, "tok-5ecret-value")) << message;
  EXPECT_FALSE(has(message, "sig=")) << "no query string: " << message;
  ASSERT_EQ(server.request_count(), 1u) << "a 404 is not retried";
  // The server did receive the secret, so its absence above is redaction, not luck.
  HttpRequest seen = server.requests()[0];
  EXPECT_EQ(seen.header("Authorization"), "Bearer tok-5ecret-value");
  EXPECT_EQ(seen.param("sig"), "tok-5ecret-value");
  EXPECT_EQ(seen.param("key"), "tok-5ecret-value");
  std::optional<storage::WebhookResponse> kept = s.build_response("test");
  ASSERT_TRUE(kept.has_value()) << "the failed response is kept too";
  EXPECT_EQ(kept->status, 404);
  EXPECT_EQ(kept->body, "no such bucket");
}

TEST_F(WebhookStorage, GetAnswered500IsAnHttpErrorAfterBoundedRetries) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/x", "PUT", "GET"));
  s.add_flow(test_flow());
  s.build();
  server.clear_requests();
  server.fail_next(1000, 500);
  auto [status, message] = http_error_of([&] { s.get_flow("test"); });
  EXPECT_EQ(status, 500) << message;
  EXPECT_TRUE(has(message, "Webhook get_flow request for flow 'test' failed")) << message;
  EXPECT_TRUE(has(message, "HTTP 500 Internal Server Error from GET " + server.url("/flows/x")))
      << message;
  EXPECT_EQ(server.request_count(), 4u) << "the first attempt and 3 retries";
}

// ---- retries --------------------------------------------------------------------------------

TEST_F(WebhookStorage, Two503sThenA200SucceedsOnTheThirdRequest) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/retry", "PUT", "GET"));
  s.add_flow(test_flow());
  server.fail_next(2, 503);
  s.build();
  std::vector<HttpRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  for (const HttpRequest& r : seen) {
    EXPECT_EQ(inspect_package(r.body).flow_name, "test") << "every attempt sends the whole body";
  }
  ASSERT_TRUE(s.build_response("test").has_value());
  EXPECT_EQ(s.build_response("test")->status, 200) << "the response that succeeded is kept";

  server.clear_requests();
  server.fail_next(2, 503);
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(server.request_count(), 3u);
}

TEST_F(WebhookStorage, ADroppedConnectionIsRetried) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/drop", "PUT", "GET"));
  s.add_flow(test_flow());
  server.drop_next(1);  // the server reads the request, then closes without answering
  s.build();
  ASSERT_EQ(server.request_count(), 2u);
  ASSERT_TRUE(s.build_response("test").has_value());
  EXPECT_EQ(s.build_response("test")->status, 200);

  server.clear_requests();
  server.drop_next(1);
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(server.request_count(), 2u);
}

TEST_F(WebhookStorage, Persistent503IsAnErrorAfterBoundedAttempts) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/busy", "PUT", "GET"));
  s.add_flow(test_flow());
  server.fail_next(1000, 503);
  auto [status, message] = http_error_of([&] { s.build(); });
  EXPECT_EQ(status, 503) << message;
  EXPECT_TRUE(has(message, "HTTP 503 Service Unavailable from PUT " + server.url("/flows/busy")))
      << message;
  EXPECT_EQ(server.request_count(), 4u) << "the first attempt and 3 retries, no more";
}

// ---- templates (cases 90-92) ----------------------------------------------------------------

TEST_F(WebhookStorage, TemplatesFromTheEnvironmentAndTheSecretStoreReachTheServerRendered) {
  ScopedEnv cred("SOME_CRED", "env-cred-value");
  ScopedEnv another("ANOTHER_SECRET", nullptr);
  ScopedEnv both("WEBHOOK_BOTH", "from-env");
  ScopedEnv empty("WEBHOOK_EMPTY", "");
  secrets::SecretStore store;  // $FERRY_HOME/secrets.json of this test's home
  store.set("ANOTHER_SECRET", "store-secret-value");
  store.set("WEBHOOK_BOTH", "from-store");
  store.set("WEBHOOK_EMPTY", "store-not-used");

  Objects objects;
  std::mutex mutex;
  HttpServer server(put_stores(objects, mutex));
  Value build_kw = {
      {"url", server.url("/flows/${SOME_CRED}/test.ferry")},
      {"headers",
       {{"Authorization", "Bearer ${SOME_CRED}"},
        {"X-Api-Key", "$ANOTHER_SECRET"},
        {"X-Both", "${WEBHOOK_BOTH}"},
        {"X-Empty", "[${WEBHOOK_EMPTY}]"}}},
      {"params", {{"key", "${ANOTHER_SECRET}"}, {"n", 2}, {"list", {"${SOME_CRED}", "b"}}}}};
  Value get_kw = {
      {"url", server.url("/flows/${SOME_CRED}/test.ferry")},
      {"headers", {{"Authorization", "Bearer ${ANOTHER_SECRET}"}}},
      {"json", {{"path", "/apps/x"}, {"auth", {{"nested", {{"token", "Bearer: ${SOME_CRED}"}}}}}}}};
  const Value build_copy = build_kw;
  const Value get_copy = get_kw;
  Webhook s({.build_request_kwargs = build_kw,
             .build_request_http_method = "PUT",
             .get_flow_request_kwargs = get_kw,
             .get_flow_request_http_method = "POST"});
  s.add_flow(test_flow());
  s.build();
  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");

  std::vector<HttpRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  const HttpRequest& up = seen[0];
  EXPECT_EQ(up.path, "/flows/env-cred-value/test.ferry");
  EXPECT_EQ(up.header("Authorization"), "Bearer env-cred-value");
  EXPECT_EQ(up.header("X-Api-Key"), "store-secret-value") << "not in the environment: the store";
  EXPECT_EQ(up.header("X-Both"), "from-env") << "the environment comes first";
  EXPECT_EQ(up.header("X-Empty"), "[]") << "an empty variable counts as set";
  EXPECT_EQ(up.param("key"), "store-secret-value");
  EXPECT_EQ(up.param("n"), "2");
  // The reference renders strings in nested objects only; list items are sent as written.
  EXPECT_EQ(up.query.at("list"), (std::vector<std::string>{"${SOME_CRED}", "b"}));

  const HttpRequest& down = seen[1];
  EXPECT_EQ(down.method, "POST");
  EXPECT_EQ(down.path, "/flows/env-cred-value/test.ferry");
  EXPECT_EQ(down.header("Authorization"), "Bearer store-secret-value");
  EXPECT_EQ(down.header("Content-Type"), "application/json");
  Value sent = Value::parse(down.body);
  EXPECT_EQ(sent["auth"]["nested"]["token"], "Bearer: env-cred-value") << "three levels deep";
  EXPECT_EQ(sent["path"], "/apps/x");

  // Rendering works on copies: the storage and its descriptor keep the templates.
  EXPECT_EQ(s.build_request_kwargs(), build_copy);
  EXPECT_EQ(s.get_flow_request_kwargs(), get_copy);
  Value d = s.serialize();
  EXPECT_EQ(d["build_request_kwargs"], build_copy);
  EXPECT_EQ(d["get_flow_request_kwargs"], get_copy);
  std::string dumped = d.dump();
  for (const char* value : {"env-cred-value", "store-secret-value", "from-env", "from-store"}) {
    EXPECT_FALSE(has(dumped, value)) << value << " leaked into the descriptor: " << dumped;
  }
}

TEST_F(WebhookStorage, AnUnknownTemplateNameIsAnErrorNamingIt) {
  ScopedEnv cred("SOME_CRED", nullptr);
  ScopedEnv another("ANOTHER_SECRET", nullptr);
  HttpServer server;
  WebhookOptions o = store_at(server, "/flows/x", "PUT", "GET");
  o.build_request_kwargs["headers"] = {{"Authorization", "Token ${SOME_CRED}"}};
  o.get_flow_request_kwargs["url"] = server.url("/flows/x?key=${ANOTHER_SECRET}");
  Webhook s(o);  // templates are rendered per request, never at construction
  s.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { s.build(); }),
            "Template value 'SOME_CRED' does not refer to an environment variable or secret.");
  EXPECT_EQ(server.request_count(), 0u) << "nothing is sent when rendering fails";
  {
    ScopedEnv set("SOME_CRED", "now-set");
    s.build();
  }
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_EQ(error_of<ValueError>([&] { s.get_flow("test"); }),
            "Template value 'ANOTHER_SECRET' does not refer to an environment variable or "
            "secret.");
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(WebhookStorage, DoubleDollarIsALiteralDollarAndALoneDollarIsAnError) {
  ScopedEnv cred("SOME_CRED", "should-not-appear");
  HttpServer server;
  WebhookOptions o = store_at(server, "/flows/x", "PUT", "GET");
  o.build_request_kwargs["headers"] = {{"X-Price", "costs $$5, not $$SOME_CRED"}};
  Webhook s(o);
  s.add_flow(test_flow());
  s.build();
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].header("X-Price"), "costs $5, not $SOME_CRED");
  EXPECT_EQ(s.serialize()["build_request_kwargs"]["headers"]["X-Price"],
            "costs $$5, not $$SOME_CRED");

  WebhookOptions bad = store_at(server, "/flows/y", "PUT", "GET");
  bad.build_request_kwargs["headers"] = {{"X-Price", "secretish $ 5"}};
  Webhook b(bad);
  b.add_flow(test_flow());
  server.clear_requests();
  std::string err = error_of<ValueError>([&] { b.build(); });
  EXPECT_TRUE(
      has(err, "Invalid placeholder in 'build_request_kwargs.headers.X-Price' at character 11"))
      << err;
  EXPECT_FALSE(has(err, "secretish")) << "the text itself may be a secret: " << err;
  EXPECT_EQ(server.request_count(), 0u);
}

// ---- script form (cases 93, 94) -------------------------------------------------------------

TEST_F(WebhookStorage, ScriptFormSendsTheSourceAndGetFlowCompilesWhatIsServed) {
  HttpServer server;
  TempDir src;
  fs::path script = src.path() / "flows.cpp";
  fs::copy_file(fixture(kFixture), script);
  const std::string source = read_text(script);
  WebhookOptions o = store_at(server, "/scripts/flows.cpp", "PUT", "GET");
  o.stored_as_script = true;
  o.flow_script_path = script.string();
  Webhook s(o);
  EXPECT_TRUE(s.stored_as_script());
  EXPECT_EQ(s.flow_script_path(), script.string());
  EXPECT_EQ(s.add_flow(test_flow()), "test");
  s.build();
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].body, source) << "the source file is the body";
  EXPECT_TRUE(s.impl()->digests.empty()) << "script flows record no digest";

  // With the local source gone, only the served copy can give the flow.
  fs::remove(script);
  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);
  EXPECT_EQ(run_answer(s.get_flow("test")), 43) << "a second load (cache hit) works too";
  ASSERT_EQ(server.request_count(), 3u);
  EXPECT_EQ(server.requests()[1].method, "GET");
}

TEST_F(WebhookStorage, ScriptFormWithoutAPathOrWithAMissingFileFailsAtBuild) {
  HttpServer server;
  WebhookOptions o = store_at(server, "/scripts/x.cpp", "PUT", "GET");
  o.stored_as_script = true;
  // Construction accepts it (a descriptor never carries the path): build checks.
  Webhook none(o);
  none.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { none.build(); }),
            "flow_script_path must be provided if stored_as_script=True");

  o.flow_script_path = "/no/such/folder/flow.cpp";
  Webhook missing(o);
  missing.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { missing.build(); }),
            "file '/no/such/folder/flow.cpp' passed to flow_script_path does not exist");

  TempDir folder;
  o.flow_script_path = folder.path().string();
  Webhook directory(o);
  directory.add_flow(test_flow());
  EXPECT_TRUE(has(error_of<ValueError>([&] { directory.build(); }),
                  "passed to flow_script_path does not exist"))
      << "a folder is not a source file";
  EXPECT_EQ(server.request_count(), 0u);
}

TEST_F(WebhookStorage, ScriptFormTakesTheRegisteredSourceOnlyWhenNoPathIsGiven) {
  // `ferry register` calls note_source_file before add_flow; a path the user gave wins.
  HttpServer server;
  TempDir src;
  fs::path registered = src.path() / "registered.cpp";
  fs::path own = src.path() / "own.cpp";
  fs::copy_file(fixture(kFixture), registered);
  storage_test::ScopedCwd in(src.path());  // the user's path may be relative
  write_text(own, read_text(registered) + "// the user's own copy\n");

  WebhookOptions o = store_at(server, "/scripts/a.cpp", "PUT", "GET");
  o.stored_as_script = true;
  Webhook noted(o);
  noted.impl()->note_source_file(registered.string());
  EXPECT_EQ(noted.flow_script_path(), registered.string());
  noted.add_flow(test_flow());
  noted.build();
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].body, read_text(registered));

  o.flow_script_path = "own.cpp";
  Webhook given(o);
  given.impl()->note_source_file(registered.string());
  EXPECT_EQ(given.flow_script_path(), "own.cpp");
  given.add_flow(test_flow());
  given.build();
  ASSERT_EQ(server.request_count(), 2u);
  EXPECT_TRUE(has(server.requests()[1].body, "the user's own copy"));

  WebhookOptions frozen = store_at(server, "/flows/f", "PUT", "GET");
  Webhook package(frozen);
  package.impl()->note_source_file(registered.string());
  package.add_flow(test_flow());
  package.build();
  EXPECT_EQ(inspect_package(server.requests()[2].body).flow_name, "test")
      << "the frozen form ignores the source file";
}

// ---- build responses, digests, descriptor -------------------------------------------------

TEST_F(WebhookStorage, TheBuildResponseIsKeptSoItsIdCanAddressTheGetRequest) {
  HttpServer server;  // the default store answers {"id": "<path>", "size": N}
  WebhookOptions o = store_at(server, "/uploads/test.ferry", "POST", "GET");
  o.get_flow_request_kwargs = {{"url", server.url("/not-known-before-build")}};
  Webhook s(o);
  s.add_flow(test_flow());
  s.build();
  std::optional<storage::WebhookResponse> r = s.build_response("test");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  Value answer = Value::parse(r->body);
  EXPECT_EQ(answer["id"], "/uploads/test.ferry");
  EXPECT_EQ(answer["size"], server.stored("/uploads/test.ferry").size());
  bool json_type = false;
  for (const auto& [name, value] : r->headers) {
    json_type = json_type || (name == "Content-Type" && value == "application/json");
  }
  EXPECT_TRUE(json_type) << "the response headers are kept";
  EXPECT_EQ(s.build_responses().size(), 1u);
  EXPECT_FALSE(s.build_response("other").has_value());

  s.set_get_flow_request_kwargs({{"url", server.url(answer["id"].get<std::string>())}});
  EXPECT_EQ(s.serialize()["get_flow_request_kwargs"]["url"], server.url("/uploads/test.ferry"));
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_TRUE(has(error_of<ValueError>([&] { s.set_get_flow_request_kwargs(Value::object()); }),
                  "needs a \"url\""));
}

TEST_F(WebhookStorage, AServedPackageOtherThanTheBuiltOneIsRefused) {
  HttpServer server;
  Webhook s(store_at(server, "/flows/shared", "PUT", "GET"));
  s.add_flow(test_flow());
  s.build();
  // Someone else stores another flow at the same URL.
  Webhook other(store_at(server, "/flows/shared", "PUT", "GET"));
  other.add_flow(uber_flow());
  other.build();
  std::string err = error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(err, "SHA-256")) << err;
  EXPECT_TRUE(has(err, s.impl()->digests.at("test"))) << err;
  EXPECT_TRUE(has(err, "GET " + server.url("/flows/shared"))) << err;

  // A descriptor without digests still refuses a package of another flow.
  Value d = s.serialize();
  d.erase("digests");
  Storage old = Storage::deserialize(d);
  err = error_of<FlowStorageError>([&] { old.get_flow("test"); });
  EXPECT_TRUE(has(err, "holds flow 'Über flow', not 'test'")) << err;
}

TEST_F(WebhookStorage, DescriptorRoundTripKeepsTheOptionsButNotTheScriptPath) {
  ScopedEnv cred("SOME_CRED", "v");
  HttpServer server;
  WebhookOptions o = store_at(server, "/flows/rt", "PUT", "GET");
  o.build_request_kwargs["headers"] = {{"Authorization", "Bearer ${SOME_CRED}"}};
  o.secrets = {"SOME_CRED"};
  Webhook s(o);
  s.add_flow(test_flow());
  s.build();
  Value d = s.serialize();
  EXPECT_EQ(d["type"], "Webhook");
  EXPECT_EQ(d["flows"], Value({{"test", "test"}}));
  EXPECT_TRUE(storage_test::is_hex64(d["digests"]["test"].get<std::string>())) << d.dump();
  EXPECT_EQ(d["secrets"], Value::array({"SOME_CRED"}));
  EXPECT_EQ(d["build_request_kwargs"], o.build_request_kwargs);
  EXPECT_EQ(d["build_request_http_method"], "PUT");
  EXPECT_EQ(d["get_flow_request_kwargs"], o.get_flow_request_kwargs);
  EXPECT_EQ(d["get_flow_request_http_method"], "GET");
  EXPECT_EQ(d["stored_as_script"], false);
  EXPECT_FALSE(d.contains("flow_script_path"));

  Storage back = Storage::deserialize(d);
  EXPECT_EQ(back.type(), "Webhook");
  EXPECT_EQ(back.serialize(), d);
  EXPECT_EQ(back.secrets(), std::vector<std::string>{"SOME_CRED"});
  EXPECT_EQ(run_answer(back.get_flow("test")), 43);

  WebhookOptions script = o;
  script.stored_as_script = true;
  script.flow_script_path = fixture(kFixture).string();
  Value sd = Webhook(script).serialize();
  EXPECT_EQ(sd["stored_as_script"], true);
  EXPECT_FALSE(sd.contains("flow_script_path")) << "build-only, as in the reference";
  Storage script_back = Storage::deserialize(sd);
  EXPECT_TRUE(script_back.stored_as_script());
  EXPECT_EQ(script_back.serialize(), sd);
}

// ---- nginx: an independent WebDAV server with basic authentication ------------------------

namespace {

const std::string kUser = "ferry";
const std::string kPassword = "Nginx-pa55word";

}  // namespace

class WebhookNginxWebDav : public WebhookTest {
 protected:
  static void SetUpTestSuite() {
    if (NginxServer::available()) WebhookTest::SetUpTestSuite();
  }
  void SetUp() override {
    if (!NginxServer::available()) {
      GTEST_SKIP() << NginxServer::kBinary << " is not installed (Debian package nginx)";
    }
    WebhookTest::SetUp();
    nginx_ = std::make_unique<NginxServer>(kUser, kPassword);
  }

  // {"url": ..., "headers": {"Authorization": "Basic ${NGINX_BASIC_AUTH}"}}
  Value with_basic_auth(const std::string& path) const {
    return {{"url", nginx_->url(path)},
            {"headers", {{"Authorization", "Basic ${NGINX_BASIC_AUTH}"}}}};
  }
  // The password in the URL's userinfo, templated: http://ferry:${NGINX_PASSWORD}@host/path.
  std::string url_with_password(const std::string& path) const {
    return "http://" + kUser + ":${NGINX_PASSWORD}@127.0.0.1:" + std::to_string(nginx_->port()) +
           path;
  }

  std::unique_ptr<NginxServer> nginx_;
};

TEST_F(WebhookNginxWebDav, FrozenFlowIsPutWithBasicAuthAndFetchedBack) {
  ScopedEnv auth("NGINX_BASIC_AUTH", base64(kUser + ":" + kPassword).c_str());
  Webhook s({.build_request_kwargs = with_basic_auth("/flows/test/test.ferry"),
             .build_request_http_method = "PUT",
             .get_flow_request_kwargs = with_basic_auth("/flows/test/test.ferry"),
             .get_flow_request_http_method = "GET"});
  s.add_flow(test_flow());
  s.build();
  ASSERT_TRUE(s.build_response("test").has_value());
  EXPECT_EQ(s.build_response("test")->status, 201) << "WebDAV created the file";
  fs::path file = nginx_->root() / "flows" / "test" / "test.ferry";
  ASSERT_TRUE(fs::is_regular_file(file)) << nginx_->error_log();
  EXPECT_EQ(detail::sha256_hex(read_text(file)), s.impl()->digests.at("test"));
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);

  s.build();
  EXPECT_EQ(s.build_response("test")->status, 204) << "a second build overwrites the file";
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
}

TEST_F(WebhookNginxWebDav, ScriptFlowIsPutAndTheServedSourceIsCompiled) {
  ScopedEnv auth("NGINX_BASIC_AUTH", base64(kUser + ":" + kPassword).c_str());
  ScopedEnv password("NGINX_PASSWORD", kPassword.c_str());
  TempDir src;
  fs::path script = src.path() / "flows.cpp";
  fs::copy_file(fixture(kFixture), script);
  const std::string source = read_text(script);
  Webhook s({.build_request_kwargs = with_basic_auth("/scripts/flows.cpp"),
             .build_request_http_method = "PUT",
             .get_flow_request_kwargs = {{"url", url_with_password("/scripts/flows.cpp")}},
             .get_flow_request_http_method = "GET",
             .stored_as_script = true,
             .flow_script_path = script.string()});
  s.add_flow(test_flow());
  s.build();
  EXPECT_EQ(read_text(nginx_->root() / "scripts" / "flows.cpp"), source);
  fs::remove(script);  // only nginx's copy is left
  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);
  std::string dumped = s.serialize().dump();
  EXPECT_FALSE(has(dumped, kPassword)) << dumped;
  EXPECT_FALSE(has(dumped, base64(kUser + ":" + kPassword))) << dumped;
}

TEST_F(WebhookNginxWebDav, WrongCredentialsAre401NamingTheUrlButNotThePassword) {
  const std::string wrong = "Wr0ng-pa55word";
  ScopedEnv auth("NGINX_BASIC_AUTH", base64(kUser + ":" + wrong).c_str());
  ScopedEnv password("NGINX_PASSWORD", wrong.c_str());
  Webhook s({.build_request_kwargs = with_basic_auth("/flows/test.ferry"),
             .build_request_http_method = "PUT",
             .get_flow_request_kwargs = {{"url", url_with_password("/flows/test.ferry")}},
             .get_flow_request_http_method = "GET"});
  s.add_flow(test_flow());

  auto [status, message] = http_error_of([&] { s.build(); });
  EXPECT_EQ(status, 401) << message;
  EXPECT_TRUE(has(message, "HTTP 401 Unauthorized from PUT " + nginx_->url("/flows/test.ferry")))
      << message;
  EXPECT_FALSE(has(message, wrong)) << message;
  EXPECT_FALSE(has(message, base64(kUser + ":" + wrong))) << message;
  EXPECT_FALSE(fs::exists(nginx_->root() / "flows" / "test.ferry")) << "nothing was written";

  auto [get_status, get_message] = http_error_of([&] { s.get_flow("test"); });
  EXPECT_EQ(get_status, 401) << get_message;
  EXPECT_TRUE(
      has(get_message, "HTTP 401 Unauthorized from GET " + nginx_->url("/flows/test.ferry")))
      << "the URL without its userinfo: " << get_message;
  EXPECT_FALSE(has(get_message, wrong)) << get_message;
  EXPECT_FALSE(has(get_message, "${NGINX_PASSWORD}")) << get_message;
}

TEST_F(WebhookNginxWebDav, AFlowNeverStoredIs404) {
  ScopedEnv auth("NGINX_BASIC_AUTH", base64(kUser + ":" + kPassword).c_str());
  Webhook s({.build_request_kwargs = with_basic_auth("/flows/stored.ferry"),
             .build_request_http_method = "PUT",
             .get_flow_request_kwargs = with_basic_auth("/flows/elsewhere.ferry"),
             .get_flow_request_http_method = "GET"});
  s.add_flow(test_flow());
  s.build();
  auto [status, message] = http_error_of([&] { s.get_flow("test"); });
  EXPECT_EQ(status, 404) << message;
  EXPECT_TRUE(has(message, "GET " + nginx_->url("/flows/elsewhere.ferry"))) << message;
}

}  // namespace ferry::test
