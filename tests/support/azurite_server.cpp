#include "support/azurite_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "core/text.hpp"
#include "net/azure_blob.hpp"
#include "net/http_client.hpp"
#include "net/sigv4.hpp"

namespace ferry::test {

namespace {

using namespace std::chrono_literals;

}  // namespace

AzuriteServer& AzuriteServer::shared() {
  static AzuriteServer server;
  return server;
}

std::string AzuriteServer::binary() {
  if (const char* override_path = std::getenv("FERRY_AZURITE_BLOB");
      override_path && *override_path)
    return override_path;
  return "/opt/ferry-test-tools/node_modules/.bin/azurite-blob";
}

AzuriteServer::AzuriteServer() {
  port_ = free_port();
  std::filesystem::path data = dir_.path() / "data";
  std::filesystem::create_directories(data);
  std::vector<std::string> argv = {binary(),      "--blobHost",          "127.0.0.1",
                                   "--blobPort",  std::to_string(port_), "--location",
                                   data.string(), "--disableTelemetry",  "--silent"};
  // Not ServerProcess::start: node loads azurite in ~1 s on an idle machine but took up to
  // 8 s on a loaded 2-core one, beyond start()'s 5 s.
  auto begin = std::chrono::steady_clock::now();
  pid_ = spawn_process(argv, {}, dir_.path() / "server.out", dir_.path() / "server.err");
  while (!port_accepts(port_)) {
    if (wait_for_exit(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error(argv[0] +
                               " exited at start (install it with scripts/install-deps.sh or set "
                               "FERRY_AZURITE_BLOB): " +
                               log());
    }
    if (std::chrono::steady_clock::now() - begin > 60s) {
      stop();
      throw std::runtime_error(argv[0] + " did not listen within 60 s: " + log());
    }
    std::this_thread::sleep_for(10ms);
  }
  start_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begin);
}

std::string AzuriteServer::blob_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + std::string(net::kDevStorageAccount);
}

std::string AzuriteServer::connection_string() const {
  return "DefaultEndpointsProtocol=http;AccountName=" + std::string(net::kDevStorageAccount) +
         ";AccountKey=" + std::string(net::kDevStorageKey) + ";BlobEndpoint=" + blob_endpoint() +
         ";";
}

std::string AzuriteServer::sas_connection_string(const std::string& permissions,
                                                 const std::string& expiry) const {
  return "BlobEndpoint=" + blob_endpoint() + ";SharedAccessSignature=" +
         make_account_sas(std::string(net::kDevStorageAccount), std::string(net::kDevStorageKey),
                          permissions, expiry);
}

std::string make_account_sas(const std::string& account, const std::string& base64_key,
                             const std::string& permissions, const std::string& expiry) {
  const std::string version(net::kAzureBlobApiVersion);
  const std::string services = "b", resource_types = "sco", protocol = "https,http";
  // account, permissions, services, resource types, start, expiry, IP, protocol, version,
  // encryption scope, and a final newline.
  std::string to_sign = account + "\n" + permissions + "\n" + services + "\n" + resource_types +
                        "\n" + "\n" + expiry + "\n" + "\n" + protocol + "\n" + version + "\n" +
                        "\n";
  std::string key = detail::base64_decode(base64_key).value();
  std::string signature = detail::base64_encode(net::sigv4::hmac_sha256(key, to_sign));
  return "sv=" + version + "&ss=" + services + "&srt=" + resource_types + "&sp=" + permissions +
         "&se=" + net::url_encode(expiry) + "&spr=" + net::url_encode(protocol) +
         "&sig=" + net::url_encode(signature);
}

}  // namespace ferry::test
