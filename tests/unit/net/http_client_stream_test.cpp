// The libcurl client's Unix-socket transport and streamed bodies (Request::unix_socket and
// Request::on_body), which the Docker engine client is built on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/digest.hpp"
#include "net/http_client.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace {

using ferry::net::HttpError;
using ferry::net::Request;
using ferry::net::Response;
using ferry::test::HttpServer;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Answers every connection with the same raw bytes (whatever the request), then closes it:
// on a Unix socket, or on a 127.0.0.1 port when `socket_path` is empty. Records the head of
// the last request and counts connections.
class RawServer {
 public:
  RawServer(std::string reply, const std::string& socket_path = "") : reply_(std::move(reply)) {
    if (socket_path.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::runtime_error("bind failed");
      }
      socklen_t len = sizeof addr;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::runtime_error("bind failed: " + socket_path);
      }
    }
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_; }
  std::string last_head() const { return last_head_; }

 private:
  void serve() {
    while (!stop_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      ++connections_;
      std::string head;
      char buffer[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        head.append(buffer, static_cast<std::size_t>(n));
      }
      last_head_ = head;
      ::send(client, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::string last_head_;
  std::thread thread_;
};

Request fast(Request r) {
  r.backoff = std::chrono::milliseconds(1);
  return r;
}

}  // namespace

TEST(HttpClient, UnixSocketCarriesTheRequestAndIgnoresTheUrlHost) {
  ferry::test::TempDir dir;
  const std::string sock = (dir / "engine.sock").string();
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", sock);
  Request r = fast({});
  r.url = "http://no-such-host.invalid/v1.41/_ping";
  r.params = {{"a", "b c"}};
  r.unix_socket = sock;
  Response resp = ferry::net::send(r);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, "hello");
  EXPECT_TRUE(has(server.last_head(), "GET /v1.41/_ping?a=b%20c HTTP/1.1\r\n"))
      << server.last_head();

  // A socket that does not exist: no response at all, reported like a refused connection.
  r.unix_socket = (dir / "missing.sock").string();
  r.max_retries = 1;
  try {
    ferry::net::send(r);
    FAIL() << "no exception";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_TRUE(has(e.what(), "failed after 2 attempts")) << e.what();
  }
}

TEST(HttpClient, OnBodyReceivesA2xxBodyAsItArrives) {
  HttpServer server;
  std::string big;
  for (int i = 0; i < 200000; ++i) big += static_cast<char>('a' + i % 26);
  Request put = fast({});
  put.method = "PUT";
  put.url = server.url("/big");
  put.body = big;
  ASSERT_EQ(ferry::net::send(put).status, 200);

  Request get = fast({});
  get.url = server.url("/big");
  get.hash_body = true;
  std::string streamed;
  int chunks = 0;
  get.on_body = [&](std::string_view chunk) {
    streamed.append(chunk);
    ++chunks;
  };
  Response resp = ferry::net::send(get);
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.body.empty()) << "streamed bytes are not collected as well";
  EXPECT_EQ(streamed, big);
  EXPECT_GE(chunks, 1);
  EXPECT_EQ(resp.body_sha256, ferry::detail::sha256_hex(big));
}

TEST(HttpClient, OnBodyLeavesErrorBodiesInTheResponse) {
  HttpServer server([](const ferry::test::HttpRequest&) {
    return ferry::test::HttpReply{
        404, {{"Content-Type", "application/json"}}, R"({"message":"no such image"})"};
  });
  Request r = fast({});
  r.url = server.url("/images/x/json");
  bool called = false;
  r.on_body = [&](std::string_view) { called = true; };
  Response resp = ferry::net::send(r);
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.body, R"({"message":"no such image"})");
  EXPECT_FALSE(called);
}

TEST(HttpClient, OnBodyIsNotRetriedOnceBytesWereDelivered) {
  // Promises 100 bytes, sends 10, hangs up: a retryable "partial file" failure.
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  Request r = fast({});
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/stream";
  EXPECT_THROW(ferry::net::send(r), HttpError);
  EXPECT_EQ(server.connections(), 4) << "without on_body the failure is retried";

  std::string seen;
  r.on_body = [&](std::string_view chunk) { seen.append(chunk); };
  try {
    ferry::net::send(r);
    FAIL() << "no exception";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_TRUE(has(e.what(), "failed after 1 attempt:")) << e.what();
  }
  EXPECT_EQ(server.connections(), 5);
  EXPECT_EQ(seen, "0123456789");
}

TEST(HttpClient, OnBodyExceptionAbortsTheTransferAndPropagates) {
  HttpServer server([](const ferry::test::HttpRequest&) {
    return ferry::test::HttpReply{200, {}, std::string(100000, 'x')};
  });
  Request r = fast({});
  r.url = server.url("/x");
  int calls = 0;
  r.on_body = [&](std::string_view) {
    ++calls;
    throw std::invalid_argument("consumer gave up");
  };
  try {
    ferry::net::send(r);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "consumer gave up");
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(server.request_count(), 1u);
}
