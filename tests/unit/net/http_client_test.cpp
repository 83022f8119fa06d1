// The libcurl client against the in-process test server: methods, query encoding, headers,
// bodies, retries (503, 429, dropped connections), and errors without credentials.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/digest.hpp"
#include "net/http_client.hpp"
#include "support/http_server.hpp"

namespace {

using ferry::net::HttpError;
using ferry::net::Request;
using ferry::net::Response;
using ferry::test::HttpServer;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Request fast(Request r) {
  r.backoff = std::chrono::milliseconds(1);
  return r;
}

}  // namespace

TEST(HttpClient, MethodsBodiesHeadersAndEncodedQuery) {
  HttpServer server;
  for (std::string method : {"GET", "PATCH", "POST", "PUT"}) {
    Request put;
    put.method = method;
    put.url = server.url("/obj/" + method + "?fixed=1");
    put.params = {{"a b", "c&d=é"}, {"x", "1"}, {"x", "2"}};
    put.headers = {{"X-Custom", "v 1"}, {"X-Empty", ""}};
    put.body = std::string("bin\0ary", 7);
    put.send_body = true;
    Response r = ferry::net::send(put);
    EXPECT_EQ(r.status, 200) << method;
    EXPECT_TRUE(has(r.header("content-type"), "json"));
    ferry::test::HttpRequest seen = server.requests().back();
    EXPECT_EQ(seen.method, method);
    EXPECT_EQ(seen.path, "/obj/" + method);
    EXPECT_EQ(seen.param("fixed"), "1");
    EXPECT_EQ(seen.param("a b"), "c&d=é");
    EXPECT_EQ(seen.query["x"], (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(seen.header("X-Custom"), "v 1");
    EXPECT_TRUE(seen.has_header("X-Empty"));
    EXPECT_FALSE(seen.has_header("Content-Type")) << "no Content-Type unless given";
    EXPECT_FALSE(seen.has_header("Expect"));
    EXPECT_EQ(seen.body, std::string("bin\0ary", 7));

    Request get;
    get.method = method;
    get.url = server.url("/obj/" + method);
    Response back = ferry::net::send(get);
    EXPECT_EQ(back.status, 200);
    EXPECT_EQ(back.body, std::string("bin\0ary", 7));
  }
}

TEST(HttpClient, RetriesOn503And429And500ThenSucceeds) {
  HttpServer server;
  for (int status : {503, 429, 500}) {
    server.clear_requests();
    server.fail_next(3, status);
    Request r = fast({});
    r.method = "PUT";
    r.url = server.url("/x");
    r.body = "data";
    r.send_body = true;
    Response resp = ferry::net::send(r);
    EXPECT_EQ(resp.status, 200) << status;
    EXPECT_EQ(resp.attempts, 4);
    EXPECT_EQ(server.request_count(), 4u);
  }
  // More failures than retries: the last response is returned, and raise_for_status names it.
  server.clear_requests();
  server.fail_next(10, 503);
  Request r = fast({});
  r.url = server.url("/x");
  Response resp = ferry::net::send(r);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(server.request_count(), 4u) << "bounded: 1 + max_retries";
  try {
    ferry::net::raise_for_status(r, resp);
    FAIL() << "no exception";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(std::string(e.what()), "HTTP 503 Service Unavailable from GET " + server.url("/x"));
  }
}

TEST(HttpClient, HashBodyGivesTheDigestOfExactlyTheBodyReturned) {
  HttpServer server;
  std::string bytes(3'000'000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7919) >> 3);
  Request put = fast({});
  put.method = "PUT";
  put.url = server.url("/big");
  put.body = bytes;
  ASSERT_EQ(ferry::net::send(put).status, 200);

  Request get = fast({});
  get.url = server.url("/big");
  Response plain = ferry::net::send(get);
  EXPECT_EQ(plain.body, bytes);
  EXPECT_EQ(plain.body_sha256, "") << "only computed when asked for";

  get.hash_body = true;
  // The failed attempts' bodies must not count: each attempt hashes its own response.
  server.fail_next(2, 503);
  Response hashed = ferry::net::send(get);
  EXPECT_EQ(hashed.attempts, 3);
  ASSERT_EQ(hashed.body.size(), bytes.size());
  EXPECT_EQ(hashed.body_sha256, ferry::detail::sha256_hex(bytes));
  EXPECT_EQ(hashed.body_sha256, ferry::detail::sha256_hex(hashed.body));
}

TEST(HttpClient, OtherStatusesAreNotRetried) {
  HttpServer server;
  for (int status : {400, 401, 404, 502}) {
    server.clear_requests();
    server.fail_next(1, status);
    Request r = fast({});
    r.url = server.url("/x");
    EXPECT_EQ(ferry::net::send(r).status, status);
    EXPECT_EQ(server.request_count(), 1u) << status;
  }
}

TEST(HttpClient, DroppedConnectionsAreRetried) {
  HttpServer server;
  server.drop_next(2);
  Request r = fast({});
  r.method = "POST";
  r.url = server.url("/dropped");
  r.body = "payload";
  r.send_body = true;
  Response resp = ferry::net::send(r);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.attempts, 3);
  EXPECT_EQ(server.stored("/dropped"), "payload");

  server.drop_next(100);
  try {
    ferry::net::send(r);
    FAIL() << "no exception";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_TRUE(has(e.what(), "failed after 4 attempts")) << e.what();
  }
  server.drop_next(0);
}

TEST(HttpClient, ConnectionRefusedIsRetriedThenReportedWithoutCredentials) {
  int port;
  {
    HttpServer gone;
    port = gone.port();
  }
  Request r = fast({});
  r.url = "http://user:hunter2@127.0.0.1:" + std::to_string(port) + "/p?token=hunter2#frag";
  r.headers = {{"Authorization", "Bearer hunter2"}};
  auto start = std::chrono::steady_clock::now();
  try {
    ferry::net::send(r);
    FAIL() << "no exception";
  } catch (const HttpError& e) {
    std::string what = e.what();
    EXPECT_FALSE(has(what, "hunter2")) << what;
    EXPECT_TRUE(
        has(what, "GET http://127.0.0.1:" + std::to_string(port) + "/p failed after 4 attempts"))
        << what;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpClient, UrlHelpers) {
  using ferry::net::redact_url;
  using ferry::net::url_with_params;
  EXPECT_EQ(redact_url("https://u:p@h.example:8443/a/b?x=1#f"), "https://h.example:8443/a/b");
  EXPECT_EQ(redact_url("http://h/a@b"), "http://h/a@b") << "an @ in the path is not userinfo";
  EXPECT_EQ(redact_url("http://tok@h"), "http://h");
  EXPECT_EQ(url_with_params("http://h/p", {{"q", "a b/c"}}), "http://h/p?q=a%20b%2Fc");
  EXPECT_EQ(url_with_params("http://h/p?x=1", {{"q", "1"}}), "http://h/p?x=1&q=1");
  EXPECT_EQ(url_with_params("http://h/p?", {{"q", "1"}}), "http://h/p?q=1");
  EXPECT_EQ(url_with_params("http://h/p#f", {{"q", "1"}}), "http://h/p?q=1");
}

TEST(HttpClient, TimeoutIsHonoured) {
  HttpServer server([](const ferry::test::HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return ferry::test::HttpReply{200, {}, "late"};
  });
  Request r = fast({});
  r.url = server.url("/slow");
  r.timeout_seconds = 0.3;
  r.max_retries = 0;
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(ferry::net::send(r), HttpError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1400));
}
