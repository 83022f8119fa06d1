// CodeCommit storage (reference §2.10, case 83) against CodeCommitFake, which verifies the
// SigV4 signature by recomputing it: GetFile's request, the commit pinned, the default
// branch when no commit is given, AWS errors, credentials never in the descriptor.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "ferry/storage/codecommit.hpp"
#include "support/forge_fakes.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::CodeCommit;
using ferry::storage::Storage;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::run_result;
using ferry::storage_test::ScopedEnv;
using ferry::storage_test::share_module_cache;
using ferry::test::CodeCommitFake;
using ferry::test::forge_flow_source;
using ferry::test::ScopedFerryHome;

const char* const kPath = "flows/flow.cpp";
const char* const kKeyId = "AKIDFAKE";
const char* const kSecret = "fake/secret+KEY";

// No AWS settings from the machine; the test's FERRY_HOME shares the module cache.
struct Env {
  ScopedFerryHome home;
  std::vector<std::unique_ptr<ScopedEnv>> vars;
  Env() {
    share_module_cache(home.path());
    for (const char* name :
         {"AWS_CREDENTIALS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
          "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"})
      vars.push_back(std::make_unique<ScopedEnv>(name, nullptr));
    vars.push_back(std::make_unique<ScopedEnv>("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c"));
    vars.push_back(std::make_unique<ScopedEnv>("AWS_CONFIG_FILE", "/nonexistent/f"));
  }
};

Value options_for(const CodeCommitFake& fake, const char* secret = kSecret) {
  return {{"aws_access_key_id", kKeyId},
          {"aws_secret_access_key", secret},
          {"region_name", "us-east-1"},
          {"endpoint_url", fake.endpoint_url()}};
}

}  // namespace

TEST(CodeCommitStorageAgainstFake, OptionsAndDescriptorKeepNoCredentials) {
  CodeCommit s({.repo = "flows",
                .path = kPath,
                .commit = "dev",
                .client_options = {{"region_name", "eu-west-1"},
                                   {"aws_access_key_id", "AKIDSTORED"},
                                   {"aws_secret_access_key", "never-stored-secret"}},
                .secrets = {"AWS_CREDENTIALS"}});
  EXPECT_EQ(s.type(), "CodeCommit");
  EXPECT_TRUE(s.stored_as_script());
  EXPECT_EQ(s.add_flow(Flow("test")), kPath);
  EXPECT_EQ(error_of<ferry::ValueError>([&] { s.add_flow(Flow("test")); }),
            "Name conflict: Flow with the name \"test\" is already present in this storage.");
  Value d = s.serialize();
  EXPECT_EQ(d["repo"], "flows");
  EXPECT_EQ(d["path"], kPath);
  EXPECT_EQ(d["commit"], "dev");
  EXPECT_EQ(d["client_options"], Value({{"region_name", "eu-west-1"}}));
  EXPECT_EQ(d["secrets"], Value::array({"AWS_CREDENTIALS"}));
  EXPECT_FALSE(has(d.dump(), "never-stored-secret"));
  EXPECT_FALSE(has(d.dump(), "AKIDSTORED"));
  Storage back = Storage::deserialize(d);
  EXPECT_EQ(back.serialize(), d);
  EXPECT_TRUE(CodeCommit({.repo = "r", .path = "p.cpp"}).serialize()["commit"].is_null());
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { CodeCommit({.path = "p.cpp"}); }), "`repo`"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>(
                      [] { CodeCommit({.repo = "r", .path = "p.cpp", .client_options = "x"}); }),
                  "client_options"));
}

TEST(CodeCommitStorageAgainstFake, GetFileIsSignedAndTheCommitPinned) {
  Env env;
  CodeCommitFake fake(kKeyId, kSecret);
  fake.repos.create("flows", "main");
  std::string main = fake.repos.push("flows", "main", kPath, forge_flow_source());
  std::string dev = fake.repos.push("flows", "dev", kPath, forge_flow_source("second-word"));

  CodeCommit by_default({.repo = "flows", .path = kPath, .client_options = options_for(fake)});
  by_default.add_flow(Flow("test"));
  Flow flow = by_default.get_flow("test");
  EXPECT_EQ(flow.name(), "test");
  EXPECT_EQ(run_result(flow), "first-word");
  EXPECT_EQ(by_default.impl()->fetched_pin("test"), Value({{"commit", main}}));
  auto r = fake.server.requests().back();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/");
  EXPECT_EQ(r.header("X-Amz-Target"), "CodeCommit_20150413.GetFile");
  EXPECT_EQ(r.header("Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(Value::parse(r.body), Value({{"repositoryName", "flows"}, {"filePath", kPath}}))
      << "no commitSpecifier: the default branch";
  EXPECT_TRUE(has(r.header("Authorization"), "Credential=AKIDFAKE/" +
                                                 r.header("X-Amz-Date").substr(0, 8) +
                                                 "/us-east-1/codecommit/aws4_request"));

  CodeCommit on_branch({.repo = "flows",
                        .path = kPath,
                        .commit = "refs/heads/dev",
                        .client_options = options_for(fake)});
  on_branch.add_flow(Flow("extra"));
  EXPECT_EQ(run_result(on_branch.get_flow("extra")), "second-word");
  EXPECT_EQ(on_branch.impl()->fetched_pin("extra"), Value({{"commit", dev}}));
  EXPECT_EQ(Value::parse(fake.server.requests().back().body)["commitSpecifier"], "refs/heads/dev");
}

TEST(CodeCommitStorageAgainstFake, CredentialsFromTheSecretWithASessionTokenAndRegionFromEnv) {
  Env env;
  CodeCommitFake fake(kKeyId, kSecret, "eu-west-1", "SESSION-TOKEN");
  fake.repos.push("flows", "main", kPath, forge_flow_source());
  ScopedEnv creds(
      "AWS_CREDENTIALS",
      R"({"ACCESS_KEY": "AKIDFAKE", "SECRET_ACCESS_KEY": "fake/secret+KEY", "SESSION_TOKEN": "SESSION-TOKEN"})");
  ScopedEnv region("AWS_REGION", "eu-west-1");
  ScopedEnv endpoint("AWS_ENDPOINT_URL", fake.endpoint_url().c_str());
  CodeCommit s({.repo = "flows", .path = kPath});
  s.add_flow(Flow("test"));
  EXPECT_EQ(s.get_flow("test").name(), "test");
  EXPECT_EQ(fake.server.requests().back().header("X-Amz-Security-Token"), "SESSION-TOKEN");
}

TEST(CodeCommitStorageAgainstFake, ErrorsLogTheReferenceLineAndNameTheAwsError) {
  Env env;
  CodeCommitFake fake(kKeyId, kSecret);
  fake.repos.push("flows", "main", kPath, forge_flow_source());
  auto fails = [&](const std::string& repo, const std::string& path, const char* secret) {
    CodeCommit s({.repo = repo, .path = path, .client_options = options_for(fake, secret)});
    s.add_flow(Flow("test"));
    testing::internal::CaptureStderr();
    std::string e = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
    std::string logs = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(has(logs, "Error retrieving file contents from " + path + " on repo " + repo +
                              ". Ensure the file exists."))
        << logs;
    return e;
  };
  std::string missing = fails("flows", "flows/missing.cpp", kSecret);
  EXPECT_TRUE(has(missing,
                  "Error retrieving file contents from flows/missing.cpp on repo flows. "
                  "Ensure the file exists."))
      << missing;
  EXPECT_TRUE(has(missing, "HTTP 400")) << missing;
  EXPECT_TRUE(has(missing, "FileDoesNotExistException")) << missing;
  EXPECT_TRUE(has(fails("nope", kPath, kSecret), "RepositoryDoesNotExistException"));
  std::string bad_signature = fails("flows", kPath, "wrong-secret-value");
  EXPECT_TRUE(has(bad_signature, "HTTP 403")) << bad_signature;
  EXPECT_TRUE(has(bad_signature, "InvalidSignatureException")) << bad_signature;
  EXPECT_FALSE(has(bad_signature, "wrong-secret-value"));

  CodeCommit no_region(
      {.repo = "flows",
       .path = kPath,
       .client_options = {{"aws_access_key_id", kKeyId}, {"aws_secret_access_key", kSecret}}});
  no_region.add_flow(Flow("test"));
  testing::internal::CaptureStderr();
  std::string e = error_of<ferry::FlowStorageError>([&] { no_region.get_flow("test"); });
  testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(e, "No AWS region")) << e;
}
