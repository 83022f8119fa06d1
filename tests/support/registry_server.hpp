// Real container registries for the OCI client and image builder tests: Debian's
// docker-registry (distribution 2.8) in a temporary folder on a free 127.0.0.1 port, started
// once per test run and stopped by its process id at exit. Three flavours:
//  - shared():       htpasswd (Basic) authentication, user "ferry" with a random password;
//  - shared_open():  no authentication, relative upload Locations (http.relativeurls);
//  - shared_token(): Bearer tokens, as Docker Hub, GHCR and most clouds do: the registry
//    sends clients to a token endpoint in this test process, which checks the same user and
//    password and issues RS256 JWTs signed by a key whose self-signed certificate the
//    registry trusts.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "support/http_server.hpp"
#include "support/test_support.hpp"

namespace ferry::test {

class RegistryServer {
 public:
  // Whether docker-registry and htpasswd are installed (scripts/install-deps.sh).
  static bool available();
  // The servers of this test run, each started on its first call. Throw std::runtime_error
  // (with the registry's log) when they cannot start; later calls throw the same again.
  static RegistryServer& shared();
  static RegistryServer& shared_open();
  static RegistryServer& shared_token();

  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  std::string host() const;  // "127.0.0.1:PORT"
  std::string username() const { return username_; }
  std::string password() const { return password_; }
  // Where the registry keeps its blobs (docker/registry/v2/...), for tests that corrupt one.
  std::string data_dir() const;
  std::string log() const;
  // Token variant: the token endpoint's URL, and how many tokens it has issued.
  std::string token_realm() const;
  int tokens_issued() const { return tokens_issued_; }

 private:
  enum class Auth { kNone, kHtpasswd, kToken };
  explicit RegistryServer(Auth auth);
  void write_config();
  void start_token_service();
  HttpReply issue_token(const HttpRequest& request);
  void wait_until_ready();
  void stop() noexcept;

  Auth auth_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string username_ = "ferry";
  std::string password_;
  std::unique_ptr<HttpServer> token_service_;
  std::atomic<int> tokens_issued_{0};
};

}  // namespace ferry::test
