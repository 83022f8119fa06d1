// What S3, Azure and GCS storages do alike, written once as type-parameterized GoogleTest
// suites over a store adapter; each class's test file defines its adapter and instantiates
// the suites (INSTANTIATE_TYPED_TEST_SUITE_P), so a behaviour added here is tested for every
// class, and what only one class does stays in that class's file.
//
// A store adapter (S3Store, AzureStore, GcsFakeStore) gives:
//   using Kind = S3;                                   the storage class
//   kServer ("CephRgw"), kScheme ("s3://"), kResultType ("S3Result"),
//   kBucketField ("bucket" or "container"), kAlwaysVersioned (every put gives a version)
//   static void forget_the_machine(ScopedEnvs&)         no credentials or settings from the host
//   static Kind offline(key, script[, local])            a storage for a bucket no server has
//   static std::string script_without_key_message()     build's refusal of a script form
//                                                        that cannot say where the source is
//   void connect(ScopedEnvs&, home)                      server up, fresh bucket, credentials
//   bucket(), storage(key, script[, local]), storage_in(bucket), with_wrong_credentials(key),
//   default_result_storage()
//   machine_credentials()                                what an agent has, for deserialized ones
//   secret_values(), wrong_secret_values()  never in a descriptor or an error message
//   expect_descriptor(d), expect_result_descriptor(d)    class-specific descriptor fields (and
//                                                        no credential field names in them)
//   expect_missing_object_message(message, key)
//   exists(key), stored(key), put(key, bytes), remove(key)   the bucket as the server has it
//
// Header only, included by the three test files (gtest supports a pattern in a header).
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/digest.hpp"
#include "ferry/ferry.hpp"
#include "net/object_client.hpp"
#include "support/test_support.hpp"
#include "unit/storage/object_storage_test_util.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::object_storage_test {

// Offline: the machine's settings cleared, no server.
template <class Store>
class StoreOfflineTest : public ObjectStorageTest {
 protected:
  void SetUp() override {
    ObjectStorageTest::SetUp();
    Store::forget_the_machine(env_);
  }
};

// Against the store's server: a fresh bucket per test.
template <class Store>
class StoreTest : public StoreOfflineTest<Store> {
 protected:
  void SetUp() override {
    StoreOfflineTest<Store>::SetUp();
    store_.connect(this->env_, this->home_.path());
  }

  Store store_;
};

// None of `secrets` in `text` (a descriptor's dump, an error message).
inline void expect_none_of(const std::vector<std::string>& secrets, const std::string& text) {
  for (const std::string& secret : secrets) {
    EXPECT_FALSE(storage_test::has(text, secret)) << secret << " in " << text;
  }
}

// Whether `s`, holding the fixture's "test" flow at `key`, uploads it: false when the server
// refuses its credentials (Kind::Auth), so credential-order tests read as a table.
template <class Store, class Kind>
bool uploads(Store& store, Kind s, const std::string& key) {
  s.add_flow(test_flow());
  try {
    s.build();
  } catch (const net::ObjectError& e) {
    EXPECT_EQ(e.kind(), net::ObjectError::Kind::Auth) << e.what();
    return false;
  }
  return store.exists(key);
}

// What S3 and GCS build refuses for a script form with neither key nor local_script_path.
inline std::string key_or_local_script_message(const std::string& store) {
  return "A `key` must be provided to show where the flow source file is stored in " + store +
         " or provide a `local_script_path` pointing to a local source file that contains the "
         "flow.";
}

// The bucket through the store's own client (S3, Azure), and missing objects named by their
// URI: a base for adapters whose client() and bucket() say the rest (CRTP).
template <class Store>
class ThroughClient {
 public:
  bool exists(const std::string& key) const { return self().client().exists(key); }
  net::ObjectData stored(const std::string& key) const { return self().client().get(key); }
  void put(const std::string& key, const std::string& bytes) const {
    self().client().put(key, bytes);
  }
  void remove(const std::string& key) const { self().client().remove(key); }
  void expect_missing_object_message(const std::string& message, const std::string& key) const {
    EXPECT_TRUE(storage_test::has(message, Store::kScheme + self().bucket() + "/" + key))
        << message;
  }

 private:
  const Store& self() const { return static_cast<const Store&>(*this); }
};

// Names for INSTANTIATE_TYPED_TEST_SUITE_P: ".../CephRgw", ".../Azurite", ".../GcsFake".
struct StoreName {
  template <class Store>
  static std::string GetName(int) {
    return Store::kServer;
  }
};

// ---- offline, every class ----------------------------------------------------------------

template <class Store>
class ObjectStorageOffline : public StoreOfflineTest<Store> {};
TYPED_TEST_SUITE_P(ObjectStorageOffline);

TYPED_TEST_P(ObjectStorageOffline, AddFlowReturnsTheKeyItStores) {
  auto fixed = TypeParam::offline("mykey");
  EXPECT_EQ(fixed.add_flow(test_flow()), "mykey");
  EXPECT_EQ(fixed.flows().at("test"), "mykey");

  auto generated = TypeParam::offline();
  std::string first = generated.add_flow(test_flow());
  std::string second = generated.add_flow(uber_flow());
  EXPECT_TRUE(first.starts_with("test/")) << first;  // the slug is the first segment
  EXPECT_TRUE(second.starts_with("uber-flow/")) << second;
  EXPECT_TRUE(first.find(storage_test::current_utc_year()) != std::string::npos) << first;
  EXPECT_EQ(generated.flows().at("test"), first);
  EXPECT_EQ(generated.flows().at("Über flow"), second);
  EXPECT_EQ(generated.flows().size(), 2u);
  EXPECT_TRUE(storage_test::has(
      storage_test::error_of<ValueError>([&] { generated.add_flow(test_flow()); }),
      "Name conflict"));
}

TYPED_TEST_P(ObjectStorageOffline, ScriptFormThatCannotSayWhereTheSourceIsIsRefusedAtBuild) {
  auto s = TypeParam::offline("", /*script=*/true);
  s.add_flow(test_flow());
  EXPECT_EQ(storage_test::error_of<ValueError>([&] { s.build(); }),
            TypeParam::script_without_key_message());
}

REGISTER_TYPED_TEST_SUITE_P(ObjectStorageOffline, AddFlowReturnsTheKeyItStores,
                            ScriptFormThatCannotSayWhereTheSourceIsIsRefusedAtBuild);

// ---- against the server, every class -------------------------------------------------------

template <class Store>
class ObjectStorage : public StoreTest<Store> {};
TYPED_TEST_SUITE_P(ObjectStorage);

TYPED_TEST_P(ObjectStorage, BuildUploadsThePackageAndGetFlowRunsIt) {
  auto& store = this->store_;
  auto s = store.storage("flows/mykey");
  EXPECT_EQ(s.add_flow(test_flow()), "flows/mykey");
  EXPECT_FALSE(store.exists("flows/mykey")) << "add_flow uploads nothing";
  s.build();

  net::ObjectData stored = store.stored("flows/mykey");
  EXPECT_EQ(inspect_package(stored.bytes).flow_name, "test");
  EXPECT_EQ(s.impl()->digests.at("test"), detail::sha256_hex(stored.bytes));

  Flow loaded = s.get_flow("test");
  EXPECT_EQ(loaded.name(), "test");
  EXPECT_EQ(run_answer(loaded), 43);

  // The pin has the etag, and the version only where the server gives one.
  Value pin = s.impl()->fetched_pin("test");
  EXPECT_FALSE(stored.info.etag.empty());
  EXPECT_EQ(pin.value("etag", ""), stored.info.etag);
  EXPECT_EQ(pin.contains("version_id"), !stored.info.version_id.empty()) << pin.dump();
  EXPECT_EQ(pin.value("version_id", ""), stored.info.version_id);
  if (TypeParam::kAlwaysVersioned) EXPECT_FALSE(stored.info.version_id.empty());
}

TYPED_TEST_P(ObjectStorage, TwoFlowsBecomeTwoObjectsEachRunnable) {
  auto& store = this->store_;
  auto s = store.storage();
  std::string test_key = s.add_flow(test_flow());
  std::string uber_key = s.add_flow(uber_flow());
  EXPECT_NE(test_key, uber_key);
  s.build();
  EXPECT_TRUE(store.exists(test_key));
  EXPECT_TRUE(store.exists(uber_key));
  EXPECT_EQ(s.impl()->digests.size(), 2u);
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

TYPED_TEST_P(ObjectStorage, AnObjectReplacedBehindFerrysBackFailsTheDigestCheck) {
  auto& store = this->store_;
  auto s = store.storage("flows/replaced");
  s.add_flow(test_flow());
  s.build();
  // Another valid package (another flow's) at the same key.
  store.put("flows/replaced", freeze_flow(uber_flow()));
  std::string message = storage_test::error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(storage_test::has(message, "does not match the SHA-256 digest")) << message;
  EXPECT_TRUE(storage_test::has(message, TypeParam::kScheme + store.bucket() + "/flows/replaced"))
      << message;
}

TYPED_TEST_P(ObjectStorage, TheDeserializedStorageFetchesWithTheMachinesCredentials) {
  auto& store = this->store_;
  auto s = store.storage("flows/agent");
  s.add_flow(test_flow());
  s.build();
  Value d = s.serialize();
  store.expect_descriptor(d);
  expect_none_of(store.secret_values(), d.dump());

  storage::Storage agent_side = storage::Storage::deserialize(d);
  store.machine_credentials();
  EXPECT_EQ(run_answer(agent_side.get_flow("test")), 43);
  EXPECT_EQ(agent_side.impl()->digests, s.impl()->digests);
}

TYPED_TEST_P(ObjectStorage, ScriptFormWithOnlyAKeyUploadsNothingAndLoadsWhatTheUserPutThere) {
  auto& store = this->store_;
  auto s = store.storage("flows/flow.cpp", /*script=*/true);
  s.add_flow(test_flow());
  s.add_flow(uber_flow());
  s.build();
  EXPECT_FALSE(store.exists("flows/flow.cpp"));
  EXPECT_TRUE(s.impl()->digests.empty());

  // The user uploads the source themselves; each get_flow picks its flow out of it.
  store.put("flows/flow.cpp", test::read_text(fixture_path()));
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
}

TYPED_TEST_P(ObjectStorage, AMissingObjectIsAFlowStorageErrorNamingIt) {
  auto& store = this->store_;
  Value d = store.storage().serialize();
  d["flows"] = {{"test", "flows/never-uploaded"}};
  storage::Storage s = storage::Storage::deserialize(d);
  store.machine_credentials();
  std::string message = storage_test::error_of<FlowStorageError>([&] { s.get_flow("test"); });
  EXPECT_TRUE(storage_test::has(message, "flows/never-uploaded")) << message;
  EXPECT_TRUE(storage_test::has(message, store.bucket())) << message;
  store.expect_missing_object_message(message, "flows/never-uploaded");
}

TYPED_TEST_P(ObjectStorage, AMissingBucketIsAClearErrorNamingIt) {
  auto& store = this->store_;
  std::string missing = unique_bucket("ferry-missing-");
  auto s = store.storage_in(missing);
  s.add_flow(test_flow());
  auto names_it = [&](const std::string& message) {
    EXPECT_TRUE(storage_test::has(message, missing)) << message;
  };
  names_it(storage_test::error_of<net::ObjectError>([&] { s.build(); }));
  names_it(storage_test::error_of<net::ObjectError>([&] { s.get_flow("test"); }));

  storage::Storage agent_side = storage::Storage::deserialize(s.serialize());
  store.machine_credentials();
  names_it(storage_test::error_of<net::ObjectError>([&] { agent_side.get_flow("test"); }));
}

TYPED_TEST_P(ObjectStorage, WrongCredentialsAreAClearErrorWithoutTheSecret) {
  auto& store = this->store_;
  auto s = store.with_wrong_credentials("flows/denied");
  s.add_flow(test_flow());
  try {
    s.build();
    ADD_FAILURE() << "wrong credentials built";
  } catch (const net::ObjectError& e) {
    EXPECT_EQ(e.kind(), net::ObjectError::Kind::Auth) << e.what();
    EXPECT_TRUE(storage_test::has(e.what(), store.bucket())) << e.what();
    expect_none_of(store.wrong_secret_values(), e.what());
    expect_none_of(store.secret_values(), e.what());
  }
  EXPECT_FALSE(store.exists("flows/denied"));
}

TYPED_TEST_P(ObjectStorage, HasStoredFollowsTheObject) {
  auto& store = this->store_;
  auto s = store.storage("flows/stored");
  s.add_flow(test_flow());
  EXPECT_FALSE(s.impl()->has_stored("test")) << "not uploaded yet";
  s.build();
  EXPECT_TRUE(s.impl()->has_stored("test"));
  EXPECT_FALSE(s.impl()->has_stored("other")) << "not a flow of this storage";
  store.remove("flows/stored");
  EXPECT_FALSE(s.impl()->has_stored("test"));
}

TYPED_TEST_P(ObjectStorage, TheDefaultResultIsInTheSameBucketWithoutCredentials) {
  auto& store = this->store_;
  auto s = store.default_result_storage();
  Result r = s.default_result();
  ASSERT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.type(), TypeParam::kResultType);
  Value d = r.serialize();
  EXPECT_EQ(d[TypeParam::kBucketField], store.bucket());
  store.expect_result_descriptor(d);
  expect_none_of(store.secret_values(), d.dump());
  expect_none_of(store.secret_values(), s.serialize().dump());

  Value value = {{"rows", 3}, {"names", {"a", "b"}}};
  std::string location = r.location_for("run-1", "etl", "extract");
  r.write(location, value);
  EXPECT_EQ(Value::parse(store.stored(location).bytes), value);
  EXPECT_EQ(r.read(location), std::optional<Value>(value));
  EXPECT_EQ(r.read("run-1/missing.json"), std::nullopt);

  Result back = Result::deserialize(d);
  EXPECT_EQ(back.type(), TypeParam::kResultType);
  EXPECT_EQ(back.serialize(), d);
  store.machine_credentials();  // the deserialized one uses the machine's credentials
  EXPECT_EQ(back.read(location), std::optional<Value>(value));
}

REGISTER_TYPED_TEST_SUITE_P(ObjectStorage, BuildUploadsThePackageAndGetFlowRunsIt,
                            TwoFlowsBecomeTwoObjectsEachRunnable,
                            AnObjectReplacedBehindFerrysBackFailsTheDigestCheck,
                            TheDeserializedStorageFetchesWithTheMachinesCredentials,
                            ScriptFormWithOnlyAKeyUploadsNothingAndLoadsWhatTheUserPutThere,
                            AMissingObjectIsAFlowStorageErrorNamingIt,
                            AMissingBucketIsAClearErrorNamingIt,
                            WrongCredentialsAreAClearErrorWithoutTheSecret,
                            HasStoredFollowsTheObject,
                            TheDefaultResultIsInTheSameBucketWithoutCredentials);

// ---- script sources uploaded from local_script_path (S3 and GCS; Azure never uploads one) --

template <class Store>
class ObjectStorageSourcesOffline : public StoreOfflineTest<Store> {};
TYPED_TEST_SUITE_P(ObjectStorageSourcesOffline);

TYPED_TEST_P(ObjectStorageSourcesOffline, NoteSourceFileFillsAnEmptyLocalScriptPathInScriptForm) {
  auto script = TypeParam::offline("", /*script=*/true);
  script.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(script.local_script_path(), "/src/flows.cpp");

  auto given = TypeParam::offline("", /*script=*/true, "/mine.cpp");
  given.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(given.local_script_path(), "/mine.cpp") << "the user's path wins";

  auto frozen = TypeParam::offline();
  frozen.impl()->note_source_file("/src/flows.cpp");
  EXPECT_EQ(frozen.local_script_path(), "") << "frozen flows upload packages, not sources";
}

REGISTER_TYPED_TEST_SUITE_P(ObjectStorageSourcesOffline,
                            NoteSourceFileFillsAnEmptyLocalScriptPathInScriptForm);

template <class Store>
class ObjectStorageSources : public StoreTest<Store> {};
TYPED_TEST_SUITE_P(ObjectStorageSources);

TYPED_TEST_P(ObjectStorageSources, ScriptFormUploadsLocalScriptPathAndGetFlowCompilesIt) {
  auto& store = this->store_;
  auto s = store.storage("", /*script=*/true, fixture_path());
  std::string test_key = s.add_flow(test_flow());
  std::string uber_key = s.add_flow(uber_flow());
  s.build();
  std::string source = test::read_text(fixture_path());
  EXPECT_EQ(store.stored(test_key).bytes, source);
  EXPECT_EQ(store.stored(uber_key).bytes, source);
  EXPECT_TRUE(s.impl()->digests.empty()) << "sources carry no digest";
  // Each get_flow picks its flow out of the fetched source.
  EXPECT_EQ(run_answer(s.get_flow("test")), 43);
  EXPECT_EQ(run_answer(s.get_flow("Über flow")), 42);
  EXPECT_FALSE(s.impl()->fetched_pin("test").value("etag", "").empty());
}

REGISTER_TYPED_TEST_SUITE_P(ObjectStorageSources,
                            ScriptFormUploadsLocalScriptPathAndGetFlowCompilesIt);

}  // namespace ferry::object_storage_test
