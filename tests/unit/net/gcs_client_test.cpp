// The GCS client (src/net/gcs_client.hpp) against the GCS FAKE (tests/support/gcs_fake.hpp):
// no GCS emulator runs here, so these tests check ferry against the documented JSON API and
// OAuth flow as the fake implements them, not against Google's service itself.
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "ferry/error.hpp"
#include "net/gcs_client.hpp"
#include "support/gcs_fake.hpp"
#include "support/test_support.hpp"
#include "unit/net/object_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::object_test::object_error_of;
using ferry::object_test::random_bytes;

using ferry::net::GcsClient;
using ferry::net::ObjectError;
using ferry::net::PutOptions;
using ferry::storage_test::has;
using ferry::storage_test::ScopedEnv;
using ferry::test::GcsFake;
using ferry::test::HttpRequest;
using Kind = ObjectError::Kind;

// The environment of a machine whose only credentials are the fake's service account key
// file, and whose storage endpoint is the fake (STORAGE_EMULATOR_HOST).
struct FakeEnvironment {
  ferry::test::ScopedFerryHome home;
  ferry::test::TempDir dir;
  std::vector<std::unique_ptr<ScopedEnv>> vars;
  std::string key_file;

  explicit FakeEnvironment(const GcsFake& fake, bool with_key = true,
                           const std::string& private_key = "") {
    for (const char* name : {"GCP_CREDENTIALS", "FERRY__CONTEXT__SECRETS__GCP_CREDENTIALS",
                             "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"})
      vars.push_back(std::make_unique<ScopedEnv>(name, nullptr));
    vars.push_back(std::make_unique<ScopedEnv>("GCE_METADATA_HOST", "127.0.0.1:1"));
    vars.push_back(std::make_unique<ScopedEnv>("STORAGE_EMULATOR_HOST", fake.endpoint().c_str()));
    if (with_key) {
      key_file = (dir / "key.json").string();
      fake.write_key_file(key_file, private_key);
      vars.push_back(
          std::make_unique<ScopedEnv>("GOOGLE_APPLICATION_CREDENTIALS", key_file.c_str()));
    }
  }
};

// A bucket named after the running test, created through the client.
std::string test_bucket() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::string bucket = "ferry-";
  for (char c : name) bucket += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return bucket;
}

const std::regex kIsoUtc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");

}  // namespace

TEST(GcsEndpoint, EmulatorHostWithOrWithoutSchemeElseGoogle) {
  {
    ScopedEnv unset("STORAGE_EMULATOR_HOST", nullptr);
    EXPECT_EQ(ferry::net::gcs_endpoint(), "https://storage.googleapis.com");
  }
  {
    ScopedEnv host("STORAGE_EMULATOR_HOST", "localhost:9023");
    EXPECT_EQ(ferry::net::gcs_endpoint(), "http://localhost:9023");
  }
  ScopedEnv url("STORAGE_EMULATOR_HOST", "https://gcs.internal:8443/");
  EXPECT_EQ(ferry::net::gcs_endpoint(), "https://gcs.internal:8443");
}

TEST(GcsTime, Rfc3339AndHttpDatesBecomeIsoUtc) {
  EXPECT_EQ(ferry::net::gcs_time_to_iso("2026-12-01T13:05:00.123Z"), "2026-12-01T13:05:00Z");
  EXPECT_EQ(ferry::net::gcs_time_to_iso("2026-12-01T14:05:00+01:00"), "2026-12-01T13:05:00Z");
  EXPECT_EQ(ferry::net::gcs_time_to_iso("Tue, 01 Dec 2026 13:05:00 GMT"), "2026-12-01T13:05:00Z");
  EXPECT_EQ(ferry::net::gcs_time_to_iso("yesterday"), "");
}

TEST(GcsClientVsFake, RoundTripsBinaryAndFiveMegabytes) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  EXPECT_TRUE(fake.has_bucket(test_bucket()));

  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  const std::string key = "flows/my flow/2026-12-01T13:05:00+ä.bin";
  ferry::net::ObjectInfo put = client.put(key, binary);
  EXPECT_EQ(fake.object(test_bucket(), key), binary) << "stored under the exact name";
  EXPECT_FALSE(put.version_id.empty());
  EXPECT_FALSE(put.etag.empty());
  EXPECT_TRUE(std::regex_match(put.last_modified, kIsoUtc)) << put.last_modified;
  ferry::net::ObjectData back = client.get(key);
  EXPECT_EQ(back.bytes, binary);
  EXPECT_EQ(back.info.version_id, put.version_id);
  EXPECT_EQ(back.info.etag, put.etag);
  EXPECT_EQ(back.info.last_modified, put.last_modified);

  std::string big = random_bytes(5 * 1024 * 1024);
  client.put("big.bin", big);
  EXPECT_EQ(client.get("big.bin").bytes, big);

  // The object's name travels as one %2F-encoded path segment.
  std::vector<HttpRequest> log = fake.requests();
  bool encoded = false;
  for (const HttpRequest& r : log) {
    if (r.method == "GET" && has(r.target, "/o/flows%2Fmy%20flow%2F")) encoded = true;
  }
  EXPECT_TRUE(encoded);
}

TEST(GcsClientVsFake, MetadataExistsAndRemove) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  client.create_bucket();  // a bucket we already own is fine
  EXPECT_EQ(client.uri("a/b.txt"), "gs://" + test_bucket() + "/a/b.txt");

  ferry::net::ObjectInfo first = client.put("a/b.txt", "one");
  ferry::net::ObjectInfo second = client.put("a/b.txt", "two");
  EXPECT_NE(first.version_id, second.version_id) << "a new generation per upload";
  ferry::net::ObjectInfo stat = client.stat("a/b.txt");
  EXPECT_EQ(stat.version_id, second.version_id);
  EXPECT_EQ(stat.etag, second.etag);
  EXPECT_TRUE(std::regex_match(stat.last_modified, kIsoUtc)) << stat.last_modified;

  EXPECT_TRUE(client.exists("a/b.txt"));
  EXPECT_FALSE(client.exists("a/c.txt"));
  client.remove("a/b.txt");
  EXPECT_FALSE(client.exists("a/b.txt"));
  EXPECT_FALSE(fake.has_object(test_bucket(), "a/b.txt"));
  EXPECT_EQ(object_error_of([&] { client.remove("a/b.txt"); }).kind(), Kind::NotFound);
}

TEST(GcsClientVsFake, MissingObjectIsNotFoundNamingItsUri) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  ObjectError e = object_error_of([&] { client.get("no/such.key"); });
  EXPECT_EQ(e.kind(), Kind::NotFound) << e.what();
  EXPECT_EQ(e.status(), 404);
  EXPECT_TRUE(has(e.what(), "gs://" + test_bucket() + "/no/such.key")) << e.what();
}

TEST(GcsClientVsFake, MissingBucketIsNoSuchBucket) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client("ferry-bucket-nobody-made", "");
  for (auto op : std::vector<std::function<void()>>{
           [&] { client.get("k"); }, [&] { client.put("k", "v"); }, [&] { client.exists("k"); }}) {
    ObjectError e = object_error_of(op);
    EXPECT_EQ(e.kind(), Kind::NoSuchBucket) << e.what();
    EXPECT_TRUE(has(e.what(), "gs://ferry-bucket-nobody-made")) << e.what();
  }
}

TEST(GcsClientVsFake, AKeyTheServiceDoesNotKnowIsAuthAndNeverShown) {
  GcsFake& fake = GcsFake::shared();
  std::string other_key = ferry::test::generate_rsa_private_key_pem();
  FakeEnvironment env(fake, true, other_key);
  GcsClient client("ferry-any-bucket", "");
  fake.clear_requests();
  ObjectError e = object_error_of([&] { client.get("flow.bin"); });
  EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
  EXPECT_TRUE(has(e.what(), "gs://ferry-any-bucket/flow.bin")) << e.what();
  EXPECT_TRUE(has(e.what(), env.key_file)) << "names the credential source: " << e.what();
  EXPECT_TRUE(has(e.what(), "Invalid JWT Signature")) << e.what();
  std::string key_line = other_key.substr(other_key.find('\n') + 1, 64);
  EXPECT_FALSE(has(e.what(), key_line)) << e.what();
  EXPECT_EQ(fake.count("GET", "/storage"), 0u) << "no storage request without a token";
}

TEST(GcsClientVsFake, NoCredentialsWithAnEmulatorSendsAnonymousRequests) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake, false);
  GcsClient anonymous("ferry-any-bucket", "");
  EXPECT_TRUE(has(anonymous.credential_source(), "anonymous")) << anonymous.credential_source();
  // The shared fake wants a token: refused, and said so.
  ObjectError e = object_error_of([&] { anonymous.get("k"); });
  EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
  EXPECT_EQ(e.status(), 401);
  EXPECT_TRUE(has(e.what(), "anonymous")) << e.what();

  GcsFake open(true);
  FakeEnvironment open_env(open, false);
  GcsClient client("open-bucket", "any-project");
  client.create_bucket();
  client.put("k", "v");
  EXPECT_EQ(client.get("k").bytes, "v");
  for (const HttpRequest& r : open.requests()) EXPECT_FALSE(r.has_header("Authorization"));
}

TEST(GcsClientVsFake, OverwriteFalseIsRefusedAndTheOldContentStays) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  client.put("flow.bin", "old");
  PutOptions keep;
  keep.overwrite = false;
  ObjectError e = object_error_of([&] { client.put("flow.bin", "new", keep); });
  EXPECT_EQ(e.kind(), Kind::AlreadyExists) << e.what();
  EXPECT_EQ(e.status(), 412);
  EXPECT_TRUE(has(e.what(), "gs://" + test_bucket() + "/flow.bin")) << e.what();
  EXPECT_EQ(client.get("flow.bin").bytes, "old");
  EXPECT_EQ(fake.requests().back().method, "GET");
  if (client.exists("fresh.bin")) client.remove("fresh.bin");  // left by a --gtest_repeat run
  client.put("fresh.bin", "new", keep);                        // a missing object is created
  EXPECT_EQ(fake.object(test_bucket(), "fresh.bin"), "new");
  bool conditional = false;
  for (const HttpRequest& r : fake.requests())
    if (r.param("name") == "fresh.bin" && r.param("ifGenerationMatch") == "0") conditional = true;
  EXPECT_TRUE(conditional);
}

TEST(GcsClientVsFake, A503IsRetriedThenSucceeds) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();  // also gets the token, so the failure hits the upload
  fake.clear_requests();
  fake.fail_next(1, 503);
  client.put("k", "v");
  EXPECT_EQ(fake.count("POST", "/upload/storage/v1/b/" + test_bucket() + "/o"), 2u);
  EXPECT_EQ(fake.object(test_bucket(), "k"), "v");
}

TEST(GcsClientVsFake, ADroppedConnectionIsRetried) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  client.put("k", "v");
  fake.clear_requests();
  fake.drop_next(1);
  EXPECT_EQ(client.get("k").bytes, "v");
  EXPECT_EQ(fake.count("GET", "/storage/v1/b/" + test_bucket() + "/o/k"), 2u);
}

TEST(GcsClientVsFake, A403IsAuthAndNotRetried) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  client.put("k", "v");
  fake.clear_requests();
  fake.fail_next(1, 403);
  ObjectError e = object_error_of([&] { client.get("k"); });
  EXPECT_EQ(e.kind(), Kind::Auth) << e.what();
  EXPECT_EQ(e.status(), 403);
  EXPECT_EQ(fake.request_count(), 1u) << "not retried";
  EXPECT_TRUE(has(e.what(), "gs://" + test_bucket() + "/k")) << e.what();
  EXPECT_TRUE(has(e.what(), env.key_file)) << e.what();
  std::string authorization = fake.requests().front().header("Authorization");
  ASSERT_TRUE(has(authorization, "Bearer ya29."));
  EXPECT_FALSE(has(e.what(), authorization.substr(7))) << "never the token";
}

TEST(GcsClientVsFake, StillFailingAfterTheRetriesIsTransient) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  fake.clear_requests();
  fake.fail_next(4, 503);
  ObjectError e = object_error_of([&] { client.get("k"); });
  EXPECT_EQ(e.kind(), Kind::Transient) << e.what();
  EXPECT_EQ(e.status(), 503);
  EXPECT_EQ(fake.request_count(), 4u);
  EXPECT_TRUE(has(e.what(), "after 4 attempts")) << e.what();
}

TEST(GcsClientVsFake, NoAnswerIsTransientNamingTheEndpoint) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake, false);
  ScopedEnv nobody("STORAGE_EMULATOR_HOST", "127.0.0.1:1");
  GcsClient client("ferry-any-bucket", "");
  ObjectError e = object_error_of([&] { client.get("k"); });
  EXPECT_EQ(e.kind(), Kind::Transient) << e.what();
  EXPECT_EQ(e.status(), 0);
  EXPECT_TRUE(has(e.what(), "http://127.0.0.1:1")) << e.what();
  EXPECT_TRUE(has(e.what(), "gs://ferry-any-bucket/k")) << e.what();
}

TEST(GcsClientVsFake, OneTokenServesManyRequestsAndARevokedOneIsReplacedOnce) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  ferry::net::clear_gcp_token_cache_for_testing();
  fake.clear_requests();
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  client.put("a", "1");
  client.get("a");
  client.exists("a");
  GcsClient second(test_bucket(), "");
  second.get("a");
  EXPECT_EQ(fake.token_requests(), 1u);
  std::string token;
  for (const HttpRequest& r : fake.requests()) {
    if (r.target.rfind("/token", 0) == 0) continue;
    if (token.empty()) token = r.header("Authorization");
    EXPECT_EQ(r.header("Authorization"), token) << r.target;
  }
  EXPECT_TRUE(has(token, "Bearer ya29.fake-")) << token;

  fake.revoke_tokens();
  EXPECT_EQ(client.get("a").bytes, "1") << "a 401 gets a new token, once";
  EXPECT_EQ(fake.token_requests(), 2u);
}

TEST(GcsClientVsFake, A404WithoutGcsErrorBodyAsksWhetherTheBucketExists) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  GcsClient client(test_bucket(), "");
  client.create_bucket();
  fake.clear_requests();
  fake.fail_next(1, 404);  // a bare 404, as a proxy might answer
  ObjectError e = object_error_of([&] { client.get("k"); });
  EXPECT_EQ(e.kind(), Kind::NotFound) << e.what();
  EXPECT_EQ(fake.count("GET", "/storage/v1/b/" + test_bucket()), 2u) << "the object, the bucket";

  GcsClient nowhere("ferry-bucket-nobody-made", "");
  fake.fail_next(1, 404);
  EXPECT_EQ(object_error_of([&] { nowhere.get("k"); }).kind(), Kind::NoSuchBucket);
}

TEST(GcsClientVsFake, ATokenEndpointStillFailingIsTransient) {
  GcsFake& fake = GcsFake::shared();
  FakeEnvironment env(fake);
  ferry::net::clear_gcp_token_cache_for_testing();
  GcsClient client(test_bucket(), "");
  fake.clear_requests();
  fake.fail_next(4, 503);
  ObjectError e = object_error_of([&] { client.get("k"); });
  EXPECT_EQ(e.kind(), Kind::Transient) << e.what();
  EXPECT_EQ(e.status(), 503);
  EXPECT_EQ(fake.token_requests(), 4u);
  EXPECT_TRUE(has(e.what(), fake.token_uri())) << e.what();
  EXPECT_EQ(fake.count("GET", "/storage"), 0u);
}
