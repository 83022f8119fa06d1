// S3 storage and S3Result (reference §2.3 and cases 40-52) against Ceph RGW, a real S3
// server that checks SigV4 signatures: a bucket per test, credentials in client_options or
// in the environment, FERRY_HOME per test. Nothing below the HTTP layer is mocked.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "net/s3_client.hpp"
#include "support/ceph_rgw.hpp"
#include "unit/storage/object_storage_conformance.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

using net::S3Client;
using object_storage_test::ScopedEnvs;
using object_storage_test::test_flow;
using object_storage_test::unique_bucket;
using storage::S3;
using storage::S3Options;
using storage::Storage;
using storage_test::error_of;
using storage_test::has;

// Another secret for the right key id: RGW refuses its signatures.
const std::string kWrongSecret = "WrongSecretKeyValue0123456789abcdefghijk";

// S3 against Ceph RGW (see object_storage_conformance.hpp): credentials in client_options,
// or in the standard environment variables where an agent has them.
class S3Store : public object_storage_test::ThroughClient<S3Store> {
 public:
  using Kind = S3;
  static constexpr const char* kServer = "CephRgw";
  static constexpr const char* kScheme = "s3://";
  static constexpr const char* kResultType = "S3Result";
  static constexpr const char* kBucketField = "bucket";
  static constexpr bool kAlwaysVersioned = false;

  // No AWS settings from the machine (secret, variables, shared files): each test says where
  // its credentials and endpoint come from.
  static void forget_the_machine(ScopedEnvs& env) {
    for (const char* name :
         {"AWS_CREDENTIALS", "FERRY__CONTEXT__SECRETS__AWS_CREDENTIALS", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
          "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"})
      env.set(name, nullptr);
    for (const char* name : {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"})
      env.set(name, "/nonexistent/ferry-test-aws");
  }
  static S3 offline(const std::string& key = "", bool script = false,
                    const std::string& local = "") {
    return S3(
        {.bucket = "bucket", .key = key, .stored_as_script = script, .local_script_path = local});
  }
  static std::string script_without_key_message() {
    return object_storage_test::key_or_local_script_message("S3");
  }

  void connect(ScopedEnvs& env, const std::filesystem::path&) {
    env_ = &env;
    if (!CephRgw::available()) GTEST_SKIP() << "Ceph (radosgw, ceph-mon, ceph-osd) not installed";
    try {
      rgw_ = &CephRgw::shared();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    static bool reported = false;
    if (!reported) {
      reported = true;
      std::cout << "[ Ceph RGW ] started in " << rgw_->start_seconds() << " s\n";
    }
    bucket_ = unique_bucket("ferry-s3-");
    client().create_bucket();
  }

  const std::string& bucket() const { return bucket_; }
  // The endpoint and credentials (the right ones unless a secret is given).
  Value credentials(const std::string& secret = "") const {
    return {{"endpoint_url", rgw_->endpoint()},
            {"aws_access_key_id", rgw_->access_key()},
            {"aws_secret_access_key", secret.empty() ? rgw_->secret_key() : secret}};
  }
  Value endpoint_only() const { return {{"endpoint_url", rgw_->endpoint()}}; }
  const std::string& access_key() const { return rgw_->access_key(); }
  const std::string& secret_key() const { return rgw_->secret_key(); }

  S3 storage(const std::string& key = "", bool script = false,
             const std::string& local = "") const {
    return S3({.bucket = bucket_,
               .key = key,
               .stored_as_script = script,
               .local_script_path = local,
               .client_options = credentials()});
  }
  S3 storage_in(const std::string& bucket) const {
    return S3({.bucket = bucket, .client_options = credentials()});
  }
  S3 with_wrong_credentials(const std::string& key) const {
    return S3({.bucket = bucket_, .key = key, .client_options = credentials(kWrongSecret)});
  }
  S3 default_result_storage() const { return storage(); }

  // The right credentials in the standard environment variables (as an agent has them).
  void machine_credentials(const std::string& secret = "") {
    env_->set("AWS_ACCESS_KEY_ID", rgw_->access_key());
    env_->set("AWS_SECRET_ACCESS_KEY", secret.empty() ? rgw_->secret_key() : secret);
  }
  std::vector<std::string> secret_values() const { return {rgw_->secret_key()}; }
  std::vector<std::string> wrong_secret_values() const { return {kWrongSecret}; }

  // Credentials are stripped from client_options; the endpoint stays.
  void expect_descriptor(const Value& d) const { EXPECT_EQ(d["client_options"], endpoint_only()); }
  void expect_result_descriptor(const Value& d) const {
    EXPECT_EQ(d["client_options"], endpoint_only()) << "the same options, without credentials";
  }
  S3Client client() const { return S3Client(bucket_, credentials()); }

 private:
  ScopedEnvs* env_ = nullptr;
  CephRgw* rgw_ = nullptr;
  std::string bucket_;
};

// Construction, descriptors and script-form checks that never reach a server.
class S3StorageOffline : public object_storage_test::StoreOfflineTest<S3Store> {};

// The rest, against RGW: a fresh bucket per test.
class S3Storage : public object_storage_test::StoreTest<S3Store> {};

}  // namespace

}  // namespace ferry::test

namespace ferry::object_storage_test {
INSTANTIATE_TYPED_TEST_SUITE_P(S3Storage, ObjectStorageOffline, test::S3Store, StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(S3Storage, ObjectStorage, test::S3Store, StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(S3Storage, ObjectStorageSourcesOffline, test::S3Store, StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(S3Storage, ObjectStorageSources, test::S3Store, StoreName);
}  // namespace ferry::object_storage_test

namespace ferry::test {

// ---- construction and descriptors (cases 40, 41) -----------------------------------------

TEST_F(S3StorageOffline, OptionsAreStoredAndNoFlowsYet) {
  Value options = {{"endpoint_url", "http://127.0.0.1:9"},
                   {"use_ssl", false},
                   {"aws_access_key_id", "AKIDEXAMPLE"},
                   {"aws_secret_access_key", "TopSecretValue-0123456789"}};
  Value upload = {{"ContentType", "application/octet-stream"}};
  S3 s({.bucket = "bucket",
        .key = "key",
        .local_script_path = "/tmp/local.cpp",
        .client_options = options,
        .upload_options = upload,
        .secrets = {"auth"}});
  EXPECT_EQ(s.type(), "S3");
  EXPECT_EQ(s.bucket(), "bucket");
  EXPECT_EQ(s.key(), "key");
  EXPECT_EQ(s.local_script_path(), "/tmp/local.cpp");
  EXPECT_EQ(s.client_options(), options) << "kept as given, credentials included";
  EXPECT_EQ(s.upload_options(), upload);
  EXPECT_EQ(s.secrets(), std::vector<std::string>{"auth"});
  EXPECT_FALSE(s.stored_as_script());
  EXPECT_TRUE(s.flows().empty());
}

TEST_F(S3StorageOffline, SerializeKeepsTheFieldsButNeverTheCredentials) {
  Value options = {{"endpoint_url", "http://127.0.0.1:9"},
                   {"region_name", "eu-west-1"},
                   {"aws_access_key_id", "AKIDEXAMPLE"},
                   {"aws_secret_access_key", "TopSecretValue-0123456789"},
                   {"aws_session_token", "SessionTokenValue-0123456789"}};
  S3 s({.bucket = "bucket", .key = "key", .client_options = options, .secrets = {"auth"}});
  Value d = s.serialize();
  EXPECT_EQ(d["type"], "S3");
  EXPECT_EQ(d["bucket"], "bucket");
  EXPECT_EQ(d["key"], "key");
  EXPECT_EQ(d["stored_as_script"], false);
  EXPECT_EQ(d["secrets"], Value::array({"auth"}));
  EXPECT_EQ(d["client_options"],
            Value({{"endpoint_url", "http://127.0.0.1:9"}, {"region_name", "eu-west-1"}}));
  std::string dump = d.dump();
  for (const char* secret : {"AKIDEXAMPLE", "TopSecretValue-0123456789",
                             "SessionTokenValue-0123456789", "aws_secret_access_key"}) {
    EXPECT_FALSE(has(dump, secret)) << secret << " in " << dump;
  }

  Storage back = Storage::deserialize(d);
  EXPECT_EQ(back.type(), "S3");
  EXPECT_EQ(back.serialize(), d);

  Value empty = S3({.bucket = "bucket"}).serialize();
  EXPECT_EQ(empty["key"], nullptr);
  EXPECT_EQ(empty["secrets"], Value::array());
  EXPECT_EQ(empty["client_options"], nullptr);
  EXPECT_EQ(Storage::deserialize(empty).serialize(), empty);
}

TEST_F(S3StorageOffline, ABucketIsRequiredAndClientOptionsMustBeAnObject) {
  EXPECT_TRUE(has(error_of<ValueError>([] { S3(S3Options{}); }), "bucket"));
  EXPECT_TRUE(has(error_of<ValueError>([] { S3({.bucket = "b", .client_options = "x"}); }),
                  "client_options must be a JSON object"));
}

// ---- what only S3 does against RGW (the shared behaviours: object_storage_conformance.hpp) --

TEST_F(S3Storage, TheDeserializedStorageWithoutCredentialsIsAClearError) {
  S3 s = store_.storage("flows/agent");
  s.add_flow(test_flow());
  s.build();
  // No credentials at all on the "agent": a clear error, not a crash.
  Storage agent_side = Storage::deserialize(s.serialize());
  std::string none = error_of<ValueError>([&] { agent_side.get_flow("test"); });
  EXPECT_TRUE(has(none, "credentials")) << none;
}

// ---- credentials order (§1.5, case 42) ------------------------------------------------------

TEST_F(S3Storage, TheAwsCredentialsSecretBeatsClientOptionsWhichBeatTheEnvironment) {
  auto secret_json = [&](const std::string& secret) {
    return Value({{"ACCESS_KEY", store_.access_key()}, {"SECRET_ACCESS_KEY", secret}}).dump();
  };
  // Whether a storage with these client_options can upload a flow, in the current environment.
  auto builds = [&](const std::string& key, const Value& options) {
    return object_storage_test::uploads(
        store_, S3({.bucket = store_.bucket(), .key = key, .client_options = options}), key);
  };
  {
    SCOPED_TRACE("secret right, client_options wrong");
    storage_test::ScopedEnv secret("AWS_CREDENTIALS", secret_json(store_.secret_key()).c_str());
    EXPECT_TRUE(builds("order/1", store_.credentials(kWrongSecret)));
  }
  {
    SCOPED_TRACE("secret wrong, client_options right");
    storage_test::ScopedEnv secret("AWS_CREDENTIALS", secret_json(kWrongSecret).c_str());
    EXPECT_FALSE(builds("order/2", store_.credentials()));
  }
  {
    SCOPED_TRACE("client_options right, environment wrong");
    store_.machine_credentials(kWrongSecret);
    EXPECT_TRUE(builds("order/3", store_.credentials()));
  }
  {
    SCOPED_TRACE("client_options wrong, environment right");
    store_.machine_credentials();
    EXPECT_FALSE(builds("order/4", store_.credentials(kWrongSecret)));
  }
  {
    SCOPED_TRACE("only the environment (right)");
    EXPECT_TRUE(builds("order/5", store_.endpoint_only()));
  }
}

}  // namespace ferry::test
