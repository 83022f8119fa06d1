// Debian's nginx as a second, independent HTTP server for the tests: a real WebDAV file
// server (PUT, DELETE) behind HTTP basic authentication, on a free 127.0.0.1 port, with its
// configuration, logs, temporary files and document root in a temporary folder of its own.
// It runs as a child process in the foreground (no daemon, no master process) and is stopped
// by its PID, so nothing else on the machine is touched.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "support/test_support.hpp"

namespace ferry::test {

class NginxServer {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";
  // Whether kBinary exists and is executable (tests skip without it).
  static bool available();

  // Starts nginx accepting `user`:`password` (stored as {PLAIN} in its htpasswd file) for
  // every path; PUT writes below root(), creating folders, GET reads back. Returns once the
  // port accepts connections; throws std::runtime_error (with nginx's error log) otherwise.
  NginxServer(std::string user, std::string password);
  // Stops nginx (SIGTERM, then SIGKILL after 2 s) and reaps it.
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path = "/") const;
  // The document root: a file PUT to /a/b is root()/a/b.
  std::filesystem::path root() const { return dir_.path() / "www"; }
  // nginx's error log (useful in failure messages).
  std::string error_log() const;

 private:
  bool start_on(int port);  // false if nginx exited (e.g. the port was taken meanwhile)

  TempDir dir_;
  std::string user_;
  std::string password_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace ferry::test
