// A client for the Docker Registry HTTP API v2 (the OCI distribution spec): blobs and
// manifests, with the Docker client's authentication handshake (Basic, or Bearer tokens from
// the realm the registry names). Every request goes through ferry::net::send, which retries
// 429/500/503 and keeps URLs' query strings out of messages; no message carries a password
// or token.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_client.hpp"
#include "oci/registry_credentials.hpp"

namespace ferry::oci {

namespace media_type {
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
}  // namespace media_type

struct RegistryOptions {
  // Plain http instead of https. nullopt: plain http for localhost, 127.x and [::1], and for
  // the hosts listed in FERRY_INSECURE_REGISTRIES (comma-separated); https otherwise.
  std::optional<bool> insecure{};
  std::string ca_file{};  // PEM bundle to verify the registry's certificate with
  double timeout_seconds = 600;
};

struct Manifest {
  std::string media_type;
  std::string body;    // the bytes as served: the digest is over exactly these
  std::string digest;  // "sha256:<hex>" of body
};

// Whether a registry host gets plain http by default (see RegistryOptions::insecure).
bool default_insecure(std::string_view registry_host);

class RegistryClient {
 public:
  // registry_host as in ImageReference::registry ("docker.io" talks to registry-1.docker.io).
  RegistryClient(std::string registry_host, std::optional<RegistryCredentials> creds,
                 RegistryOptions opts = {});

  const std::string& host() const { return host_; }

  bool blob_exists(const std::string& repo, const std::string& digest);
  // The blob, checked against its sha256 digest (a mismatch is a ferry::Error).
  std::string get_blob(const std::string& repo, const std::string& digest);
  // Uploads the blob unless the repository has it (one POST, then one monolithic PUT).
  void put_blob(const std::string& repo, const std::string& digest, std::string_view bytes);
  // Asks the registry to link a blob of from_repo into repo without uploading it: true when it
  // did (201); false when it would rather take an upload (202: the upload is cancelled).
  bool mount_blob(const std::string& repo, const std::string& digest, const std::string& from_repo);

  // The image manifest for a tag or digest. An index / manifest list is followed to its
  // linux/amd64 entry. A digest reference is checked against the bytes served. A missing
  // image is a ferry::Error "Image HOST/REPO:REF not found in the registry (HTTP 404). ...".
  Manifest get_manifest(const std::string& repo, const std::string& reference);
  // Returns the manifest's digest (the registry's Docker-Content-Digest, else sha256 of body).
  std::string put_manifest(const std::string& repo, const std::string& reference,
                           std::string_view media_type, const std::string& body);
  // The digest a tag points at (for an index, the index's own digest), without following.
  std::string resolve_digest(const std::string& repo, const std::string& reference);

 private:
  enum class Scheme { kUnknown, kBasic, kBearer };  // what the registry asked for so far

  // Sends with authentication, answering at most one challenge. `scopes` are the token
  // scopes the request needs ("repository:team/flows:pull,push").
  net::Response call(net::Request request, const std::string& repo,
                     const std::vector<std::string>& scopes);
  void authorize(net::Request& request, const std::string& scope_key) const;
  void fetch_token(const std::string& repo, const std::vector<std::string>& scopes,
                   const std::string& scope_key);
  [[noreturn]] void refused(const std::string& repo, long status) const;
  [[noreturn]] void fail(const net::Request& request, const net::Response& response,
                         const std::string& what) const;
  net::Request request(std::string method, const std::string& path) const;
  std::string absolute(const std::string& location) const;
  std::string name(const std::string& repo, const std::string& reference) const;
  [[noreturn]] void throw_not_found(const std::string& repo, const std::string& reference) const;
  Manifest fetch_manifest(const std::string& repo, const std::string& reference, int depth);

  std::string host_;
  std::string base_url_;  // "https://registry-1.docker.io"
  std::optional<RegistryCredentials> creds_;
  RegistryOptions opts_;
  Scheme scheme_ = Scheme::kUnknown;
  std::string realm_, service_;
  std::map<std::string, std::string> tokens_;  // scope key -> bearer token
};

}  // namespace ferry::oci
