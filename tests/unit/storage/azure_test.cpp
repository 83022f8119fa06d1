// Azure storage and AzureResult (reference §2.4 and cases 53-58) against azurite, which checks
// SharedKey signatures: a container per test, the connection string in an environment
// variable named by connection_string_secret (or AZURE_STORAGE_CONNECTION_STRING), FERRY_HOME
// per test. Nothing below the HTTP layer is mocked.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "net/azure_blob.hpp"
#include "support/azurite_server.hpp"
#include "unit/storage/object_storage_conformance.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::test {

namespace {

using net::AzureBlobClient;
using net::ObjectError;
using object_storage_test::fixture_path;
using object_storage_test::run_answer;
using object_storage_test::ScopedEnvs;
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

// Azure against azurite (see object_storage_conformance.hpp): the connection string in the
// secret kSecretName, which an agent has too.
class AzureStore : public object_storage_test::ThroughClient<AzureStore> {
 public:
  using Kind = Azure;
  static constexpr const char* kServer = "Azurite";
  static constexpr const char* kScheme = "az://";
  static constexpr const char* kResultType = "AzureResult";
  static constexpr const char* kBucketField = "container";
  static constexpr bool kAlwaysVersioned = false;

  // No connection string from the machine: each test says where its own comes from.
  static void forget_the_machine(ScopedEnvs& env) {
    for (std::string name : {std::string(kSecretName), std::string(kDefaultSecret)}) {
      env.set(name, nullptr);
      env.set("FERRY__CONTEXT__SECRETS__" + name, nullptr);
    }
  }
  static Azure offline(const std::string& blob = "", bool script = false) {
    return Azure({.container = "c", .blob_name = blob, .stored_as_script = script});
  }
  static std::string script_without_key_message() {
    return "A `blob_name` must be provided to show where the flow source file is stored in "
           "Azure.";
  }

  void connect(ScopedEnvs& env, const std::filesystem::path&) {
    env_ = &env;
    server_ = &AzuriteServer::shared();
    container_ = unique_bucket("t-");
    env.set(kSecretName, right());
    client().create_container();
  }

  const std::string& bucket() const { return container_; }
  std::string right() const { return server_->connection_string(); }
  // The same account and endpoint with another key.
  std::string wrong() const {
    std::string s = right();
    std::string key(net::kDevStorageKey);
    return s.replace(s.find(key), key.size(), kWrongKey);
  }

  Azure storage(const std::string& blob = "", bool script = false, bool overwrite = false) const {
    return storage_in(container_, blob, script, overwrite);
  }
  Azure storage_in(const std::string& container, const std::string& blob = "", bool script = false,
                   bool overwrite = false) const {
    return Azure({.container = container,
                  .connection_string_secret = kSecretName,
                  .blob_name = blob,
                  .overwrite = overwrite,
                  .stored_as_script = script});
  }
  Azure with_wrong_credentials(const std::string& blob) {
    env_->set(kSecretName, wrong());
    return storage(blob);
  }
  Azure default_result_storage() const { return storage(); }

  void machine_credentials() {}  // the secret is set for the whole test
  std::vector<std::string> secret_values() const { return {std::string(net::kDevStorageKey)}; }
  std::vector<std::string> wrong_secret_values() const { return {kWrongKey}; }

  // The descriptor names the secret and never holds a connection string.
  void expect_descriptor(const Value& d) const {
    EXPECT_EQ(d["connection_string_secret"], kSecretName);
    EXPECT_FALSE(d.contains("connection_string")) << d.dump();
    EXPECT_FALSE(has(d.dump(), "AccountKey")) << d.dump();
  }
  void expect_result_descriptor(const Value& d) const { expect_descriptor(d); }
  AzureBlobClient client() const { return AzureBlobClient(container_, right()); }

 private:
  ScopedEnvs* env_ = nullptr;
  AzuriteServer* server_ = nullptr;
  std::string container_;
};

// Construction, descriptors and errors that never reach a server.
class AzureStorageOffline : public object_storage_test::StoreOfflineTest<AzureStore> {};

// The rest, against azurite: a fresh container per test.
class AzureStorage : public object_storage_test::StoreTest<AzureStore> {};

}  // namespace

}  // namespace ferry::test

namespace ferry::object_storage_test {
INSTANTIATE_TYPED_TEST_SUITE_P(AzureStorage, ObjectStorageOffline, test::AzureStore, StoreName);
INSTANTIATE_TYPED_TEST_SUITE_P(AzureStorage, ObjectStorage, test::AzureStore, StoreName);
}  // namespace ferry::object_storage_test

namespace ferry::test {

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

// ---- what only Azure does against azurite (the shared behaviours:
// object_storage_conformance.hpp) ------------------------------------------------------------

TEST_F(AzureStorage, WithoutOverwriteAnExistingBlobIsRefusedAndLeftUntouched) {
  Azure first = store_.storage("flows/shared");
  first.add_flow(test_flow());
  first.build();
  std::string before = store_.stored("flows/shared").bytes;

  Azure second = store_.storage("flows/shared");
  second.add_flow(uber_flow());
  try {
    second.build();
    ADD_FAILURE() << "a second build replaced the blob";
  } catch (const ObjectError& e) {
    EXPECT_EQ(e.kind(), ObjectError::Kind::AlreadyExists) << e.what();
    EXPECT_TRUE(has(e.what(), "az://" + store_.bucket() + "/flows/shared")) << e.what();
  }
  EXPECT_EQ(store_.stored("flows/shared").bytes, before);
  EXPECT_EQ(run_answer(first.get_flow("test")), 43);

  Azure replacing = store_.storage("flows/shared", /*script=*/false, /*overwrite=*/true);
  replacing.add_flow(uber_flow());
  replacing.build();
  EXPECT_EQ(inspect_package(store_.stored("flows/shared").bytes).flow_name, "Über flow");
  EXPECT_EQ(run_answer(replacing.get_flow("Über flow")), 42);
}

// ---- script form (case 55; loading what the user put there is shared) ----------------------

TEST_F(AzureStorage, ScriptFormNeverUploadsTheNotedSourceFile) {
  Azure s = store_.storage("flows/flow.cpp", /*script=*/true);
  s.impl()->note_source_file(fixture_path());  // Azure never uploads a source file
  s.add_flow(test_flow());
  s.build();
  EXPECT_FALSE(store_.exists("flows/flow.cpp"));
  EXPECT_TRUE(s.impl()->digests.empty());
}

// ---- connection string order (§2.4, case 54) ------------------------------------------------

TEST_F(AzureStorage, TheNamedSecretBeatsAzureStorageConnectionString) {
  auto builds = [&](const std::string& blob, const std::string& secret_name) {
    return object_storage_test::uploads(store_,
                                        Azure({.container = store_.bucket(),
                                               .connection_string_secret = secret_name,
                                               .blob_name = blob}),
                                        blob);
  };
  env_.set(kSecretName, store_.right());
  env_.set(kDefaultSecret, store_.wrong());
  EXPECT_TRUE(builds("order/1", kSecretName)) << "named right, default wrong";
  EXPECT_FALSE(builds("order/2", "")) << "no name: the default (wrong)";

  env_.set(kSecretName, store_.wrong());
  env_.set(kDefaultSecret, store_.right());
  EXPECT_FALSE(builds("order/3", kSecretName)) << "named wrong, default right";
  EXPECT_TRUE(builds("order/4", "")) << "no name: the default (right)";
}

}  // namespace ferry::test
