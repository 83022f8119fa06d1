#include "support/registry_server.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "core/random.hpp"
#include "core/text.hpp"
#include "ferry/codec.hpp"
#include "net/gcp_credentials.hpp"
#include "net/http_client.hpp"
#include "support/ports.hpp"

namespace ferry::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const char* kRegistry = "/usr/bin/docker-registry";
const char* kHtpasswd = "/usr/bin/htpasswd";
const char* kService = "ferry-test-registry";
const char* kIssuer = "ferry-test-token-issuer";

RegistryServer& start_once(std::unique_ptr<RegistryServer> (*make)(), std::string& failure,
                           std::unique_ptr<RegistryServer>& instance, bool& tried) {
  // A failed start is remembered, so every test reports it without waiting again.
  if (!tried) {
    tried = true;
    try {
      instance = make();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!instance) throw std::runtime_error(failure);
  return *instance;
}

// RS256 over `data` with the PEM private key at key_path.
std::string rs256(const fs::path& key_path, std::string_view data) {
  const std::string pem = read_text(key_path);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  auto bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (!key || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, bytes, data.size()) != 1) {
    throw std::runtime_error("cannot sign a registry token with " + key_path.string());
  }
  std::string signature(length, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, bytes,
                 data.size());
  signature.resize(length);
  return signature;
}

// The DER bytes of the PEM certificate at cert_path, base64 (the JWT header's x5c).
std::string cert_der_base64(const fs::path& cert_path) {
  const std::string pem = read_text(cert_path);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  unsigned char* der = nullptr;
  const int n = cert ? i2d_X509(cert.get(), &der) : -1;
  if (n <= 0) throw std::runtime_error("cannot read the token certificate " + cert_path.string());
  std::string out = detail::base64_encode(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return out;
}

}  // namespace

bool RegistryServer::available() {
  return ::access(kRegistry, X_OK) == 0 && ::access(kHtpasswd, X_OK) == 0;
}

RegistryServer& RegistryServer::shared() {
  static std::string failure;
  static std::unique_ptr<RegistryServer> instance;
  static bool tried = false;
  return start_once(
      [] { return std::unique_ptr<RegistryServer>(new RegistryServer(Auth::kHtpasswd)); }, failure,
      instance, tried);
}

RegistryServer& RegistryServer::shared_open() {
  static std::string failure;
  static std::unique_ptr<RegistryServer> instance;
  static bool tried = false;
  return start_once([] { return std::unique_ptr<RegistryServer>(new RegistryServer(Auth::kNone)); },
                    failure, instance, tried);
}

RegistryServer& RegistryServer::shared_token() {
  static std::string failure;
  static std::unique_ptr<RegistryServer> instance;
  static bool tried = false;
  return start_once(
      [] { return std::unique_ptr<RegistryServer>(new RegistryServer(Auth::kToken)); }, failure,
      instance, tried);
}

RegistryServer::RegistryServer(Auth auth) : auth_(auth) {
  if (!available()) {
    throw std::runtime_error(std::string("docker-registry or htpasswd is not installed (") +
                             kRegistry + ", " + kHtpasswd + "): run scripts/install-deps.sh");
  }
  password_ = detail::random_hex(12, "make a test registry password");
  fs::create_directories(dir_ / "data");
  if (auth_ == Auth::kHtpasswd) {
    CommandResult r = run_command({kHtpasswd, "-Bbn", username_, password_});
    if (r.exit_code != 0) throw std::runtime_error("htpasswd failed: " + r.err);
    write_text(dir_ / "htpasswd", r.out);
  }
  if (auth_ == Auth::kToken) start_token_service();
  const auto begin = std::chrono::steady_clock::now();
  // Another process may take the free port before the registry binds it: try a few.
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    write_config();
    pid_ = spawn_process({kRegistry, "serve", (dir_ / "config.yml").string()}, {},
                         dir_ / "registry.out", dir_ / "registry.err");
    try {
      wait_until_ready();
      break;
    } catch (const std::exception&) {
      stop();
      if (attempt == 3) throw;
    }
  }
  std::cerr << "[docker-registry] " << host() << " started in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - begin)
                   .count()
            << " ms\n";
}

RegistryServer::~RegistryServer() { stop(); }

void RegistryServer::write_config() {
  std::string yml =
      "version: 0.1\n"
      "log:\n  level: info\n  accesslog:\n    disabled: false\n"
      "storage:\n  filesystem:\n    rootdirectory: " +
      (dir_ / "data").string() +
      "\n  delete:\n    enabled: true\n"
      "http:\n  addr: 127.0.0.1:" +
      std::to_string(port_) + "\n  secret: ferry-test-secret\n";
  if (auth_ == Auth::kNone) yml += "  relativeurls: true\n";
  if (auth_ == Auth::kHtpasswd) {
    yml += "auth:\n  htpasswd:\n    realm: ferry-test\n    path: " + (dir_ / "htpasswd").string() +
           "\n";
  }
  if (auth_ == Auth::kToken) {
    yml += std::string("auth:\n  token:\n    realm: ") + token_realm() +
           "\n    service: " + kService + "\n    issuer: " + kIssuer +
           "\n    rootcertbundle: " + (dir_ / "token.crt").string() + "\n";
  }
  write_text(dir_ / "config.yml", yml);
}

void RegistryServer::start_token_service() {
  CommandResult r =
      run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                   (dir_ / "token.key").string(), "-out", (dir_ / "token.crt").string(), "-days",
                   "2", "-subj", "/CN=ferry-test-token-issuer"});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  token_service_ =
      std::make_unique<HttpServer>([this](const HttpRequest& req) { return issue_token(req); });
}

std::string RegistryServer::token_realm() const {
  return token_service_ ? token_service_->url("/token") : "";
}

// The token endpoint of the Docker token authentication spec: Basic credentials (or none, for
// an anonymous token granting nothing), a service and scopes "repository:NAME:ACTIONS"; the
// answer {"token": JWT} grants the scopes to the right user.
HttpReply RegistryServer::issue_token(const HttpRequest& request) {
  std::string subject;
  if (std::string auth = request.header("Authorization"); !auth.empty()) {
    std::optional<std::string> decoded =
        auth.rfind("Basic ", 0) == 0 ? detail::base64_decode(auth.substr(6)) : std::nullopt;
    if (!decoded || *decoded != username_ + ":" + password_) {
      return {401,
              {{"Content-Type", "application/json"}},
              R"({"details":"incorrect username or password"})"};
    }
    subject = username_;
  }
  Value access = Value::array();
  if (!subject.empty() && request.query.count("scope")) {
    for (const std::string& scope : request.query.at("scope")) {
      // "repository:team/flows:pull,push" (names have no ':'; a registry port never occurs).
      const auto first = scope.find(':');
      const auto last = scope.rfind(':');
      if (first == std::string::npos || first == last) continue;
      Value actions = Value::array();
      std::string list = scope.substr(last + 1);
      for (std::size_t begin = 0; begin <= list.size();) {
        auto comma = list.find(',', begin);
        if (comma == std::string::npos) comma = list.size();
        if (comma > begin) actions.push_back(list.substr(begin, comma - begin));
        begin = comma + 1;
      }
      access.push_back({{"type", scope.substr(0, first)},
                        {"name", scope.substr(first + 1, last - first - 1)},
                        {"actions", actions}});
    }
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  Value header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {cert_der_base64(dir_ / "token.crt")}}};
  Value claims = {{"iss", kIssuer},
                  {"sub", subject},
                  {"aud", kService},
                  {"iat", now},
                  {"nbf", now - 60},
                  {"exp", now + 600},
                  {"jti", detail::random_hex(8, "make a token id")},
                  {"access", access}};
  const std::string input =
      net::base64url_encode(header.dump()) + "." + net::base64url_encode(claims.dump());
  const std::string jwt = input + "." + net::base64url_encode(rs256(dir_ / "token.key", input));
  ++tokens_issued_;
  return {200, {{"Content-Type", "application/json"}}, Value{{"token", jwt}}.dump()};
}

void RegistryServer::wait_until_ready() {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  const long expected = auth_ == Auth::kNone ? 200 : 401;
  long last = 0;
  for (;;) {
    if (std::optional<int> code = wait_for_exit(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error("docker-registry exited at start (code " + std::to_string(*code) +
                               "):\n" + log());
    }
    if (port_accepts(port_)) {
      net::Request probe;
      probe.url = "http://" + host() + "/v2/";
      probe.timeout_seconds = 5;
      probe.max_retries = 0;
      try {
        last = net::send(probe).status;
        if (last == expected) return;
      } catch (const std::exception&) {
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("docker-registry did not answer GET /v2/ with HTTP " +
                               std::to_string(expected) +
                               " within 30 s (last: " + std::to_string(last) + "):\n" + log());
    }
    std::this_thread::sleep_for(20ms);
  }
}

void RegistryServer::stop() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  std::optional<int> code;
  try {
    code = wait_for_exit(pid_, 10s);
  } catch (...) {
  }
  if (!code) kill_and_reap(pid_);
  pid_ = -1;
}

std::string RegistryServer::host() const { return "127.0.0.1:" + std::to_string(port_); }

std::string RegistryServer::data_dir() const { return (dir_ / "data").string(); }

std::string RegistryServer::log() const {
  return read_text(dir_ / "registry.out") + read_text(dir_ / "registry.err");
}

}  // namespace ferry::test
