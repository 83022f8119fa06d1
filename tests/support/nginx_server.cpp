#include "support/nginx_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "support/ports.hpp"

namespace ferry::test {

namespace fs = std::filesystem;

namespace {

// Every path nginx would otherwise take from its compiled-in defaults (/var/log/nginx,
// /var/lib/nginx, /run/nginx.pid) is set here, so it needs nothing outside `dir`.
constexpr const char* kConfig = R"(daemon off;
master_process off;
worker_processes 1;
error_log @DIR@/error.log info;
pid @DIR@/nginx.pid;
events { worker_connections 64; }
http {
  access_log @DIR@/access.log;
  client_body_temp_path @DIR@/tmp/body;
  proxy_temp_path @DIR@/tmp/proxy;
  fastcgi_temp_path @DIR@/tmp/fastcgi;
  uwsgi_temp_path @DIR@/tmp/uwsgi;
  scgi_temp_path @DIR@/tmp/scgi;
  default_type application/octet-stream;
  client_max_body_size 512m;
  server {
    listen 127.0.0.1:@PORT@;
    root @DIR@/www;
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      auth_basic "ferry tests";
      auth_basic_user_file @DIR@/htpasswd;
    }
  }
}
)";

std::string config(const fs::path& dir, int port) {
  std::string out = kConfig;
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"@DIR@", dir.string()},
        std::pair<std::string, std::string>{"@PORT@", std::to_string(port)}}) {
    for (std::size_t at = out.find(key); at != std::string::npos; at = out.find(key, at)) {
      out.replace(at, key.size(), value);
      at += value.size();
    }
  }
  return out;
}

}  // namespace

bool NginxServer::available() { return ::access(kBinary, X_OK) == 0; }

NginxServer::NginxServer(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {
  fs::create_directories(dir_.path() / "www");
  fs::create_directories(dir_.path() / "tmp");
  // nginx reads "{PLAIN}" entries as clear text: no crypt(3) hash to generate.
  write_text(dir_.path() / "htpasswd", user_ + ":{PLAIN}" + password_ + "\n");
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start_on(free_port())) return;
  }
  throw std::runtime_error("nginx did not start; its error log:\n" + error_log());
}

bool NginxServer::start_on(int port) {
  fs::path conf = dir_.path() / "nginx.conf";
  write_text(conf, config(dir_.path(), port));
  // -p: the prefix for relative paths; -e: the error log used before the config is read.
  pid_ = spawn_process({kBinary, "-p", dir_.path().string() + "/", "-c", conf.string(), "-e",
                        (dir_.path() / "error.log").string()},
                       {}, dir_.path() / "stdout", dir_.path() / "stderr");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (wait_for_exit(pid_, std::chrono::milliseconds(0))) {
      pid_ = -1;  // reaped: never signal this PID again
      return false;
    }
    if (port_accepts(port)) {
      port_ = port;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill_and_reap(pid_);
  pid_ = -1;
  throw std::runtime_error("nginx did not accept connections on port " + std::to_string(port) +
                           " within 10 s; its error log:\n" + error_log());
}

NginxServer::~NginxServer() {
  if (pid_ <= 0) return;
  // SIGTERM is nginx's fast shutdown; SIGKILL only if it hangs.
  ::kill(pid_, SIGTERM);
  std::optional<int> code;
  try {
    code = wait_for_exit(pid_, std::chrono::seconds(2));
  } catch (...) {
  }
  if (!code) kill_and_reap(pid_);
}

std::string NginxServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string NginxServer::error_log() const {
  std::error_code ec;
  std::string out;
  for (const char* name : {"stderr", "error.log"}) {
    fs::path p = dir_.path() / name;
    if (fs::exists(p, ec)) out += read_text(p);
  }
  return out;
}

}  // namespace ferry::test
