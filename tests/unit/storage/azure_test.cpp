// Azure storage and AzureResult (reference §2.4 and cases 53-58) against azurite, which checks
// SharedKey signatures: a container per test, the connection string in an environment
// variable named by connection_string_secret (or AZURE_STORAGE_CONNECTION_STRING), FERRY_HOME
// per test. Nothing below the HTTP layer is mocked.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "core/digest.hpp"
#include "ferry/ferry.hpp"
#include "net/azure_blob.hpp"
#include "support/azurite_server.hpp"
#include "support/test_support.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

using net::AzureBlobClient;
using net::ObjectError;
using object_storage_test::fixture_path;
using object_storage_test::run_answer;
using object_storage_test::test_flow;
using object_storage_test::uber_flow;
using object_storage_test::unique_bucket;
using storage::Azure;
using storage::AzureOptions;
using storage::Storage;
using storage_test::error_of;
using storage_test::has;

constexpr const char* kSecretName = "FERRY_TEST_AZURE_CONNECTION";
constexpr const char* kDefaultSecret = "AZURE_STORAGE_CONNECTION_STRING";
// Another valid base64 key: azurite refuses its signatures.
const std::string kWrongKey = "d3Jvbmcta2V5LWZvci1kZXZzdG9yZWFjY291bnQxLXRlc3Rz";

// No connection string from the machine: each test says where its own comes from.
class AzureTest : public object_storage_test::ObjectStorageTest {
 protected:
  void SetUp() override {
    ObjectStorageTest::SetUp();
    for (std::string name : {std::string(kSecretName), std::string(kDefaultSecret)}) {
      env_.set(name, nullptr);
      env_.set("FERRY__CONTEXT__SECRETS__" + name, nullptr);
    }
  }
};

// Construction, descriptors and errors that never reach a server.
class AzureStorageOffline : public AzureTest {};

// The rest, against azurite: a fresh container per test, whose connection string is in the
// secret kSecretName.
class AzureStorage : public AzureTest {
 protected:
  void SetUp() override {
    AzureTest::SetUp();
    server_ = &AzuriteServer::shared();
    container_ = unique_bucket("t-");
    env_.set(kSecretName, right());
    client().create_container();
  }

  std::string right() const { return server_->connection_string(); }
  // The same account and endpoint with another key.
  std::string wrong() const {
    std::string s = right();
    std::string key(net::kDevStorageKey);
    return s.replace(s.find(key), key.size(), kWrongKey);
  }

  AzureBlobClient client() const { return AzureBlobClient(container_, right()); }

  Azure storage(const std::string& blob = "", bool overwrite = false, bool script = false) {
    return Azure({.container = container_,
                  .connection_string_secret = kSecretName,
                  .blob_name = blob,
                  .overwrite = overwrite,
                  .stored_as_script = script});
  }

  AzuriteServer* server_ = nullptr;
  std::string container_;
};

}  // namespace

// ---- construction and descriptors (case 53) -----------------------------------------------

TEST_F(AzureStorageOffline, OptionsAreStoredAndNoFlowsYet) {
  Azure s({.container = "container",
           .connection_string_secret = "CONN",
           .blob_name = "name",
           .overwrite = true,
           .secrets = {"auth"}});
  EXPECT_EQ(s.type(), "Azure");
  EXPECT_EQ(s.container(), "container");
  EXPECT_EQ(s.connection_string_secret(), "CONN");
  EXPECT_EQ(s.blob_name(), "name");
  EXPECT_TRUE(s.overwrite());
  EXPECT_EQ(s.secrets(), std::vector<std::string>{"auth"});
  EXPECT_FALSE(s.stored_as_script());
  EXPECT_TRUE(s.flows().empty());
  EXPECT_FALSE(Azure({.container = "c"}).overwrite()) << "overwrite defaults to false";
  EXPECT_TRUE(has(error_of<ValueError>([] { Azure(AzureOptions{}); }), "container"));
}

TEST_F(AzureStorageOffline, SerializeNamesTheSecretAndNeverHoldsAConnectionString) {
  // The default secret is set here: serialize must not look it up, let alone store it.
  env_.set(kDefaultSecret,
           "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
           "AccountKey=" +
               std::string(net::kDevStorageKey));
  Azure s({.container = "container", .connection_string_secret = "CONN", .blob_name = "name"});
  Value d = s.serialize();
  EXPECT_EQ(d["type"], "Azure");
  EXPECT_EQ(d["container"], "container");
  EXPECT_EQ(d["connection_string_secret"], "CONN");
  EXPECT_EQ(d["blob_name"], "name");
  EXPECT_EQ(d["stored_as_script"], false);
  EXPECT_FALSE(d.contains("connection_string"));
  EXPECT_EQ(Storage::deserialize(d).serialize(), d);

  Value empty = Azure({.container = "container"}).serialize();
  EXPECT_EQ(empty["blob_name"], nullptr);
  EXPECT_EQ(empty["connection_string_secret"], nullptr);
  EXPECT_EQ(empty["secrets"], Value::array());
  EXPECT_FALSE(empty.contains("connection_string"));
  for (const Value& v : {d, empty}) {
    EXPECT_FALSE(has(v.dump(), std::string(net::kDevStorageKey))) << v.dump();
    EXPECT_FALSE(has(v.dump(), "AccountKey")) << v.dump();
  }
  Storage back = Storage::deserialize(empty);
  EXPECT_EQ(back.type(), "Azure");
  EXPECT_EQ(back.serialize(), empty);
}

TEST_F(AzureStorageOffline, AddFlowReturnsTheBlobNameItStores) {
  Azure fixed({.container = "c", .blob_name = "name"});
  EXPECT_EQ(fixed.add_flow(test_flow()), "name");
  EXPECT_EQ(fixed.flows().at("test"), "name");

  Azure generated({.container = "c"});
  std::string first = generated.add_flow(test_flow());
  std::string second = generated.add_flow(uber_flow());
  EXPECT_TRUE(first.starts_with("test/")) << first;  // case 57: the slug is the first segment
  EXPECT_TRUE(second.starts_with("uber-flow/")) << second;
  EXPECT_EQ(generated.flows().at("Über flow"), second);
  EXPECT_TRUE(has(error_of<ValueError>([&] { generated.add_flow(test_flow()); }), "Name conflict"));
}

TEST_F(AzureStorageOffline, ScriptFormWithoutBlobNameIsRefusedAtBuild) {
  Azure s({.container = "c", .stored_as_script = true});
  s.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { s.build(); }),
            "A `blob_name` must be provided to show where the flow source file is stored in "
            "Azure.");
}

TEST_F(AzureStorageOffline, NoConnectionStringIsTheReferenceMessage) {
  Azure s({.container = "c", .blob_name = "flows/x"});
  s.add_flow(test_flow());
  EXPECT_EQ(error_of<ValueError>([&] { s.build(); }),
            "Azure connection string not provided. Set `AZURE_STORAGE_CONNECTION_STRING` "
            "environment variable or save connection string as a ferry secret "
            "(`ferry secrets set AZURE_STORAGE_CONNECTION_STRING`).");
  // A named secret that is not set is named in the message.
  Azure named({.container = "c", .connection_string_secret = kSecretName, .blob_name = "x"});
  named.add_flow(test_flow());
  std::string message = error_of<ValueError>([&] { named.build(); });
  EXPECT_TRUE(has(message, kSecretName)) << message;
}

// ---- build and get_flow against azurite (cases 56-58) --------------------------------------

TEST_F(AzureStorage, BuildUploadsThePackageAndGetFlowRunsIt) {
  Azure s = storage("flows/name");
  EXPECT_EQ(s.add_flow(test_flow()), "flows/name");
  EXPECT_FALSE(client().exists("flows/name")) << "add_flow uploads nothing";
  s.build();

  net::ObjectData stored = client().get("flows/name");
  EXPECT_EQ(inspect_package(stored.bytes).flow_name, "test");
  EXPECT_EQ(s.impl()->digests.at("test"), detail::sha256_hex(stored.bytes));

  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);

  Value pin = s.impl()->fetched_pin("test");
  EXPECT_FALSE(stored.info.etag.empty());
  EXPECT_EQ(pin.value("etag", ""), stored.info.etag);
  EXPECT_EQ(pin.contains("version_id"), !stored.info.version_id.empty()) << pin.dump();
}

TEST_F(AzureStorage, TwoFlowsBecomeTwoBlobsEachRunnable) {
  Azure s = storage();
  std::string test_blob = s.add_flow(test_flow());
  std::string uber_blob = s.add_flow(uber_flow());
  s.build();
  EXPECT_TRUE(client().exists(test_blob));
  EXPECT_TRUE(client().exists(uber_blob));
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

TEST_F(AzureStorage, ABlobReplacedBehindFerrysBackFailsTheDigestCheck) {
  Azure s = storage("flows/replaced");
  s.add_flow(test_flow());
  s.build();
  client().put("flows/replaced", freeze_flow(uber_flow()));
  std::string message = error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(message, "does not match the SHA-256 digest")) << message;
  EXPECT_TRUE(has(message, "az://" + container_ + "/flows/replaced")) << message;
}

TEST_F(AzureStorage, TheDeserializedStorageFetchesWithTheSecretOfItsMachine) {
  Azure s = storage("flows/agent");
  s.add_flow(test_flow());
  s.build();
  std::string dump = s.serialize().dump();
  EXPECT_FALSE(has(dump, std::string(net::kDevStorageKey))) << dump;
  EXPECT_FALSE(has(dump, "AccountKey")) << dump;
  Storage agent_side = Storage::deserialize(s.serialize());
  EXPECT_EQ(run_answer(agent_side.get_flow("test")), 43);
  EXPECT_EQ(agent_side.impl()->digests, s.impl()->digests);
}

// ---- overwrite (case 56) -------------------------------------------------------------------

TEST_F(AzureStorage, WithoutOverwriteAnExistingBlobIsRefusedAndLeftUntouched) {
  Azure first = storage("flows/shared");
  first.add_flow(test_flow());
  first.build();
  std::string before = client().get("flows/shared").bytes;

  Azure second = storage("flows/shared");
  second.add_flow(uber_flow());
  try {
    second.build();
    ADD_FAILURE() << "a second build replaced the blob";
  } catch (const ObjectError& e) {
    EXPECT_EQ(e.kind(), ObjectError::Kind::AlreadyExists) << e.what();
    EXPECT_TRUE(has(e.what(), "az://" + container_ + "/flows/shared")) << e.what();
  }
  EXPECT_EQ(client().get("flows/shared").bytes, before);
  EXPECT_EQ(run_answer(first.get_flow("test")), 43);

  Azure replacing = storage("flows/shared", /*overwrite=*/true);
  replacing.add_flow(uber_flow());
  replacing.build();
  EXPECT_EQ(inspect_package(client().get("flows/shared").bytes).flow_name, "Über flow");
  EXPECT_EQ(run_answer(replacing.get_flow("Über flow")), 42);
}

// ---- script form (case 55) -----------------------------------------------------------------

TEST_F(AzureStorage, ScriptFormUploadsNothingAndLoadsWhatTheUserPutThere) {
  Azure s = storage("flows/flow.cpp", false, /*script=*/true);
  s.impl()->note_source_file(fixture_path());  // Azure never uploads a source file
  s.add_flow(test_flow());
  s.add_flow(uber_flow());
  s.build();
  EXPECT_FALSE(client().exists("flows/flow.cpp"));
  EXPECT_TRUE(s.impl()->digests.empty());

  // The user uploads the source themselves; each get_flow picks its flow out of it.
  client().put("flows/flow.cpp", read_text(fixture_path()));
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

// ---- errors ----------------------------------------------------------------------------------

TEST_F(AzureStorage, AMissingBlobIsAFlowStorageErrorNamingIt) {
  Value d = storage().serialize();
  d["flows"] = {{"test", "flows/never-uploaded"}};
  Storage s = Storage::deserialize(d);
  std::string message = error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(message, "az://" + container_ + "/flows/never-uploaded")) << message;
}

TEST_F(AzureStorage, AMissingContainerIsAClearErrorNamingIt) {
  std::string missing = unique_bucket("missing-");
  Azure s({.container = missing, .connection_string_secret = kSecretName});
  s.add_flow(test_flow());
  std::string on_build = error_of<ObjectError>([&] { s.build(); });
  EXPECT_TRUE(has(on_build, missing)) << on_build;
  std::string on_get = error_of<ObjectError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(has(on_get, missing)) << on_get;
}

TEST_F(AzureStorage, AWrongKeyIsAClearErrorWithoutTheKey) {
  env_.set(kSecretName, wrong());
  Azure s = storage("flows/denied");
  s.add_flow(test_flow());
  try {
    s.build();
    ADD_FAILURE() << "a wrong key built";
  } catch (const ObjectError& e) {
    EXPECT_EQ(e.kind(), ObjectError::Kind::Auth) << e.what();
    EXPECT_TRUE(has(e.what(), container_)) << e.what();
    EXPECT_FALSE(has(e.what(), kWrongKey)) << e.what();
    EXPECT_FALSE(has(e.what(), std::string(net::kDevStorageKey))) << e.what();
  }
  EXPECT_FALSE(client().exists("flows/denied"));
}

// ---- connection string order (§2.4, case 54) ------------------------------------------------

TEST_F(AzureStorage, TheNamedSecretBeatsAzureStorageConnectionString) {
  auto builds = [&](const std::string& blob, const std::string& secret_name) {
    Azure s({.container = container_, .connection_string_secret = secret_name, .blob_name = blob});
    s.add_flow(test_flow());
    try {
      s.build();
    } catch (const ObjectError& e) {
      EXPECT_EQ(e.kind(), ObjectError::Kind::Auth) << e.what();
      return false;
    }
    return client().exists(blob);
  };
  env_.set(kSecretName, right());
  env_.set(kDefaultSecret, wrong());
  EXPECT_TRUE(builds("order/1", kSecretName)) << "named right, default wrong";
  EXPECT_FALSE(builds("order/2", "")) << "no name: the default (wrong)";

  env_.set(kSecretName, wrong());
  env_.set(kDefaultSecret, right());
  EXPECT_FALSE(builds("order/3", kSecretName)) << "named wrong, default right";
  EXPECT_TRUE(builds("order/4", "")) << "no name: the default (right)";
}

// ---- has_stored -------------------------------------------------------------------------------

TEST_F(AzureStorage, HasStoredFollowsTheBlob) {
  Azure s = storage("flows/stored");
  s.add_flow(test_flow());
  EXPECT_FALSE(s.impl()->has_stored("test"));
  s.build();
  EXPECT_TRUE(s.impl()->has_stored("test"));
  client().remove("flows/stored");
  EXPECT_FALSE(s.impl()->has_stored("test"));
}

// ---- default result -----------------------------------------------------------------------------

TEST_F(AzureStorage, TheDefaultResultIsAnAzureResultInTheSameContainer) {
  Azure s = storage();
  Result r = s.default_result();
  ASSERT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.type(), "AzureResult");
  Value d = r.serialize();
  EXPECT_EQ(d["container"], container_);
  EXPECT_EQ(d["connection_string_secret"], kSecretName);
  EXPECT_FALSE(has(d.dump(), "AccountKey")) << d.dump();

  Value value = {{"rows", 3}};
  std::string location = r.location_for("run-1", "etl", "extract");
  r.write(location, value);
  EXPECT_EQ(Value::parse(client().get(location).bytes), value);
  EXPECT_EQ(r.read(location), std::optional<Value>(value));
  EXPECT_EQ(r.read("run-1/missing.json"), std::nullopt);

  Result back = Result::deserialize(d);
  EXPECT_EQ(back.type(), "AzureResult");
  EXPECT_EQ(back.serialize(), d);
  EXPECT_EQ(back.read(location), std::optional<Value>(value));
}

}  // namespace ferry::test
