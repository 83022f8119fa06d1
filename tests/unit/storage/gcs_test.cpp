// GCS storage and GCSResult (reference §2.5 and cases 59-65) against the GCS FAKE
// (tests/support/gcs_fake.hpp: the JSON API and an OAuth token endpoint that verifies the
// service account's RS256 JWTs; no GCS emulator runs here): STORAGE_EMULATOR_HOST points at
// it, credentials come from GOOGLE_APPLICATION_CREDENTIALS or the GCP_CREDENTIALS secret, a
// bucket per test, FERRY_HOME per test.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "net/gcs_client.hpp"
#include "support/gcs_fake.hpp"
#include "unit/storage/object_storage_conformance.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

using net::GcsClient;
using object_storage_test::ScopedEnvs;
using object_storage_test::unique_bucket;
using storage::GCS;
using storage::GCSOptions;
using storage::Storage;
using storage_test::error_of;
using storage_test::has;

// A line from the middle of a PEM private key: what would show if the key leaked.
std::string key_line(const std::string& pem) { return pem.substr(pem.find('\n') + 1, 64); }

// GCS against the fake (see object_storage_conformance.hpp): STORAGE_EMULATOR_HOST points at
// it and the service account's key file is in GOOGLE_APPLICATION_CREDENTIALS, where an agent
// has it too.
class GcsFakeStore {
 public:
  using Kind = GCS;
  static constexpr const char* kServer = "GcsFake";
  static constexpr const char* kScheme = "gs://";
  static constexpr const char* kResultType = "GCSResult";
  static constexpr const char* kBucketField = "bucket";
  static constexpr bool kAlwaysVersioned = true;  // GCS always reports a generation

  // No Google settings from the machine (secret, key file, metadata server): each test says
  // where its credentials come from.
  static void forget_the_machine(ScopedEnvs& env) {
    for (const char* name :
         {"GCP_CREDENTIALS", "FERRY__CONTEXT__SECRETS__GCP_CREDENTIALS",
          "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "STORAGE_EMULATOR_HOST"})
      env.set(name, nullptr);
    env.set("GCE_METADATA_HOST", "127.0.0.1:1");  // no metadata server answers there
  }
  static GCS offline(const std::string& key = "", bool script = false,
                     const std::string& local = "") {
    return GCS(
        {.bucket = "bucket", .key = key, .stored_as_script = script, .local_script_path = local});
  }
  static std::string script_without_key_message() {
    return object_storage_test::key_or_local_script_message("GCS");
  }

  void connect(ScopedEnvs& env, const std::filesystem::path& home) {
    env_ = &env;
    home_ = home;
    fake_ = &GcsFake::shared();
    env.set("STORAGE_EMULATOR_HOST", fake_->endpoint());
    std::string key_file = (home / "gcp-key.json").string();
    fake_->write_key_file(key_file);
    env.set("GOOGLE_APPLICATION_CREDENTIALS", key_file);
    bucket_ = unique_bucket("ferry-gcs-");
    fake_->add_bucket(bucket_);
  }

  const std::string& bucket() const { return bucket_; }
  GcsFake& fake() const { return *fake_; }
  // A key file for the same account with a private key the fake does not know.
  std::string wrong_key_file() const {
    std::string path = (home_ / "wrong-key.json").string();
    fake_->write_key_file(path, wrong_private_key());
    return path;
  }
  static const std::string& wrong_private_key() {
    static const std::string pem = generate_rsa_private_key_pem();
    return pem;
  }

  GCS storage(const std::string& key = "", bool script = false,
              const std::string& local = "") const {
    return GCS(
        {.bucket = bucket_, .key = key, .stored_as_script = script, .local_script_path = local});
  }
  GCS storage_in(const std::string& bucket) const { return GCS({.bucket = bucket}); }
  GCS with_wrong_credentials(const std::string& key) {
    env_->set("GOOGLE_APPLICATION_CREDENTIALS", wrong_key_file());
    return storage(key);
  }
  // With the key in the GCP_CREDENTIALS secret and a project, which the result keeps.
  GCS default_result_storage() {
    env_->set("GCP_CREDENTIALS", fake_->key_file_json());
    return GCS({.bucket = bucket_, .project = fake_->project_id()});
  }

  void machine_credentials() {}  // the key file is set for the whole test
  std::vector<std::string> secret_values() const { return {key_line(fake_->private_key_pem())}; }
  std::vector<std::string> wrong_secret_values() const { return {key_line(wrong_private_key())}; }

  void expect_descriptor(const Value& d) const {
    EXPECT_EQ(d["bucket"], bucket_);
    EXPECT_FALSE(has(d.dump(), "private_key")) << d.dump();
  }
  void expect_result_descriptor(const Value& d) const {
    EXPECT_EQ(d["project"], fake_->project_id());
    EXPECT_FALSE(has(d.dump(), "private_key")) << d.dump();
  }
  // The reference's own words (case 65).
  void expect_missing_object_message(const std::string& message, const std::string& key) const {
    EXPECT_EQ(message, "Flow not found in bucket: flow=" + key + " bucket=" + bucket_);
  }

  // The bucket as the fake has it (the generation and etag as the JSON API reports them).
  GcsClient client() const { return GcsClient(bucket_, ""); }
  bool exists(const std::string& key) const { return fake_->has_object(bucket_, key); }
  net::ObjectData stored(const std::string& key) const {
    return {.bytes = fake_->object(bucket_, key), .info = client().stat(key)};
  }
  void put(const std::string& key, const std::string& bytes) const { client().put(key, bytes); }
  void remove(const std::string& key) const { client().remove(key); }

 private:
  ScopedEnvs* env_ = nullptr;
  std::filesystem::path home_;
  GcsFake* fake_ = nullptr;
  std::string bucket_;
};

// Construction and descriptors that never reach a server.
class GCSStorageOffline : public object_storage_test::StoreOfflineTest<GcsFakeStore> {};

// The rest, against the fake: a fresh bucket per test.
class GCSStorageFake : public object_storage_test::StoreTest<GcsFakeStore> {};

}  // namespace

}  // namespace ferry::test

namespace ferry::object_storage_test {
INSTANTIATE_TYPED_TEST_SUITE_P(GCSStorageFake, ObjectStorageOffline, test::GcsFakeStore, StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(GCSStorageFake, ObjectStorage, test::GcsFakeStore, StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(GCSStorageFake, ObjectStorageSourcesOffline, test::GcsFakeStore,
                               StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(GCSStorageFake, ObjectStorageSources, test::GcsFakeStore, StoreName);
}  // namespace ferry::object_storage_test

namespace ferry::test {

// ---- construction and descriptors (case 59) -------------------------------------------------

TEST_F(GCSStorageOffline, OptionsAreStoredAndNoFlowsYet) {
  GCS s({.bucket = "bucket",
         .key = "key",
         .project = "a_project",
         .local_script_path = "/tmp/local.cpp",
         .secrets = {"auth"}});
  EXPECT_EQ(s.type(), "GCS");
  EXPECT_EQ(s.bucket(), "bucket");
  EXPECT_EQ(s.key(), "key");
  EXPECT_EQ(s.project(), "a_project");
  EXPECT_EQ(s.local_script_path(), "/tmp/local.cpp");
  EXPECT_EQ(s.secrets(), std::vector<std::string>{"auth"});
  EXPECT_FALSE(s.stored_as_script());
  EXPECT_TRUE(s.flows().empty());
  EXPECT_EQ(GCS({.bucket = "bucket"}).project(), "");
  EXPECT_TRUE(has(error_of<ValueError>([] { GCS(GCSOptions{}); }), "bucket"));
}

TEST_F(GCSStorageOffline, SerializeKeepsTheReferenceFields) {
  GCS s({.bucket = "bucket",
         .key = "key",
         .project = "a_project",
         .stored_as_script = true,
         .local_script_path = "/tmp/local.cpp"});
  Value d = s.serialize();
  EXPECT_EQ(d["type"], "GCS");
  EXPECT_EQ(d["bucket"], "bucket");
  EXPECT_EQ(d["key"], "key");
  EXPECT_EQ(d["project"], "a_project");
  EXPECT_EQ(d["stored_as_script"], true);
  EXPECT_FALSE(d.contains("local_script_path")) << "build-only, as in the reference";
  EXPECT_EQ(Storage::deserialize(d).serialize(), d);

  Value empty = GCS({.bucket = "bucket"}).serialize();
  EXPECT_EQ(empty["key"], nullptr);
  EXPECT_EQ(empty["project"], nullptr);
  EXPECT_EQ(empty["secrets"], Value::array());
  Storage back = Storage::deserialize(empty);
  EXPECT_EQ(back.type(), "GCS");
  EXPECT_EQ(back.serialize(), empty);
}

// ---- what only GCS does against the fake (the shared behaviours:
// object_storage_conformance.hpp) ------------------------------------------------------------

// Credentials order (§1.5): the GCP_CREDENTIALS secret, then the key file.
TEST_F(GCSStorageFake, TheGcpCredentialsSecretBeatsGoogleApplicationCredentials) {
  auto builds = [&](const std::string& key) {
    return object_storage_test::uploads(store_, store_.storage(key), key);
  };
  std::string wrong_file = store_.wrong_key_file();
  {
    SCOPED_TRACE("secret right, key file wrong");
    storage_test::ScopedEnv secret("GCP_CREDENTIALS", store_.fake().key_file_json().c_str());
    storage_test::ScopedEnv file("GOOGLE_APPLICATION_CREDENTIALS", wrong_file.c_str());
    EXPECT_TRUE(builds("order/1"));
  }
  {
    SCOPED_TRACE("secret wrong, key file right");
    storage_test::ScopedEnv secret("GCP_CREDENTIALS",
                                   store_.fake().key_file_json(store_.wrong_private_key()).c_str());
    EXPECT_FALSE(builds("order/2"));
  }
  {
    SCOPED_TRACE("only the key file (right)");
    EXPECT_TRUE(builds("order/3"));
  }
}

}  // namespace ferry::test
