// RegistryClient against real docker-registry servers (tests/support/registry_server.hpp):
// htpasswd (Basic), open (no auth, relative upload URLs) and token (Bearer JWTs).
#include "oci/registry_client.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/digest.hpp"
#include "ferry/codec.hpp"
#include "ferry/error.hpp"
#include "support/registry_server.hpp"
#include "support/test_support.hpp"
#include "unit/oci/oci_test_util.hpp"

namespace ferry::oci {
namespace {

using test::RegistryServer;
using testing::error_of;

std::string digest_of(const std::string& bytes) { return "sha256:" + detail::sha256_hex(bytes); }

RegistryClient client_for(RegistryServer& server) {
  return RegistryClient(server.host(), RegistryCredentials{server.username(), server.password()});
}

// A one-layer image pushed by hand (config + layer + manifest): its manifest digest.
std::string push_tiny_image(RegistryClient& client, const std::string& repo, const std::string& tag,
                            const std::string& arch = "amd64") {
  const std::string layer = "not really a tar: " + repo + tag;
  const std::string config =
      Value{{"architecture", arch}, {"os", "linux"}, {"rootfs", {{"type", "layers"}}}}.dump();
  client.put_blob(repo, digest_of(layer), layer);
  client.put_blob(repo, digest_of(config), config);
  Value manifest = {{"schemaVersion", 2},
                    {"mediaType", media_type::kOciManifest},
                    {"config",
                     {{"mediaType", media_type::kOciConfig},
                      {"digest", digest_of(config)},
                      {"size", config.size()}}},
                    {"layers",
                     {{{"mediaType", media_type::kOciLayerGzip},
                       {"digest", digest_of(layer)},
                       {"size", layer.size()}}}}};
  return client.put_manifest(repo, tag, media_type::kOciManifest, manifest.dump());
}

TEST(RegistryClientDefaults, InsecureForLoopbackAndListedHosts) {
  testing::ScopedEnv list("FERRY_INSECURE_REGISTRIES", " reg.lan:5000, other.lan ");
  EXPECT_TRUE(default_insecure("localhost"));
  EXPECT_TRUE(default_insecure("localhost:5000"));
  EXPECT_TRUE(default_insecure("127.0.0.1:5000"));
  EXPECT_TRUE(default_insecure("[::1]:5000"));
  EXPECT_TRUE(default_insecure("reg.lan:5000"));
  EXPECT_TRUE(default_insecure("other.lan:443"));
  EXPECT_FALSE(default_insecure("reg.lan:5001"));
  EXPECT_FALSE(default_insecure("ghcr.io"));
  EXPECT_FALSE(default_insecure("docker.io"));
}

TEST(RegistryClient, BlobRoundTripWithBasicAuth) {
  RegistryServer& server = RegistryServer::shared();
  RegistryClient client = client_for(server);
  const std::string bytes = "layer bytes\n" + std::string(100000, 'x');
  const std::string digest = digest_of(bytes);
  EXPECT_FALSE(client.blob_exists("oci/blobs", digest));
  client.put_blob("oci/blobs", digest, bytes);
  EXPECT_TRUE(client.blob_exists("oci/blobs", digest));
  EXPECT_EQ(client.get_blob("oci/blobs", digest), bytes);
  client.put_blob("oci/blobs", digest, bytes);  // already there: skipped
  // An empty blob exists too (no first byte to fetch).
  client.put_blob("oci/blobs", digest_of(""), "");
  EXPECT_TRUE(client.blob_exists("oci/blobs", digest_of("")));
  EXPECT_EQ(client.get_blob("oci/blobs", digest_of("")), "");
}

TEST(RegistryClient, RelativeUploadLocationsOnAnOpenRegistry) {
  RegistryServer& server = RegistryServer::shared_open();
  RegistryClient client(server.host(), std::nullopt);
  const std::string bytes = "open registry blob";
  client.put_blob("oci/open", digest_of(bytes), bytes);
  EXPECT_EQ(client.get_blob("oci/open", digest_of(bytes)), bytes);
}

TEST(RegistryClient, MountsBlobsBetweenRepositories) {
  RegistryClient client = client_for(RegistryServer::shared());
  const std::string bytes = "mount me";
  client.put_blob("oci/mount-from", digest_of(bytes), bytes);
  EXPECT_FALSE(client.blob_exists("oci/mount-to", digest_of(bytes)));
  EXPECT_TRUE(client.mount_blob("oci/mount-to", digest_of(bytes), "oci/mount-from"));
  EXPECT_TRUE(client.blob_exists("oci/mount-to", digest_of(bytes)));
  // A blob the source lacks: the registry offers an upload instead (cancelled).
  EXPECT_FALSE(client.mount_blob("oci/mount-to", digest_of("nowhere"), "oci/mount-from"));
  EXPECT_FALSE(client.blob_exists("oci/mount-to", digest_of("nowhere")));
}

TEST(RegistryClient, ManifestRoundTripAndDigests) {
  RegistryClient client = client_for(RegistryServer::shared());
  const std::string digest = push_tiny_image(client, "oci/manifests", "v1");
  Manifest m = client.get_manifest("oci/manifests", "v1");
  EXPECT_EQ(m.media_type, media_type::kOciManifest);
  EXPECT_EQ(m.digest, digest);
  EXPECT_EQ(digest_of(m.body), digest);
  EXPECT_EQ(client.resolve_digest("oci/manifests", "v1"), digest);
  EXPECT_EQ(client.get_manifest("oci/manifests", digest).body, m.body);
}

TEST(RegistryClient, FollowsAnIndexToLinuxAmd64) {
  RegistryClient client = client_for(RegistryServer::shared());
  const std::string arm = push_tiny_image(client, "oci/multi", "arm", "arm64");
  const std::string amd = push_tiny_image(client, "oci/multi", "amd", "amd64");
  auto entry = [&](const std::string& digest, const std::string& arch) {
    Manifest m = client.get_manifest("oci/multi", digest);
    return Value{{"mediaType", media_type::kOciManifest},
                 {"digest", digest},
                 {"size", m.body.size()},
                 {"platform", {{"os", "linux"}, {"architecture", arch}}}};
  };
  Value index = {{"schemaVersion", 2},
                 {"mediaType", media_type::kOciIndex},
                 {"manifests", {entry(arm, "arm64"), entry(amd, "amd64")}}};
  const std::string index_digest =
      client.put_manifest("oci/multi", "both", media_type::kOciIndex, index.dump());
  EXPECT_EQ(client.resolve_digest("oci/multi", "both"), index_digest);
  Manifest m = client.get_manifest("oci/multi", "both");
  EXPECT_EQ(m.digest, amd);
  EXPECT_EQ(m.media_type, media_type::kOciManifest);

  Value arm_only = {{"schemaVersion", 2},
                    {"mediaType", media_type::kOciIndex},
                    {"manifests", {entry(arm, "arm64")}}};
  client.put_manifest("oci/multi", "arm-only", media_type::kOciIndex, arm_only.dump());
  const std::string message = error_of([&] { client.get_manifest("oci/multi", "arm-only"); });
  EXPECT_NE(message.find("no linux/amd64 variant (it has: linux/arm64)"), std::string::npos)
      << message;
}

TEST(RegistryClient, WrongPasswordIsOneClearErrorWithoutThePassword) {
  RegistryServer& server = RegistryServer::shared();
  const std::string wrong = "wrong-" + server.password();
  RegistryClient client(server.host(), RegistryCredentials{server.username(), wrong});
  const std::string message = error_of([&] { client.get_manifest("oci/private", "v1"); });
  EXPECT_NE(message.find("Registry " + server.host() +
                         " refused the credentials for oci/private (HTTP 401): check the "
                         "username and password"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(wrong), std::string::npos) << message;
  EXPECT_EQ(message.find(server.password()), std::string::npos) << message;
  EXPECT_THROW(client.put_blob("oci/private", digest_of("x"), "x"), Error);
}

TEST(RegistryClient, NoCredentialsSaysWhereToPutThem) {
  RegistryServer& server = RegistryServer::shared();
  RegistryClient client(server.host(), std::nullopt);
  const std::string message = error_of([&] { client.blob_exists("oci/private", digest_of("x")); });
  EXPECT_NE(message.find("Registry " + server.host() + " needs credentials for oci/private"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("docker login " + server.host()), std::string::npos) << message;
  EXPECT_NE(message.find("registry credentials secret"), std::string::npos) << message;
}

TEST(RegistryClient, MissingImageNamesTheReference) {
  RegistryServer& server = RegistryServer::shared();
  RegistryClient client = client_for(server);
  const std::string message = error_of([&] { client.get_manifest("oci/missing", "nope"); });
  EXPECT_NE(message.find("Image " + server.host() +
                         "/oci/missing:nope not found in the registry (HTTP 404)"),
            std::string::npos)
      << message;
  push_tiny_image(client, "oci/missing", "there");
  const std::string other_tag = error_of([&] { client.get_manifest("oci/missing", "v9"); });
  EXPECT_NE(other_tag.find("oci/missing:v9 not found"), std::string::npos) << other_tag;
  const std::string digest = digest_of("no such manifest");
  const std::string by_digest = error_of([&] { client.resolve_digest("oci/missing", digest); });
  EXPECT_NE(by_digest.find("oci/missing@" + digest + " not found"), std::string::npos) << by_digest;
}

TEST(RegistryClient, DetectsABlobThatDoesNotMatchItsDigest) {
  RegistryServer& server = RegistryServer::shared();
  RegistryClient client = client_for(server);
  const std::string bytes = "the original content";
  const std::string digest = digest_of(bytes);
  client.put_blob("oci/corrupt", digest, bytes);
  // Replace the stored bytes behind the registry's back (same length: a disk fault).
  const std::string hex = digest.substr(7);
  const std::filesystem::path data = std::filesystem::path(server.data_dir()) /
                                     "docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex /
                                     "data";
  ASSERT_TRUE(std::filesystem::exists(data)) << data;
  test::write_text(data, "the tampered content");
  const std::string message = error_of([&] { client.get_blob("oci/corrupt", digest); });
  EXPECT_NE(message.find("Blob " + digest + " from " + server.host() +
                         "/oci/corrupt does not match its digest"),
            std::string::npos)
      << message;
}

TEST(RegistryClient, ManifestErrorsCarryTheRegistrysReason) {
  RegistryClient client = client_for(RegistryServer::shared());
  Value manifest = {{"schemaVersion", 2},
                    {"mediaType", media_type::kOciManifest},
                    {"config",
                     {{"mediaType", media_type::kOciConfig},
                      {"digest", digest_of("absent config")},
                      {"size", 13}}},
                    {"layers", Value::array()}};
  const std::string message = error_of(
      [&] { client.put_manifest("oci/bad", "v1", media_type::kOciManifest, manifest.dump()); });
  EXPECT_NE(message.find("HTTP 400"), std::string::npos) << message;
  EXPECT_NE(message.find("MANIFEST_BLOB_UNKNOWN"), std::string::npos) << message;
}

// ---- Bearer tokens (the Docker token authentication flow) ----

TEST(RegistryClientToken, PushesAndPullsWithBearerTokens) {
  RegistryServer& server = RegistryServer::shared_token();
  RegistryClient client = client_for(server);
  const int before = server.tokens_issued();
  const std::string digest = push_tiny_image(client, "oci/token", "v1");
  EXPECT_EQ(client.get_manifest("oci/token", "v1").digest, digest);
  const std::string bytes = "token blob";
  client.put_blob("oci/token-b", digest_of(bytes), bytes);
  EXPECT_TRUE(client.mount_blob("oci/token-c", digest_of(bytes), "oci/token-b"));
  EXPECT_EQ(client.get_blob("oci/token-c", digest_of(bytes)), bytes);
  // Tokens are cached per scope: a handful, not one per request.
  const int issued = server.tokens_issued() - before;
  EXPECT_GE(issued, 2);
  EXPECT_LE(issued, 6);
}

TEST(RegistryClientToken, WrongPasswordIsTheClearError) {
  RegistryServer& server = RegistryServer::shared_token();
  const std::string wrong = "not-" + server.password();
  RegistryClient client(server.host(), RegistryCredentials{server.username(), wrong});
  const std::string message = error_of([&] { client.get_manifest("oci/token", "v1"); });
  EXPECT_NE(message.find("Registry " + server.host() +
                         " refused the credentials for oci/token (HTTP 401)"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(wrong), std::string::npos) << message;
}

TEST(RegistryClientToken, AnonymousTokenIsNotEnough) {
  RegistryServer& server = RegistryServer::shared_token();
  RegistryClient client(server.host(), std::nullopt);
  const std::string message = error_of([&] { client.get_manifest("oci/token", "v1"); });
  EXPECT_NE(message.find("needs credentials for oci/token"), std::string::npos) << message;
}

}  // namespace
}  // namespace ferry::oci
