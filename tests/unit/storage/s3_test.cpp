// S3 storage and S3Result (reference §2.3 and cases 40-52) against Ceph RGW, a real S3
// server that checks SigV4 signatures: a bucket per test, credentials in client_options or
// in the environment, FERRY_HOME per test. Nothing below the HTTP layer is mocked.
#include <gtest/gtest.h>

#include <iostream>
#include <optional>
#include <string>

#include "core/digest.hpp"
#include "ferry/ferry.hpp"
#include "net/s3_client.hpp"
#include "support/ceph_rgw.hpp"
#include "support/test_support.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

using net::ObjectError;
using net::S3Client;
using object_storage_test::fixture_path;
using object_storage_test::kFixture;
using object_storage_test::run_answer;
using object_storage_test::test_flow;
using object_storage_test::uber_flow;
using object_storage_test::unique_bucket;
using storage::S3;
using storage::S3Options;
using storage::Storage;
using storage_test::error_of;
using storage_test::has;

// Another secret for the right key id: RGW refuses its signatures.
const std::string kWrongSecret = "WrongSecretKeyValue0123456789abcdefghijk";

// No AWS settings from the machine (secret, variables, shared files): each test says where
// its credentials and endpoint come from.
class S3Test : public object_storage_test::ObjectStorageTest {
 protected:
  void SetUp() override {
    ObjectStorageTest::SetUp();
    for (const char* name :
         {"AWS_CREDENTIALS", "FERRY__CONTEXT__SECRETS__AWS_CREDENTIALS", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
          "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"})
      env_.set(name, nullptr);
    for (const char* name : {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"})
      env_.set(name, "/nonexistent/ferry-test-aws");
  }
};

// Construction, descriptors and script-form checks that never reach a server.
class S3StorageOffline : public S3Test {};

// The rest, against RGW: a fresh bucket per test.
class S3Storage : public S3Test {
 protected:
  void SetUp() override {
    S3Test::SetUp();
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
    S3Client(bucket_, credentials()).create_bucket();
  }

  // The endpoint and credentials (the right ones unless a secret is given).
  Value credentials(const std::string& secret = "") const {
    return {{"endpoint_url", rgw_->endpoint()},
            {"aws_access_key_id", rgw_->access_key()},
            {"aws_secret_access_key", secret.empty() ? rgw_->secret_key() : secret}};
  }
  Value endpoint_only() const { return {{"endpoint_url", rgw_->endpoint()}}; }

  // The right credentials in the standard environment variables (as an agent has them).
  void credentials_in_environment(const std::string& secret = "") {
    env_.set("AWS_ACCESS_KEY_ID", rgw_->access_key());
    env_.set("AWS_SECRET_ACCESS_KEY", secret.empty() ? rgw_->secret_key() : secret);
  }

  S3Client client() const { return S3Client(bucket_, credentials()); }

  S3 storage(const std::string& key = "", bool script = false, const std::string& local = "") {
    return S3({.bucket = bucket_,
               .key = key,
               .stored_as_script = script,
               .local_script_path = local,
               .client_options = credentials()});
  }

  CephRgw* rgw_ = nullptr;
  std::string bucket_;
};

}  // namespace

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

// ---- add_flow (cases 43, 60-like) ----------------------------------------------------------

TEST_F(S3StorageOffline, AddFlowReturnsTheKeyItStores) {
  S3 fixed({.bucket = "bucket", .key = "mykey"});
  EXPECT_EQ(fixed.add_flow(test_flow()), "mykey");
  EXPECT_EQ(fixed.flows().at("test"), "mykey");

  S3 generated({.bucket = "bucket"});
  std::string first = generated.add_flow(test_flow());
  std::string second = generated.add_flow(uber_flow());
  EXPECT_TRUE(first.starts_with("test/")) << first;
  EXPECT_TRUE(second.starts_with("uber-flow/")) << second;
  EXPECT_TRUE(first.find(storage_test::current_utc_year()) != std::string::npos) << first;
  EXPECT_EQ(generated.flows().at("test"), first);
  EXPECT_EQ(generated.flows().at("Über flow"), second);
  EXPECT_EQ(generated.flows().size(), 2u);

  EXPECT_TRUE(has(error_of<ValueError>([&] { generated.add_flow(test_flow()); }), "Name conflict"));
}

// ---- script form (cases 45, 46, 52) -------------------------------------------------------

TEST_F(S3StorageOffline, ScriptFormWithoutKeyOrLocalScriptPathIsRefusedAtBuild) {
  S3 s({.bucket = "bucket", .stored_as_script = true});
  s.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { s.build(); }),
            "A `key` must be provided to show where the flow source file is stored in S3 or "
            "provide a `local_script_path` pointing to a local source file that contains the "
            "flow.");
}

TEST_F(S3StorageOffline, NoteSourceFileFillsAnEmptyLocalScriptPathInScriptFormOnly) {
  S3 script({.bucket = "bucket", .stored_as_script = true});
  script.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(script.local_script_path(), "/src/flows.cpp");

  S3 given({.bucket = "bucket", .stored_as_script = true, .local_script_path = "/mine.cpp"});
  given.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(given.local_script_path(), "/mine.cpp") << "the user's path wins";

  S3 frozen({.bucket = "bucket"});
  frozen.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(frozen.local_script_path(), "") << "frozen flows upload packages, not sources";
}

// ---- build and get_flow against RGW (cases 44, 48, 49) -------------------------------------

TEST_F(S3Storage, BuildUploadsThePackageAndGetFlowRunsIt) {
  S3 s = storage("flows/mykey");
  EXPECT_EQ(s.add_flow(test_flow()), "flows/mykey");
  EXPECT_FALSE(client().exists("flows/mykey")) << "add_flow uploads nothing";
  s.build();

  net::ObjectData stored = client().get("flows/mykey");
  EXPECT_EQ(inspect_package(stored.bytes).flow_name, "test");
  EXPECT_EQ(s.impl()->digests.at("test"), detail::sha256_hex(stored.bytes));

  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);

  Value pin = s.impl()->fetched_pin("test");
  EXPECT_EQ(pin.value("etag", ""), stored.info.etag);
  EXPECT_FALSE(stored.info.etag.empty());
  EXPECT_EQ(pin.contains("version_id"), !stored.info.version_id.empty())
      << "the version only where the server gives one: " << pin.dump();
}

TEST_F(S3Storage, TwoFlowsBecomeTwoObjectsEachRunnable) {
  S3 s = storage();
  std::string test_key = s.add_flow(test_flow());
  std::string uber_key = s.add_flow(uber_flow());
  EXPECT_NE(test_key, uber_key);
  s.build();
  EXPECT_TRUE(client().exists(test_key));
  EXPECT_TRUE(client().exists(uber_key));
  EXPECT_EQ(s.impl()->digests.size(), 2u);
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

TEST_F(S3Storage, AnObjectReplacedBehindFerrysBackFailsTheDigestCheck) {
  S3 s = storage("flows/replaced");
  s.add_flow(test_flow());
  s.build();
  // Another valid package (another flow's) at the same key.
  client().put("flows/replaced", freeze_flow(uber_flow()));
  std::string message = error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(message, "does not match the SHA-256 digest")) << message;
  EXPECT_TRUE(has(message, "s3://" + bucket_ + "/flows/replaced")) << message;
}

TEST_F(S3Storage, TheDeserializedStorageFetchesWithTheAgentsOwnCredentials) {
  S3 s = storage("flows/agent");
  s.add_flow(test_flow());
  s.build();
  Value d = s.serialize();
  EXPECT_EQ(d["client_options"], endpoint_only());
  EXPECT_FALSE(has(d.dump(), rgw_->secret_key()));

  Storage agent_side = Storage::deserialize(d);
  // No credentials at all on the "agent": a clear error, not a crash.
  std::string none = error_of<ValueError>([&] { agent_side.get_flow("test"); });
  EXPECT_TRUE(has(none, "credentials")) << none;

  credentials_in_environment();
  EXPECT_EQ(run_answer(agent_side.get_flow("test")), 43);
  EXPECT_EQ(agent_side.impl()->digests, s.impl()->digests);
}

// ---- script form against RGW (cases 45, 46, 49) --------------------------------------------

TEST_F(S3Storage, ScriptFormWithOnlyAKeyUploadsNothing) {
  S3 s = storage("flows/flow.cpp", true);
  s.add_flow(test_flow());
  s.build();
  EXPECT_FALSE(client().exists("flows/flow.cpp"));
  EXPECT_TRUE(s.impl()->digests.empty());
}

TEST_F(S3Storage, ScriptFormUploadsLocalScriptPathAndGetFlowCompilesIt) {
  S3 s = storage("", true, fixture_path());
  std::string test_key = s.add_flow(test_flow());
  std::string uber_key = s.add_flow(uber_flow());
  s.build();
  std::string source = read_text(fixture_path());
  EXPECT_EQ(client().get(test_key).bytes, source);
  EXPECT_EQ(client().get(uber_key).bytes, source);
  EXPECT_TRUE(s.impl()->digests.empty()) << "sources carry no digest";
  // Each get_flow picks its flow out of the fetched source.
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
  EXPECT_FALSE(s.impl()->fetched_pin("test").value("etag", "").empty());
}

// ---- errors (cases 47, 51) ------------------------------------------------------------------

TEST_F(S3Storage, AMissingObjectIsAFlowStorageErrorNamingIt) {
  Value d = storage().serialize();
  d["flows"] = {{"test", "flows/never-uploaded"}};
  Storage s = Storage::deserialize(d);
  credentials_in_environment();
  std::string message = error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(message, "s3://" + bucket_ + "/flows/never-uploaded")) << message;
}

TEST_F(S3Storage, AMissingBucketIsAClearErrorNamingIt) {
  std::string missing = unique_bucket("ferry-missing-");
  S3 s({.bucket = missing, .client_options = credentials()});
  s.add_flow(test_flow());
  std::string on_build = error_of<ObjectError>([&] { s.build(); });
  EXPECT_TRUE(has(on_build, missing)) << on_build;

  Value d = s.serialize();
  Storage agent_side = Storage::deserialize(d);
  credentials_in_environment();
  std::string on_get = error_of<ObjectError>([&] { agent_side.get_flow("test"); });
  EXPECT_TRUE(has(on_get, missing)) << on_get;
}

TEST_F(S3Storage, WrongCredentialsAreAClearErrorWithoutTheSecret) {
  S3 s({.bucket = bucket_, .key = "flows/denied", .client_options = credentials(kWrongSecret)});
  s.add_flow(test_flow());
  try {
    s.build();
    ADD_FAILURE() << "a wrong secret built";
  } catch (const ObjectError& e) {
    EXPECT_EQ(e.kind(), ObjectError::Kind::Auth) << e.what();
    EXPECT_TRUE(has(e.what(), bucket_)) << e.what();
    EXPECT_FALSE(has(e.what(), kWrongSecret)) << e.what();
    EXPECT_FALSE(has(e.what(), rgw_->secret_key())) << e.what();
  }
  EXPECT_FALSE(client().exists("flows/denied"));
}

// ---- credentials order (§1.5, case 42) ------------------------------------------------------

TEST_F(S3Storage, TheAwsCredentialsSecretBeatsClientOptionsWhichBeatTheEnvironment) {
  auto secret_json = [&](const std::string& secret) {
    return Value({{"ACCESS_KEY", rgw_->access_key()}, {"SECRET_ACCESS_KEY", secret}}).dump();
  };
  // Whether a storage with these client_options can upload a flow, in the current environment.
  auto builds = [&](const std::string& key, const Value& options) {
    S3 s({.bucket = bucket_, .key = key, .client_options = options});
    s.add_flow(test_flow());
    try {
      s.build();
    } catch (const ObjectError& e) {
      EXPECT_EQ(e.kind(), ObjectError::Kind::Auth) << e.what();
      return false;
    }
    return client().exists(key);
  };
  {
    SCOPED_TRACE("secret right, client_options wrong");
    storage_test::ScopedEnv secret("AWS_CREDENTIALS", secret_json(rgw_->secret_key()).c_str());
    EXPECT_TRUE(builds("order/1", credentials(kWrongSecret)));
  }
  {
    SCOPED_TRACE("secret wrong, client_options right");
    storage_test::ScopedEnv secret("AWS_CREDENTIALS", secret_json(kWrongSecret).c_str());
    EXPECT_FALSE(builds("order/2", credentials()));
  }
  {
    SCOPED_TRACE("client_options right, environment wrong");
    credentials_in_environment(kWrongSecret);
    EXPECT_TRUE(builds("order/3", credentials()));
  }
  {
    SCOPED_TRACE("client_options wrong, environment right");
    credentials_in_environment();
    EXPECT_FALSE(builds("order/4", credentials(kWrongSecret)));
  }
  {
    SCOPED_TRACE("only the environment (right)");
    EXPECT_TRUE(builds("order/5", endpoint_only()));
  }
}

// ---- has_stored -----------------------------------------------------------------------------

TEST_F(S3Storage, HasStoredFollowsTheObject) {
  S3 s = storage("flows/stored");
  s.add_flow(test_flow());
  EXPECT_FALSE(s.impl()->has_stored("test")) << "not uploaded yet";
  s.build();
  EXPECT_TRUE(s.impl()->has_stored("test"));
  EXPECT_FALSE(s.impl()->has_stored("other")) << "not a flow of this storage";
  client().remove("flows/stored");
  EXPECT_FALSE(s.impl()->has_stored("test"));
}

// ---- default result (case 42) ---------------------------------------------------------------

TEST_F(S3Storage, TheDefaultResultIsAnS3ResultInTheSameBucket) {
  S3 s = storage();
  Result r = s.default_result();
  ASSERT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.type(), "S3Result");
  Value d = r.serialize();
  EXPECT_EQ(d["bucket"], bucket_);
  EXPECT_EQ(d["client_options"], endpoint_only()) << "the same options, without credentials";
  EXPECT_FALSE(has(d.dump(), rgw_->secret_key()));

  Value value = {{"rows", 3}, {"names", {"a", "b"}}};
  std::string location = r.location_for("run-1", "etl", "extract");
  r.write(location, value);
  EXPECT_EQ(Value::parse(client().get(location).bytes), value);
  EXPECT_EQ(r.read(location), std::optional<Value>(value));
  EXPECT_EQ(r.read("run-1/missing.json"), std::nullopt);

  Result back = Result::deserialize(d);
  EXPECT_EQ(back.type(), "S3Result");
  EXPECT_EQ(back.serialize(), d);
  credentials_in_environment();  // the deserialized one uses the machine's credentials
  EXPECT_EQ(back.read(location), std::optional<Value>(value));
}

}  // namespace ferry::test
