// End-to-end: flows kept in S3 (Ceph RGW), Azure Blob (azurite) and GCS (the GCS fake, as
// no GCS emulator can run here), registered with `ferry register` and run by the local agent
// as a user would. The flows (tests/fixtures/e2e/object_flow.cpp) take their store and bucket
// from the environment and their endpoint and credentials from each store's standard
// variables, given only to the commands that talk to the store. The steps are the same for
// the three stores, so the tests are one suite over them (plus the script form, which only
// S3 and GCS upload). After each test, no credential may be in any file under FERRY_HOME (the
// SQLite database and its WAL included) or in any command's output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.hpp"
#include "ferry/codec.hpp"
#include "net/azure_blob.hpp"
#include "net/azure_connection_string.hpp"
#include "net/gcs_client.hpp"
#include "net/object_client.hpp"
#include "net/s3_client.hpp"
#include "support/azurite_server.hpp"
#include "support/ceph_rgw.hpp"
#include "support/e2e_support.hpp"
#include "support/gcs_fake.hpp"
#include "support/test_support.hpp"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;

const char kFrozen[] = "object-frozen";
const char kScript[] = "object-script";

std::string object_fixture() { return fixture("e2e/object_flow.cpp").string(); }

std::string replaced(std::string text, const std::string& what, const std::string& with) {
  std::size_t at = text.find(what);
  EXPECT_NE(at, std::string::npos) << what;
  if (at != std::string::npos) text.replace(at, what.size(), with);
  return text;
}

// The fixture with its task's answer changed: a second build of the same flows.
std::string changed_source() {
  return replaced(read_text(object_fixture()), "\"stashed \"", "\"changed \"");
}

// A bucket name no other test of this run uses (S3, Azure and GCS all accept it).
std::string fresh_bucket() {
  static int counter = 0;
  return "ferry-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// Sets an environment variable of the test process for a scope (the GCS client reads its
// endpoint and key file from there when it is made).
class ScopedVar {
 public:
  ScopedVar(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* prev = std::getenv(name_.c_str())) previous_ = prev;
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedVar() {
    if (previous_) {
      ::setenv(name_.c_str(), previous_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedVar(const ScopedVar&) = delete;
  ScopedVar& operator=(const ScopedVar&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

// One object store as the tests use it: the environment a ferry command needs to reach it
// (with good or wrong credentials), a client of the test's own to look behind ferry's back,
// and the secret values that must never show.
class Store {
 public:
  virtual ~Store() = default;
  virtual std::string type() const = 0;  // the storage class: "S3", "Azure", "GCS"
  // Why the store cannot run here ("" when it can).
  virtual std::string unavailable() const { return ""; }
  virtual void create_bucket(const std::string& bucket) = 0;
  virtual std::unique_ptr<net::ObjectClient> client(const std::string& bucket) const = 0;
  // The store's variables for a ferry command, credentials included.
  virtual std::vector<std::string> credentials() const = 0;
  // The same with a wrong secret (the endpoint and account are right).
  virtual std::vector<std::string> wrong_credentials() const = 0;
  // The credentials' secret values, and the wrong ones: none may appear anywhere.
  virtual std::vector<std::string> secrets() const = 0;
  // What the error for the wrong credentials says the store refused.
  virtual std::string refusal() const = 0;

  std::vector<std::string> env(const std::string& bucket, bool wrong = false) const {
    std::vector<std::string> env = wrong ? wrong_credentials() : credentials();
    env.push_back("FERRY_E2E_STORE=" + type());
    env.push_back("FERRY_E2E_BUCKET=" + bucket);
    return env;
  }
};

class S3Store : public Store {
 public:
  std::string type() const override { return "S3"; }
  std::string unavailable() const override {
    return CephRgw::available() ? "" : "Ceph (radosgw, ceph-mon, ceph-osd) not installed";
  }
  void create_bucket(const std::string& bucket) override {
    net::S3Client(bucket, options()).create_bucket();
  }
  std::unique_ptr<net::ObjectClient> client(const std::string& bucket) const override {
    return std::make_unique<net::S3Client>(bucket, options());
  }
  std::vector<std::string> credentials() const override {
    return {"AWS_ENDPOINT_URL_S3=" + rgw().endpoint(), "AWS_ACCESS_KEY_ID=" + rgw().access_key(),
            "AWS_SECRET_ACCESS_KEY=" + rgw().secret_key()};
  }
  std::vector<std::string> wrong_credentials() const override {
    return {"AWS_ENDPOINT_URL_S3=" + rgw().endpoint(), "AWS_ACCESS_KEY_ID=" + rgw().access_key(),
            "AWS_SECRET_ACCESS_KEY=" + kWrongSecret};
  }
  std::vector<std::string> secrets() const override { return {rgw().secret_key(), kWrongSecret}; }
  std::string refusal() const override { return "(HTTP 403 SignatureDoesNotMatch)"; }

 private:
  static CephRgw& rgw() { return CephRgw::shared(); }
  static Value options() {
    return {{"endpoint_url", rgw().endpoint()},
            {"aws_access_key_id", rgw().access_key()},
            {"aws_secret_access_key", rgw().secret_key()}};
  }
  inline static const std::string kWrongSecret = "wr0ngS3cr3tK3yF0rTh3E2eT3sts0123456789ab";
};

class AzureStore : public Store {
 public:
  std::string type() const override { return "Azure"; }
  void create_bucket(const std::string& bucket) override {
    net::AzureBlobClient(bucket, azurite().connection_string()).create_container();
  }
  std::unique_ptr<net::ObjectClient> client(const std::string& bucket) const override {
    return std::make_unique<net::AzureBlobClient>(bucket, azurite().connection_string());
  }
  std::vector<std::string> credentials() const override {
    return {"AZURE_STORAGE_CONNECTION_STRING=" + azurite().connection_string()};
  }
  std::vector<std::string> wrong_credentials() const override {
    return {"AZURE_STORAGE_CONNECTION_STRING=" +
            replaced(azurite().connection_string(), std::string(net::kDevStorageKey), kWrongKey)};
  }
  std::vector<std::string> secrets() const override {
    return {std::string(net::kDevStorageKey), kWrongKey};
  }
  std::string refusal() const override {
    return "Azure refused the account key (AccountKey) in the connection string";
  }

 private:
  static AzuriteServer& azurite() { return AzuriteServer::shared(); }
  // A well-formed account key (64 bytes, base64) that is not the account's.
  inline static const std::string kWrongKey =
      "d3JvbmcgYWNjb3VudCBrZXkgZm9yIHRoZSBmZXJyeSBlbmQtdG8tZW5kIHRlc3RzIDAxMjM0NTY3ODk=";
};

class GcsStore : public Store {
 public:
  GcsStore() {
    fake().write_key_file(dir_ / "key.json");
    wrong_key_pem_ = generate_rsa_private_key_pem();
    fake().write_key_file(dir_ / "wrong-key.json", wrong_key_pem_);
  }
  std::string type() const override { return "GCS"; }
  void create_bucket(const std::string& bucket) override { fake().add_bucket(bucket); }
  std::unique_ptr<net::ObjectClient> client(const std::string& bucket) const override {
    ScopedVar host("STORAGE_EMULATOR_HOST", fake().endpoint());
    ScopedVar key("GOOGLE_APPLICATION_CREDENTIALS", (dir_ / "key.json").string());
    return std::make_unique<net::GcsClient>(bucket, "");
  }
  std::vector<std::string> credentials() const override {
    return {"STORAGE_EMULATOR_HOST=" + fake().endpoint(),
            "GOOGLE_APPLICATION_CREDENTIALS=" + (dir_ / "key.json").string()};
  }
  std::vector<std::string> wrong_credentials() const override {
    return {"STORAGE_EMULATOR_HOST=" + fake().endpoint(),
            "GOOGLE_APPLICATION_CREDENTIALS=" + (dir_ / "wrong-key.json").string()};
  }
  std::string refusal() const override { return "Invalid JWT Signature"; }
  // Lines of both private keys' PEM bodies, and every access token the fake was shown.
  std::vector<std::string> secrets() const override {
    std::vector<std::string> out;
    for (const std::string& pem : {fake().private_key_pem(), wrong_key_pem_}) {
      std::vector<std::string> lines = pem_body_lines(pem);
      EXPECT_GE(lines.size(), 3u) << pem;
      if (lines.size() >= 3) {
        out.push_back(lines[1]);
        out.push_back(lines[lines.size() / 2]);
      }
    }
    std::set<std::string> tokens;
    for (const HttpRequest& r : fake().requests()) {
      std::string auth = r.header("Authorization");
      if (auth.rfind("Bearer ", 0) == 0) tokens.insert(auth.substr(7));
    }
    EXPECT_FALSE(tokens.empty()) << "no request to the fake carried a token";
    out.insert(out.end(), tokens.begin(), tokens.end());
    return out;
  }

 private:
  static GcsFake& fake() { return GcsFake::shared(); }
  static std::vector<std::string> pem_body_lines(const std::string& pem) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < pem.size()) {
      std::size_t end = pem.find('\n', start);
      if (end == std::string::npos) end = pem.size();
      std::string line = pem.substr(start, end - start);
      if (!line.empty() && line.rfind("-----", 0) != 0) lines.push_back(line);
      start = end + 1;
    }
    return lines;
  }

  TempDir dir_;
  std::string wrong_key_pem_;
};

std::unique_ptr<Store> make_store(const std::string& type) {
  if (type == "S3") return std::make_unique<S3Store>();
  if (type == "Azure") return std::make_unique<AzureStore>();
  return std::make_unique<GcsStore>();
}

// The storage descriptor of a registered flow, as an agent reads it from the backend.
Value descriptor(const Home& home, const std::string& flow) {
  auto backend = backend::open_sqlite_backend((home.path() / "ferry.db").string());
  std::optional<backend::FlowVersion> version = backend->get_flow_version("default", flow);
  EXPECT_TRUE(version.has_value()) << flow << " is not registered";
  return version ? version->storage : Value::object();
}

// The object key the descriptor recorded for `flow` ("" if none).
std::string stored_key(const Home& home, const std::string& flow) {
  Value d = descriptor(home, flow);
  if (!d.contains("flows") || !d["flows"].contains(flow)) {
    ADD_FAILURE() << "no key for " << flow << " in " << d.dump(2);
    return "";
  }
  return d["flows"][flow].get<std::string>();
}

// The steps every test shares, over one store, with every command's output kept for the
// final search for secrets.
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store_ = make_store(GetParam());
    if (std::string why = store_->unavailable(); !why.empty())
      FAIL() << why << " (scripts/install-deps.sh installs it)";
    bucket_ = fresh_bucket();
    store_->create_bucket(bucket_);
  }

  std::vector<std::string> env(bool wrong = false) const { return store_->env(bucket_, wrong); }

  CommandResult ferry(const Home& home, std::vector<std::string> args, bool wrong = false) {
    CommandResult r = home.ferry(std::move(args), env(wrong));
    outputs_ += r.out + r.err;
    return r;
  }

  // `ferry register` of one flow of the fixture, which must succeed.
  CommandResult register_flow(const Home& home, const std::string& flow) {
    CommandResult reg = ferry(home, {"register", "--path", object_fixture(), "-n", flow});
    EXPECT_EQ(reg.exit_code, 0) << reg.out << reg.err;
    return reg;
  }

  // One run of `flow` by the local agent; the run as `ferry runs ls` lists it.
  Value run_once(const Home& home, const std::string& flow, const std::string& word,
                 std::string* id_out, bool wrong = false) {
    CommandResult created = ferry(home, {"run", flow, "--param", "word=" + word, "--json"});
    EXPECT_EQ(created.exit_code, 0) << created.out << created.err;
    Value line = Value::parse(created.out, nullptr, /*allow_exceptions=*/false);
    std::string id = line.is_object() ? line.value("run_id", "") : "";
    EXPECT_FALSE(id.empty()) << created.out;
    CommandResult agent = ferry(
        home, {"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"}, wrong);
    EXPECT_EQ(agent.exit_code, 0) << agent.out << agent.err;
    if (id_out) *id_out = id;
    Value run = home.listed_run(id);
    last_agent_ = agent.out + agent.err;
    return run;
  }

  // No secret value in any file under FERRY_HOME (not only the database: its WAL, logs and
  // caches too), in the outputs collected so far, or in what `ferry` shows of the runs.
  void expect_no_secret_anywhere(const Home& home) {
    for (const std::vector<std::string>& args : home.inspection_commands()) {
      CommandResult r = ferry(home, args);
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    std::string everything;
    std::vector<fs::path> files = files_under(home.path());
    EXPECT_TRUE(fs::exists(home.path() / "ferry.db"));
    for (const fs::path& f : files) {
      std::string bytes = read_text(f);
      for (const std::string& secret : store_->secrets()) {
        EXPECT_FALSE(contains(bytes, secret)) << "a secret is in " << f;
      }
      everything += bytes;
    }
    for (const std::string& secret : store_->secrets()) {
      EXPECT_FALSE(contains(outputs_, secret)) << "a secret was printed:\n" << outputs_;
    }
    // Not vacuous: the backend's bytes were searched, and they hold the descriptor.
    EXPECT_TRUE(contains(everything, bucket_)) << "the descriptor is not under " << home.path();
    EXPECT_TRUE(contains(outputs_, bucket_)) << outputs_;
  }

  std::unique_ptr<Store> store_;
  std::string bucket_;
  std::string outputs_;
  std::string last_agent_;
};

class ObjectStore : public StoreTest {};
class ScriptStore : public StoreTest {};

std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace

// Frozen: `ferry register` uploads the package to the bucket at the default key; the agent
// downloads it, checks the digest, runs it, and records the object's ETag on the run.
TEST_P(ObjectStore, FrozenFlowRunsWithTheLocalAgentAndPinsTheETag) {
  Home home;
  CommandResult reg = register_flow(home, kFrozen);
  EXPECT_TRUE(contains(reg.out, "Registered flow 'object-frozen' version 1 (storage " +
                                    store_->type() + ", frozen;"))
      << reg.out;
  std::string key = stored_key(home, kFrozen);
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(key.rfind("object-frozen/", 0), 0u) << key;
  Value d = descriptor(home, kFrozen);
  EXPECT_EQ(d.value("type", ""), store_->type()) << d.dump(2);
  net::ObjectData stored = store_->client(bucket_)->get(key);
  ASSERT_FALSE(stored.bytes.empty());
  ASSERT_TRUE(d["digests"].contains(kFrozen)) << d.dump(2);

  std::string id;
  Value run = run_once(home, kFrozen, "crate", &id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << last_agent_;
  EXPECT_EQ(run["result"], "stashed crate") << run.dump(2);
  CommandResult logs = ferry(home, {"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "stashing crate")) << logs.out;

  Value pinned = home.show(id)["pinned"];
  EXPECT_EQ(pinned["storage"], store_->type()) << pinned.dump();
  EXPECT_EQ(pinned["sha256"], d["digests"][kFrozen]) << pinned.dump();
  ASSERT_TRUE(pinned.contains("etag")) << pinned.dump();
  EXPECT_FALSE(pinned["etag"].get<std::string>().empty()) << pinned.dump();
  EXPECT_EQ(pinned["etag"], stored.info.etag) << "not the ETag of the object the agent fetched";

  expect_no_secret_anywhere(home);
}

// Home A registers (with Local storage too); only its backend reaches home B, "another
// machine" whose FERRY_HOME never saw the flows, after A is gone. The object store's
// descriptor is all B needs; Local storage's package stayed on A.
TEST_P(ObjectStore, FlowRegisteredFromAnotherHomeRunsFromItsDescriptorWhereLocalCannot) {
  Home b;
  fs::path a_home;
  {
    Home a;
    a_home = a.path();
    register_flow(a, kFrozen);
    a.register_flow(example("hello.cpp"));
    for (const char* name : {"ferry.db", "ferry.db-wal", "ferry.db-shm"}) {
      if (fs::exists(a.path() / name)) fs::copy_file(a.path() / name, b.path() / name);
    }
  }  // A's FERRY_HOME, with Local storage's package, is deleted here.
  ASSERT_FALSE(fs::exists(a_home));

  Value flows = b.flows();
  ASSERT_EQ(flows.size(), 2u) << flows.dump(2);
  std::string id;
  Value run = run_once(b, kFrozen, "abroad", &id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << last_agent_;
  EXPECT_EQ(run["result"], "stashed abroad") << run.dump(2);
  EXPECT_EQ(b.show(id)["pinned"]["storage"], store_->type());

  std::string local = b.create_run({"hello"});
  ASSERT_FALSE(local.empty());
  CommandResult agent = b.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  Value failed = b.listed_run(local);
  EXPECT_EQ(failed["state"], "Failed") << failed.dump(2);
  EXPECT_TRUE(contains(failed.value("message", ""), "does not exist on this machine"))
      << failed.dump(2);

  expect_no_secret_anywhere(b);
}

// The object is replaced behind ferry's back by a well-formed package of another build of
// the flow: only the digest recorded at registration can refuse it, and it does, in the
// run's state message; no task runs.
TEST_P(ObjectStore, ReplacedPackageFailsTheRunWithTheDigestMessage) {
  Home home;
  register_flow(home, kFrozen);
  std::string key = stored_key(home, kFrozen);
  ASSERT_FALSE(key.empty());

  TempDir dir;
  write_text(dir / "object_flow.cpp", changed_source());
  CommandResult freeze =
      ferry(home, {"flow", "freeze", "--path", (dir / "object_flow.cpp").string(), "--flow",
                   kFrozen, "-o", (dir / "other.ferry").string()});
  ASSERT_EQ(freeze.exit_code, 0) << freeze.out << freeze.err;
  std::string other = read_text(dir / "other.ferry");
  std::unique_ptr<net::ObjectClient> client = store_->client(bucket_);
  ASSERT_NE(client->get(key).bytes, other);
  client->put(key, other);

  std::string id;
  Value run = run_once(home, kFrozen, "crate", &id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Failed to load flow from storage: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "does not match the SHA-256 digest recorded at registration"))
      << message;
  EXPECT_TRUE(contains(message, client->uri(key))) << message;
  EXPECT_EQ(run["result"], Value()) << run.dump(2);
  EXPECT_TRUE(home.show(id)["tasks"].empty()) << "a task of the replaced package ran";
}

// The agent's machine has a wrong secret: the run fails with one line naming the bucket, and
// neither the wrong secret nor the right one shows anywhere.
TEST_P(ObjectStore, WrongCredentialsOnTheAgentFailTheRunNamingTheBucket) {
  Home home;
  register_flow(home, kFrozen);
  std::string uri = store_->client(bucket_)->uri(stored_key(home, kFrozen));

  std::string id;
  Value run = run_once(home, kFrozen, "crate", &id, /*wrong=*/true);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Failed to load flow from storage: ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, uri)) << message;
  EXPECT_TRUE(contains(message, store_->refusal())) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_TRUE(home.show(id)["tasks"].empty()) << "a task ran without its flow";

  expect_no_secret_anywhere(home);
}

// Script form: `ferry register` uploads the registered source file; the agent compiles what
// it downloads. A new version of the source put in the bucket is what the next run runs,
// without registering again, and the run's pin names the new object.
TEST_P(ScriptStore, ChangedSourceInTheBucketRunsWithoutReRegistering) {
  Home home;
  CommandResult reg = register_flow(home, kScript);
  EXPECT_TRUE(contains(reg.out, "Registered flow 'object-script' version 1 (storage " +
                                    store_->type() + ", script;"))
      << reg.out;
  std::string key = stored_key(home, kScript);
  ASSERT_FALSE(key.empty());
  std::unique_ptr<net::ObjectClient> client = store_->client(bucket_);
  EXPECT_EQ(client->get(key).bytes, read_text(object_fixture())) << "not the registered file";

  std::string first;
  Value run = run_once(home, kScript, "draft", &first);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << last_agent_;
  EXPECT_EQ(run["result"], "stashed draft") << run.dump(2);

  net::ObjectInfo put = client->put(key, changed_source());
  std::string second;
  run = run_once(home, kScript, "draft", &second);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << last_agent_;
  EXPECT_EQ(run["result"], "changed draft") << run.dump(2);

  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0].value("version", 0), 1) << flows.dump(2);
  Value pin1 = home.show(first)["pinned"];
  Value pin2 = home.show(second)["pinned"];
  EXPECT_EQ(pin2["storage"], store_->type()) << pin2.dump();
  EXPECT_FALSE(pin2.contains("sha256")) << "script form has no package digest: " << pin2.dump();
  ASSERT_TRUE(pin1.contains("etag") && pin2.contains("etag")) << pin1.dump() << pin2.dump();
  EXPECT_NE(pin1["etag"], pin2["etag"]);
  if (!put.etag.empty()) EXPECT_EQ(pin2["etag"], put.etag) << pin2.dump();

  expect_no_secret_anywhere(home);
}

INSTANTIATE_TEST_SUITE_P(ObjectStorage, ObjectStore, ::testing::Values("S3", "Azure", "GCS"),
                         param_name);
INSTANTIATE_TEST_SUITE_P(ObjectStorage, ScriptStore, ::testing::Values("S3", "GCS"), param_name);

}  // namespace ferry::test
