// Google credentials (src/net/gcp_credentials.hpp): the service account JWT (checked with the
// public key), the chain's order (secret, key file, metadata server on a loopback server),
// malformed keys named without their content, token caching and masking.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/masking.hpp"
#include "ferry/error.hpp"
#include "net/gcp_credentials.hpp"
#include "support/gcs_fake.hpp"
#include "support/http_server.hpp"
#include "support/test_support.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Value;
using ferry::ValueError;
using ferry::net::GcpCredentials;
using ferry::net::resolve_gcp_credentials;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::ScopedEnv;
using ferry::test::HttpReply;
using ferry::test::HttpRequest;
using ferry::test::HttpServer;

// A key generated once per test run (RSA generation costs tens of milliseconds).
const std::string& test_private_key() {
  static const std::string key = ferry::test::generate_rsa_private_key_pem();
  return key;
}

Value key_json(const std::string& project,
               const std::string& token_uri = "https://t.example/token") {
  return {{"type", "service_account"},
          {"project_id", project},
          {"private_key_id", "kid-" + project},
          {"private_key", test_private_key()},
          {"client_email", "sa@" + project + ".iam.gserviceaccount.com"},
          {"token_uri", token_uri}};
}

// No Google variable from the machine, an empty FERRY_HOME (no secret store), a metadata
// host that refuses connections at once, and an empty token cache.
struct CleanGcp {
  ferry::test::ScopedFerryHome home;
  ferry::test::TempDir dir;
  std::vector<std::unique_ptr<ScopedEnv>> vars;
  CleanGcp() {
    for (const char* name :
         {"GCP_CREDENTIALS", "FERRY__CONTEXT__SECRETS__GCP_CREDENTIALS",
          "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"})
      vars.push_back(std::make_unique<ScopedEnv>(name, nullptr));
    vars.push_back(std::make_unique<ScopedEnv>("GCE_METADATA_HOST", "127.0.0.1:1"));
    ferry::net::clear_gcp_token_cache_for_testing();
  }
  std::string write_key(const std::string& name, const std::string& text) {
    ferry::test::write_text(dir / name, text);
    return (dir / name).string();
  }
};

// A loopback metadata server that answers like Google's: only with Metadata-Flavor: Google.
HttpServer::Handler metadata_server() {
  return [](const HttpRequest& r) -> HttpReply {
    if (r.header("Metadata-Flavor") != "Google") return {403, {}, "Missing Metadata-Flavor"};
    if (r.path == "/computeMetadata/v1/instance/service-accounts/default/token")
      return {200,
              {{"Metadata-Flavor", "Google"}, {"Content-Type", "application/json"}},
              R"({"access_token":"metadata-token-123","expires_in":3599,"token_type":"Bearer"})"};
    if (r.path == "/computeMetadata/v1/project/project-id")
      return {200, {{"Metadata-Flavor", "Google"}}, "metadata-project"};
    return {404, {}, "not found"};
  };
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t p; (p = text.find(sep, start)) != std::string::npos; start = p + 1)
    out.push_back(text.substr(start, p - start));
  out.push_back(text.substr(start));
  return out;
}

Value decode_part(const std::string& part) {
  auto text = ferry::net::base64url_decode(part);
  return text ? Value::parse(*text, nullptr, false) : Value();
}

// A line from the middle of a PEM key: what must never appear in a message.
std::string key_line(const std::string& pem) { return split(pem, '\n').at(3); }

}  // namespace

TEST(GcpCredentials, Base64UrlHasNoPaddingPlusOrSlash) {
  std::string bytes("\xfb\xff\xbf\x00\x01", 5);
  std::string encoded = ferry::net::base64url_encode(bytes);
  EXPECT_EQ(encoded, "-_-_AAE");
  EXPECT_EQ(ferry::net::base64url_decode(encoded), bytes);
  EXPECT_FALSE(ferry::net::base64url_decode("ab+/").has_value());
}

TEST(GcpCredentials, ServiceAccountJwtHasTheHeaderAndClaimsAndAValidRs256Signature) {
  ferry::net::ServiceAccountKey key{"proj", "key-id-1", test_private_key(),
                                    "sa@proj.iam.gserviceaccount.com",
                                    "https://oauth2.googleapis.com/token"};
  std::string jwt = ferry::net::service_account_jwt(key, 1700000000);
  std::vector<std::string> parts = split(jwt, '.');
  ASSERT_EQ(parts.size(), 3u);
  for (const std::string& p : parts) {
    EXPECT_EQ(p.find_first_of("+/="), std::string::npos) << "base64url, unpadded: " << p;
  }
  EXPECT_EQ(decode_part(parts[0]), (Value{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "key-id-1"}}));
  EXPECT_EQ(decode_part(parts[1]),
            (Value{{"iss", "sa@proj.iam.gserviceaccount.com"},
                   {"scope", "https://www.googleapis.com/auth/devstorage.read_write"},
                   {"aud", "https://oauth2.googleapis.com/token"},
                   {"iat", 1700000000},
                   {"exp", 1700003600}}));

  std::string public_key = ferry::test::rsa_public_key_pem(test_private_key());
  auto signature = ferry::net::base64url_decode(parts[2]);
  ASSERT_TRUE(signature.has_value());
  EXPECT_EQ(signature->size(), 256u) << "RSA 2048 signature";
  EXPECT_TRUE(ferry::test::rs256_verify(public_key, parts[0] + "." + parts[1], *signature));
  // The signature covers the claims, and only this key verifies it.
  std::string other_claims = ferry::net::base64url_encode(R"({"iss":"someone@else"})");
  EXPECT_FALSE(ferry::test::rs256_verify(public_key, parts[0] + "." + other_claims, *signature));
  std::string other_public =
      ferry::test::rsa_public_key_pem(ferry::test::generate_rsa_private_key_pem());
  EXPECT_FALSE(ferry::test::rs256_verify(other_public, parts[0] + "." + parts[1], *signature));
}

TEST(GcpCredentials, TheSecretComesFirstThenTheKeyFileThenTheMetadataServer) {
  CleanGcp clean;
  HttpServer metadata(metadata_server());
  ScopedEnv host("GCE_METADATA_HOST", ("127.0.0.1:" + std::to_string(metadata.port())).c_str());

  GcpCredentials from_metadata = resolve_gcp_credentials();
  EXPECT_EQ(from_metadata.kind(), GcpCredentials::Kind::MetadataServer);
  EXPECT_TRUE(has(from_metadata.source(), "metadata server 127.0.0.1:")) << from_metadata.source();
  EXPECT_EQ(from_metadata.access_token(), "metadata-token-123");
  EXPECT_EQ(from_metadata.project_id(), "metadata-project");
  std::vector<HttpRequest> seen = metadata.requests();
  ASSERT_EQ(seen.size(), 2u) << "the probe's token is reused, then the project is asked";
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/computeMetadata/v1/instance/service-accounts/default/token");
  EXPECT_EQ(seen[0].header("Metadata-Flavor"), "Google");

  std::string file = clean.write_key("key.json", key_json("file-project").dump());
  ScopedEnv adc("GOOGLE_APPLICATION_CREDENTIALS", file.c_str());
  metadata.clear_requests();
  GcpCredentials from_file = resolve_gcp_credentials();
  EXPECT_EQ(from_file.kind(), GcpCredentials::Kind::ServiceAccount);
  EXPECT_EQ(from_file.source(), "key file " + file + " (GOOGLE_APPLICATION_CREDENTIALS)");
  EXPECT_EQ(from_file.project_id(), "file-project");
  EXPECT_EQ(metadata.request_count(), 0u) << "a key file found: no metadata request";

  ScopedEnv secret("GCP_CREDENTIALS", key_json("secret-project").dump().c_str());
  GcpCredentials from_secret = resolve_gcp_credentials();
  EXPECT_EQ(from_secret.source(), "secret GCP_CREDENTIALS");
  EXPECT_EQ(from_secret.project_id(), "secret-project");
}

TEST(GcpCredentials, TheSecretMayBeTheKeyAsAJsonStringOrInTheContextSecrets) {
  CleanGcp clean;
  // A key stored as a JSON string of its text (encoded twice) is read too.
  std::string twice = Value(key_json("twice").dump()).dump();
  {
    ScopedEnv secret("GCP_CREDENTIALS", twice.c_str());
    EXPECT_EQ(resolve_gcp_credentials().project_id(), "twice");
  }
  ScopedEnv scoped("FERRY__CONTEXT__SECRETS__GCP_CREDENTIALS", key_json("context").dump().c_str());
  GcpCredentials c = resolve_gcp_credentials();
  EXPECT_EQ(c.project_id(), "context");
  EXPECT_EQ(c.source(), "secret GCP_CREDENTIALS");
}

TEST(GcpCredentials, NothingFoundListsTheThreePlacesAndHowToSetEach) {
  CleanGcp clean;
  EXPECT_FALSE(ferry::net::find_gcp_credentials().has_value());
  std::string message = error_of<ValueError>([] { resolve_gcp_credentials(); });
  EXPECT_TRUE(has(message, "No Google Cloud credentials found")) << message;
  EXPECT_TRUE(has(message, "secret GCP_CREDENTIALS")) << message;
  EXPECT_TRUE(has(message, "ferry secrets set GCP_CREDENTIALS")) << message;
  EXPECT_TRUE(has(message, "GOOGLE_APPLICATION_CREDENTIALS")) << message;
  EXPECT_TRUE(has(message, "metadata server 127.0.0.1:1")) << message;
  EXPECT_TRUE(has(message, "GCE_METADATA_HOST")) << message;
}

TEST(GcpCredentials, MalformedKeysNameTheSourceAndTheProblemButNeverTheKey) {
  CleanGcp clean;
  const std::string line = key_line(test_private_key());
  {
    // Not JSON: the parser's own message would quote the text near the error.
    std::string broken = "{\"private_key\": \"" + line + "\", oops";
    ScopedEnv secret("GCP_CREDENTIALS", broken.c_str());
    std::string m = error_of<ValueError>([] { resolve_gcp_credentials(); });
    EXPECT_TRUE(has(m, "secret GCP_CREDENTIALS") && has(m, "not valid JSON")) << m;
    EXPECT_FALSE(has(m, line)) << m;
  }
  {
    Value no_email = key_json("p");
    no_email.erase("client_email");
    ScopedEnv secret("GCP_CREDENTIALS", no_email.dump().c_str());
    std::string m = error_of<ValueError>([] { resolve_gcp_credentials(); });
    EXPECT_TRUE(has(m, "secret GCP_CREDENTIALS") && has(m, "has no client_email")) << m;
    EXPECT_FALSE(has(m, line)) << m;
  }
  {
    Value bad_key = key_json("p");
    bad_key["private_key"] =
        "-----BEGIN PRIVATE KEY-----\nTHISISNOTAKEYBUTLOOKSSECRET0123456789\n-----END PRIVATE "
        "KEY-----\n";
    std::string file = clean.write_key("bad.json", bad_key.dump());
    ScopedEnv adc("GOOGLE_APPLICATION_CREDENTIALS", file.c_str());
    std::string m = error_of<ValueError>([] { resolve_gcp_credentials(); });
    EXPECT_TRUE(has(m, "private_key") && has(m, "not a PEM RSA private key")) << m;
    EXPECT_TRUE(has(m, file) && has(m, "GOOGLE_APPLICATION_CREDENTIALS")) << m;
    EXPECT_FALSE(has(m, "THISISNOTAKEY")) << m;
  }
  {
    Value other = key_json("p");
    other["type"] = "external_account";
    ScopedEnv secret("GCP_CREDENTIALS", other.dump().c_str());
    std::string m = error_of<ValueError>([] { resolve_gcp_credentials(); });
    EXPECT_TRUE(has(m, "\"external_account\"") && has(m, "service_account")) << m;
  }
  {
    ScopedEnv secret("GCP_CREDENTIALS", "[1, 2]");
    std::string m = error_of<ValueError>([] { resolve_gcp_credentials(); });
    EXPECT_TRUE(has(m, "not a JSON object")) << m;
  }
  {
    std::string missing = (clean.dir / "nope.json").string();
    ScopedEnv adc("GOOGLE_APPLICATION_CREDENTIALS", missing.c_str());
    std::string m = error_of<ValueError>([] { resolve_gcp_credentials(); });
    EXPECT_TRUE(has(m, "GOOGLE_APPLICATION_CREDENTIALS names " + missing)) << m;
    EXPECT_TRUE(has(m, "does not exist")) << m;
  }
}

TEST(GcpCredentials, PrivateKeysAndTokensAreMaskedAndTokensAreCachedAgainstTheFake) {
  CleanGcp clean;
  ferry::test::GcsFake& fake = ferry::test::GcsFake::shared();
  ScopedEnv secret("GCP_CREDENTIALS", fake.key_file_json().c_str());
  GcpCredentials c = resolve_gcp_credentials();
  EXPECT_EQ(c.project_id(), fake.project_id());
  std::string line = key_line(fake.private_key_pem());
  EXPECT_EQ(ferry::detail::mask_secrets("log: " + line), "log: ****");

  std::size_t before = fake.token_requests();
  std::string token = c.access_token();
  EXPECT_EQ(c.access_token(), token);
  EXPECT_EQ(resolve_gcp_credentials().access_token(), token) << "one cache for the process";
  EXPECT_EQ(fake.token_requests(), before + 1);
  EXPECT_EQ(ferry::detail::mask_secrets("Bearer " + token), "Bearer ****");

  c.forget_token();
  EXPECT_NE(c.access_token(), token);
  EXPECT_EQ(fake.token_requests(), before + 2);
}

TEST(GcpCredentials, ARefusedKeyIsAnAuthErrorNamingTheAccountAndSource) {
  CleanGcp clean;
  ferry::test::GcsFake& fake = ferry::test::GcsFake::shared();
  std::string other_key = ferry::test::generate_rsa_private_key_pem();
  ScopedEnv secret("GCP_CREDENTIALS", fake.key_file_json(other_key).c_str());
  GcpCredentials c = resolve_gcp_credentials();
  try {
    c.access_token();
    FAIL() << "the fake accepted a key it does not know";
  } catch (const ferry::net::GcpAuthError& e) {
    std::string m = e.what();
    EXPECT_FALSE(e.transient());
    EXPECT_EQ(e.status(), 400);
    EXPECT_TRUE(has(m, fake.client_email()) && has(m, "secret GCP_CREDENTIALS")) << m;
    EXPECT_TRUE(has(m, "invalid_grant: Invalid JWT Signature.")) << m;
    EXPECT_FALSE(has(m, key_line(other_key))) << m;
  }
}

TEST(GcpCredentials, AuthorizedUserKeysUseTheRefreshToken) {
  CleanGcp clean;
  HttpServer token_server([](const HttpRequest& r) -> HttpReply {
    if (r.method == "POST" && r.path == "/token" &&
        r.body ==
            "grant_type=refresh_token&client_id=cid.apps&client_secret=csecret-xyz&refresh_token="
            "1%2F%2Frefresh-abc")
      return {200,
              {{"Content-Type", "application/json"}},
              R"({"access_token":"user-token-456","expires_in":3599})"};
    return {400, {}, R"({"error":"invalid_grant","error_description":"Bad Request"})"};
  });
  Value user = {{"type", "authorized_user"},
                {"client_id", "cid.apps"},
                {"client_secret", "csecret-xyz"},
                {"refresh_token", "1//refresh-abc"},
                {"token_uri", token_server.url("/token")},
                {"quota_project_id", "user-project"}};
  ScopedEnv secret("GCP_CREDENTIALS", user.dump().c_str());
  GcpCredentials c = resolve_gcp_credentials();
  EXPECT_EQ(c.kind(), GcpCredentials::Kind::AuthorizedUser);
  EXPECT_EQ(c.project_id(), "user-project");
  EXPECT_EQ(c.access_token(), "user-token-456");
  EXPECT_EQ(ferry::detail::mask_secrets("1//refresh-abc csecret-xyz"), "**** ****");
}
