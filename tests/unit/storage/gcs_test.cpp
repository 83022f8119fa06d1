// GCS storage and GCSResult (reference §2.5 and cases 59-65) against the GCS FAKE
// (tests/support/gcs_fake.hpp: the JSON API and an OAuth token endpoint that verifies the
// service account's RS256 JWTs; no GCS emulator runs here): STORAGE_EMULATOR_HOST points at
// it, credentials come from GOOGLE_APPLICATION_CREDENTIALS or the GCP_CREDENTIALS secret, a
// bucket per test, FERRY_HOME per test.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/digest.hpp"
#include "ferry/ferry.hpp"
#include "net/gcs_client.hpp"
#include "support/gcs_fake.hpp"
#include "support/test_support.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

using net::GcsClient;
using net::ObjectError;
using object_storage_test::fixture_path;
using object_storage_test::run_answer;
using object_storage_test::test_flow;
using object_storage_test::uber_flow;
using object_storage_test::unique_bucket;
using storage::GCS;
using storage::GCSOptions;
using storage::Storage;
using storage_test::error_of;
using storage_test::has;

// No Google settings from the machine (secret, key file, metadata server): each test says
// where its credentials come from.
class GcsTest : public object_storage_test::ObjectStorageTest {
 protected:
  void SetUp() override {
    ObjectStorageTest::SetUp();
    for (const char* name :
         {"GCP_CREDENTIALS", "FERRY__CONTEXT__SECRETS__GCP_CREDENTIALS",
          "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "STORAGE_EMULATOR_HOST"})
      env_.set(name, nullptr);
    env_.set("GCE_METADATA_HOST", "127.0.0.1:1");  // no metadata server answers there
  }
};

// Construction, descriptors and script-form checks that never reach a server.
class GCSStorageOffline : public GcsTest {};

// The rest, against the fake: the service account's key file in
// GOOGLE_APPLICATION_CREDENTIALS, a fresh bucket per test.
class GCSStorageFake : public GcsTest {
 protected:
  void SetUp() override {
    GcsTest::SetUp();
    fake_ = &GcsFake::shared();
    env_.set("STORAGE_EMULATOR_HOST", fake_->endpoint());
    key_file_ = (home_.path() / "gcp-key.json").string();
    fake_->write_key_file(key_file_);
    env_.set("GOOGLE_APPLICATION_CREDENTIALS", key_file_);
    bucket_ = unique_bucket("ferry-gcs-");
    fake_->add_bucket(bucket_);
  }

  // A key file for the same account with a private key the fake does not know.
  std::string wrong_key_file() {
    std::string path = (home_.path() / "wrong-key.json").string();
    fake_->write_key_file(path, wrong_private_key());
    return path;
  }
  static const std::string& wrong_private_key() {
    static const std::string pem = generate_rsa_private_key_pem();
    return pem;
  }

  GcsClient client() const { return GcsClient(bucket_, ""); }

  GCS storage(const std::string& key = "", bool script = false, const std::string& local = "") {
    return GCS(
        {.bucket = bucket_, .key = key, .stored_as_script = script, .local_script_path = local});
  }

  GcsFake* fake_ = nullptr;
  std::string key_file_;
  std::string bucket_;
};

}  // namespace

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

// ---- add_flow (case 60) ---------------------------------------------------------------------

TEST_F(GCSStorageOffline, AddFlowReturnsTheKeyItStores) {
  GCS fixed({.bucket = "bucket", .key = "a-place"});
  EXPECT_EQ(fixed.add_flow(test_flow()), "a-place");
  EXPECT_EQ(fixed.flows().at("test"), "a-place");

  GCS generated({.bucket = "bucket"});
  std::string first = generated.add_flow(test_flow());
  std::string second = generated.add_flow(uber_flow());
  EXPECT_TRUE(first.starts_with("test/")) << first;
  EXPECT_TRUE(second.starts_with("uber-flow/")) << second;
  EXPECT_EQ(generated.flows().at("test"), first);
  EXPECT_EQ(generated.flows().at("Über flow"), second);
  EXPECT_TRUE(has(error_of<ValueError>([&] { generated.add_flow(test_flow()); }), "Name conflict"));
}

// ---- script form (cases 62, 63) ----------------------------------------------------------------

TEST_F(GCSStorageOffline, ScriptFormWithoutKeyOrLocalScriptPathIsRefusedAtBuild) {
  GCS s({.bucket = "bucket", .stored_as_script = true});
  s.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { s.build(); }),
            "A `key` must be provided to show where the flow source file is stored in GCS or "
            "provide a `local_script_path` pointing to a local source file that contains the "
            "flow.");
}

TEST_F(GCSStorageOffline, NoteSourceFileFillsAnEmptyLocalScriptPathInScriptFormOnly) {
  GCS script({.bucket = "bucket", .stored_as_script = true});
  script.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(script.local_script_path(), "/src/flows.cpp");

  GCS given({.bucket = "bucket", .stored_as_script = true, .local_script_path = "/mine.cpp"});
  given.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(given.local_script_path(), "/mine.cpp");

  GCS frozen({.bucket = "bucket"});
  frozen.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(frozen.local_script_path(), "");
}

// ---- build and get_flow against the fake (cases 61, 64) ---------------------------------------

TEST_F(GCSStorageFake, BuildUploadsThePackageAndGetFlowRunsIt) {
  GCS s = storage("a-place");
  EXPECT_EQ(s.add_flow(test_flow()), "a-place");
  EXPECT_FALSE(fake_->has_object(bucket_, "a-place")) << "add_flow uploads nothing";
  s.build();

  std::string stored = fake_->object(bucket_, "a-place");
  EXPECT_EQ(inspect_package(stored).flow_name, "test");
  EXPECT_EQ(s.impl()->digests.at("test"), detail::sha256_hex(stored));

  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);

  // GCS always reports a generation: the pin has it with the etag.
  net::ObjectInfo info = client().stat("a-place");
  Value pin = s.impl()->fetched_pin("test");
  EXPECT_FALSE(info.etag.empty());
  EXPECT_FALSE(info.version_id.empty());
  EXPECT_EQ(pin.value("etag", ""), info.etag);
  EXPECT_EQ(pin.value("version_id", ""), info.version_id);
}

TEST_F(GCSStorageFake, TwoFlowsBecomeTwoObjectsEachRunnable) {
  GCS s = storage();
  std::string test_key = s.add_flow(test_flow());
  std::string uber_key = s.add_flow(uber_flow());
  s.build();
  EXPECT_TRUE(fake_->has_object(bucket_, test_key));
  EXPECT_TRUE(fake_->has_object(bucket_, uber_key));
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

TEST_F(GCSStorageFake, AnObjectReplacedBehindFerrysBackFailsTheDigestCheck) {
  GCS s = storage("flows/replaced");
  s.add_flow(test_flow());
  s.build();
  client().put("flows/replaced", freeze_flow(uber_flow()));
  std::string message = error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(message, "does not match the SHA-256 digest")) << message;
  EXPECT_TRUE(has(message, "gs://" + bucket_ + "/flows/replaced")) << message;
}

TEST_F(GCSStorageFake, TheDeserializedStorageFetchesWithTheCredentialsOfItsMachine) {
  GCS s = storage("flows/agent");
  s.add_flow(test_flow());
  s.build();
  Storage agent_side = Storage::deserialize(s.serialize());
  EXPECT_EQ(run_answer(agent_side.get_flow("test")), 43);
  EXPECT_EQ(agent_side.impl()->digests, s.impl()->digests);
}

// ---- script form against the fake (cases 61-63) ------------------------------------------------

TEST_F(GCSStorageFake, ScriptFormWithOnlyAKeyUploadsNothing) {
  GCS s = storage("myflow.cpp", true);
  s.add_flow(test_flow());
  s.build();
  EXPECT_FALSE(fake_->has_object(bucket_, "myflow.cpp"));
  EXPECT_TRUE(s.impl()->digests.empty());
}

TEST_F(GCSStorageFake, ScriptFormUploadsLocalScriptPathAndGetFlowCompilesIt) {
  GCS s = storage("", true, fixture_path());
  std::string test_key = s.add_flow(test_flow());
  std::string uber_key = s.add_flow(uber_flow());
  s.build();
  std::string source = read_text(fixture_path());
  EXPECT_EQ(fake_->object(bucket_, test_key), source);
  EXPECT_EQ(fake_->object(bucket_, uber_key), source);
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

// ---- errors (case 65) ---------------------------------------------------------------------------

TEST_F(GCSStorageFake, AMissingObjectIsTheReferenceMessage) {
  Value d = storage().serialize();
  d["flows"] = {{"test", "flows/never-uploaded"}};
  Storage s = Storage::deserialize(d);
  EXPECT_EQ(error_of<FlowStorageError>([&] { s.get_flow("test"); }),
            "Flow not found in bucket: flow=flows/never-uploaded bucket=" + bucket_);
}

TEST_F(GCSStorageFake, AMissingBucketIsAClearErrorNamingIt) {
  std::string missing = unique_bucket("ferry-missing-");
  GCS s({.bucket = missing});
  s.add_flow(test_flow());
  std::string on_build = error_of<ObjectError>([&] { s.build(); });
  EXPECT_TRUE(has(on_build, missing)) << on_build;
  std::string on_get = error_of<ObjectError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(on_get, missing)) << on_get;
}

TEST_F(GCSStorageFake, AKeyTheServiceDoesNotKnowIsAClearErrorWithoutTheKey) {
  env_.set("GOOGLE_APPLICATION_CREDENTIALS", wrong_key_file());
  GCS s = storage("flows/denied");
  s.add_flow(test_flow());
  try {
    s.build();
    ADD_FAILURE() << "an unknown key built";
  } catch (const ObjectError& e) {
    EXPECT_EQ(e.kind(), ObjectError::Kind::Auth) << e.what();
    EXPECT_TRUE(has(e.what(), bucket_)) << e.what();
    const std::string& pem = wrong_private_key();
    EXPECT_FALSE(has(e.what(), pem.substr(pem.find('\n') + 1, 64))) << e.what();
  }
  EXPECT_FALSE(fake_->has_object(bucket_, "flows/denied"));
}

// ---- credentials order (§1.5)
// --------------------------------------------------------------------

TEST_F(GCSStorageFake, TheGcpCredentialsSecretBeatsGoogleApplicationCredentials) {
  auto builds = [&](const std::string& key) {
    GCS s = storage(key);
    s.add_flow(test_flow());
    try {
      s.build();
    } catch (const ObjectError& e) {
      EXPECT_EQ(e.kind(), ObjectError::Kind::Auth) << e.what();
      return false;
    }
    return fake_->has_object(bucket_, key);
  };
  std::string wrong_file = wrong_key_file();
  {
    SCOPED_TRACE("secret right, key file wrong");
    storage_test::ScopedEnv secret("GCP_CREDENTIALS", fake_->key_file_json().c_str());
    storage_test::ScopedEnv file("GOOGLE_APPLICATION_CREDENTIALS", wrong_file.c_str());
    EXPECT_TRUE(builds("order/1"));
  }
  {
    SCOPED_TRACE("secret wrong, key file right");
    storage_test::ScopedEnv secret("GCP_CREDENTIALS",
                                   fake_->key_file_json(wrong_private_key()).c_str());
    EXPECT_FALSE(builds("order/2"));
  }
  {
    SCOPED_TRACE("only the key file (right)");
    EXPECT_TRUE(builds("order/3"));
  }
}

// ---- has_stored
// -------------------------------------------------------------------------------------

TEST_F(GCSStorageFake, HasStoredFollowsTheObject) {
  GCS s = storage("flows/stored");
  s.add_flow(test_flow());
  EXPECT_FALSE(s.impl()->has_stored("test"));
  s.build();
  EXPECT_TRUE(s.impl()->has_stored("test"));
  client().remove("flows/stored");
  EXPECT_FALSE(s.impl()->has_stored("test"));
}

// ---- default result
// -----------------------------------------------------------------------------------

TEST_F(GCSStorageFake, TheDefaultResultIsAGcsResultInTheSameBucket) {
  storage_test::ScopedEnv secret("GCP_CREDENTIALS", fake_->key_file_json().c_str());
  GCS s({.bucket = bucket_, .project = fake_->project_id()});
  Result r = s.default_result();
  ASSERT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.type(), "GCSResult");
  Value d = r.serialize();
  EXPECT_EQ(d["bucket"], bucket_);
  EXPECT_EQ(d["project"], fake_->project_id());

  Value value = {{"rows", 3}};
  std::string location = r.location_for("run-1", "etl", "extract");
  r.write(location, value);
  EXPECT_EQ(Value::parse(fake_->object(bucket_, location)), value);
  EXPECT_EQ(r.read(location), std::optional<Value>(value));
  EXPECT_EQ(r.read("run-1/missing.json"), std::nullopt);

  Result back = Result::deserialize(d);
  EXPECT_EQ(back.type(), "GCSResult");
  EXPECT_EQ(back.serialize(), d);
  EXPECT_EQ(back.read(location), std::optional<Value>(value));

  // Nothing of the service account's key in any descriptor.
  const std::string& pem = fake_->private_key_pem();
  std::string key_line = pem.substr(pem.find('\n') + 1, 64);
  EXPECT_FALSE(has(d.dump(), key_line));
  EXPECT_FALSE(has(s.serialize().dump(), key_line));
  EXPECT_FALSE(has(s.serialize().dump(), "private_key"));
}

}  // namespace ferry::test
