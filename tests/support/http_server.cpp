#include "support/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "core/text.hpp"

namespace ferry::test {

namespace {

using detail::iequals;
using detail::trim;

// Reads until `buffer` holds at least `size` bytes; false on EOF, error or a 10 s stall.
bool read_more(int fd, std::string& buffer) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10000) <= 0) return false;
  char chunk[65536];
  ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(n));
  return true;
}

void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

std::string url_decode(std::string_view text) { return detail::percent_decode(text); }

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

bool HttpRequest::has_header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return true;
  }
  return false;
}

std::string HttpRequest::param(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() || it->second.empty() ? std::string() : it->second.front();
}

HttpServer::HttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("bind/listen on 127.0.0.1 failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpServer::~HttpServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<HttpRequest> HttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t HttpServer::request_count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

void HttpServer::clear_requests() {
  std::lock_guard lock(mutex_);
  requests_.clear();
}

void HttpServer::fail_next(int n, int status) {
  std::lock_guard lock(mutex_);
  fail_count_ = n;
  fail_status_ = status;
}

void HttpServer::drop_next(int n) {
  std::lock_guard lock(mutex_);
  drop_count_ = n;
}

std::string HttpServer::stored(const std::string& path) const {
  std::lock_guard lock(mutex_);
  auto it = objects_.find(path);
  return it == objects_.end() ? std::string() : it->second;
}

void HttpServer::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

HttpReply HttpServer::store(const HttpRequest& r) {
  std::lock_guard lock(mutex_);
  if (!r.body.empty()) {
    objects_[r.path] = r.body;
    return {200,
            {{"Content-Type", "application/json"}},
            "{\"id\": \"" + r.path + "\", \"size\": " + std::to_string(r.body.size()) + "}"};
  }
  auto it = objects_.find(r.path);
  if (it == objects_.end()) return {404, {}, "no such object"};
  return {200, {{"Content-Type", "application/octet-stream"}}, it->second};
}

void HttpServer::handle(int fd) {
  std::string buffer;
  std::size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(fd, buffer)) return;
  }
  HttpRequest r;
  std::string head = buffer.substr(0, end);
  std::size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  std::size_t sp1 = request_line.find(' ');
  std::size_t sp2 = request_line.find(' ', sp1 + 1);
  r.method = request_line.substr(0, sp1);
  r.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t q = r.target.find('?');
  r.path = url_decode(r.target.substr(0, q));
  if (q != std::string::npos) {
    std::string query = r.target.substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      std::size_t amp = query.find('&', start);
      std::string pair =
          query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!pair.empty()) {
        std::size_t eq = pair.find('=');
        r.query[url_decode(pair.substr(0, eq))].push_back(
            eq == std::string::npos ? std::string() : url_decode(pair.substr(eq + 1)));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    std::size_t colon = line.find(':');
    if (colon != std::string::npos)
      r.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    pos = next + 2;
  }
  std::size_t length = 0;
  if (std::string cl = r.header("Content-Length"); !cl.empty()) length = std::stoul(cl);
  r.body = buffer.substr(end + 4);
  while (r.body.size() < length) {
    if (!read_more(fd, r.body)) return;
  }
  r.body.resize(length);

  HttpReply reply;
  bool dropped = false, failed = false;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(r);
    if (drop_count_ > 0) {
      --drop_count_;
      dropped = true;
    } else if (fail_count_ > 0) {
      --fail_count_;
      failed = true;
      reply = {fail_status_, {{"Retry-After", "0"}}, "try again later"};
    }
  }
  if (dropped) return;
  if (!failed) reply = handler_ ? handler_(r) : store(r);
  if (reply.drop) return;
  std::string out =
      "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
  for (const auto& [n, v] : reply.headers) out += n + ": " + v + "\r\n";
  out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n";
  if (r.method != "HEAD") out += reply.body;
  write_all(fd, out);
}

}  // namespace ferry::test
