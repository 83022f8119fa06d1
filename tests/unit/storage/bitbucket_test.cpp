// Bitbucket storage (reference §2.9, cases 81-82) against BitbucketServerFake and
// BitbucketCloudFake: validation, Server bearer tokens (named secret, BITBUCKET_ACCESS_TOKEN),
// Cloud app passwords, ref -> commit resolution (Cloud: branches then tags, every page, 429
// retried), the reference's error texts, flow by name.
#include <gtest/gtest.h>

#include <string>

#include "ferry/ferry.hpp"
#include "ferry/storage/bitbucket.hpp"
#include "support/forge_fakes.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::Bitbucket;
using ferry::storage::Storage;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::run_result;
using ferry::storage_test::ScopedEnv;
using ferry::storage_test::share_module_cache;
using ferry::test::BitbucketCloudFake;
using ferry::test::BitbucketServerFake;
using ferry::test::forge_flow_source;
using ferry::test::ScopedFerryHome;

const char* const kPath = "flows/flow.cpp";

struct Env {
  ScopedFerryHome home;
  ScopedEnv no_token{"BITBUCKET_ACCESS_TOKEN", nullptr};
  ScopedEnv no_user{"BITBUCKET_CLOUD_USERNAME", nullptr};
  ScopedEnv no_password{"BITBUCKET_CLOUD_APP_PASSWORD", nullptr};
  Env() { share_module_cache(home.path()); }
};

}  // namespace

TEST(BitbucketStorageAgainstFake, ValidationAndDescriptorRoundTripWithoutSecrets) {
  EXPECT_EQ(error_of<ferry::ValueError>([] {
              Bitbucket({.project = "P",
                         .repo = "r",
                         .workspace = "ws",
                         .path = kPath,
                         .access_token_secret = "TOKEN"});
            }),
            "`access_token_secret` and `workspace` are both set. Setting `workspace` is only for "
            "use with Bitbucket Cloud which uses `cloud_username_secret` and "
            "`cloud_app_password_secret` to provide authentication.");
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { Bitbucket({.repo = "r", .path = kPath}); }),
                  "`project`"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { Bitbucket({.project = "P", .path = kPath}); }),
                  "`repo`"));

  ScopedEnv pw("BB_PASSWORD", "app-password-value");
  Bitbucket cloud({.project = "P",
                   .repo = "r",
                   .workspace = "ws",
                   .path = kPath,
                   .ref = "dev",
                   .cloud_username_secret = "BB_USER",
                   .cloud_app_password_secret = "BB_PASSWORD"});
  EXPECT_TRUE(cloud.cloud());
  EXPECT_EQ(cloud.add_flow(Flow("test")), kPath);
  EXPECT_EQ(error_of<ferry::ValueError>([&] { cloud.add_flow(Flow("test")); }),
            "Name conflict: Flow with the name \"test\" is already present in this storage.");
  Value d = cloud.serialize();
  EXPECT_EQ(d["type"], "Bitbucket");
  EXPECT_EQ(d["project"], "P");
  EXPECT_EQ(d["workspace"], "ws");
  EXPECT_TRUE(d["host"].is_null());
  EXPECT_TRUE(d["access_token_secret"].is_null());
  EXPECT_EQ(d["cloud_username_secret"], "BB_USER");
  EXPECT_EQ(d["cloud_app_password_secret"], "BB_PASSWORD");
  EXPECT_FALSE(has(d.dump(), "app-password-value"));
  EXPECT_EQ(Storage::deserialize(d).serialize(), d);
  Bitbucket server({.project = "P", .repo = "r", .path = kPath});
  EXPECT_FALSE(server.cloud());
  EXPECT_TRUE(server.serialize()["workspace"].is_null());
}

TEST(BitbucketStorageAgainstFake, ServerResolvesTheRefToACommitAndReadsTheRawFileWithABearer) {
  Env env;
  BitbucketServerFake fake("TEST-VAL");
  fake.repos.create("PROJ/flows", "main");
  fake.repos.push("PROJ/flows", "main", kPath, forge_flow_source("second-word"));
  std::string dev = fake.repos.push("PROJ/flows", "dev", kPath, forge_flow_source());
  {  // named secret, given ref
    ScopedEnv secret("TEST", "TEST-VAL");
    Bitbucket s({.project = "PROJ",
                 .repo = "flows",
                 .host = fake.host_url(),
                 .path = kPath,
                 .ref = "dev",
                 .access_token_secret = "TEST"});
    s.add_flow(Flow("test"));
    Flow flow = s.get_flow("test");
    EXPECT_EQ(run_result(flow), "first-word");
    EXPECT_EQ(s.impl()->fetched_pin("test"), Value({{"commit", dev}, {"ref", "dev"}}));
    auto requests = fake.server.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].path, "/rest/api/1.0/projects/PROJ/repos/flows/commits");
    EXPECT_EQ(requests[0].param("until"), "dev");
    EXPECT_EQ(requests[1].path, "/rest/api/1.0/projects/PROJ/repos/flows/raw/flows/flow.cpp");
    EXPECT_EQ(requests[1].param("at"), dev) << "read at the resolved commit";
    EXPECT_EQ(requests[1].header("Authorization"), "Bearer TEST-VAL");
  }
  {  // BITBUCKET_ACCESS_TOKEN, default branch, flow picked by name
    ScopedEnv token("BITBUCKET_ACCESS_TOKEN", "TEST-VAL");
    Bitbucket s({.project = "PROJ", .repo = "flows", .host = fake.host_url(), .path = kPath});
    s.add_flow(Flow("extra"));
    Flow flow = s.get_flow("extra");
    EXPECT_EQ(flow.name(), "extra");
    EXPECT_EQ(run_result(flow), "second-word");
  }
  {  // a missing named secret
    Bitbucket s({.project = "PROJ",
                 .repo = "flows",
                 .host = fake.host_url(),
                 .path = kPath,
                 .access_token_secret = "MISSING_BB_SECRET"});
    s.add_flow(Flow("test"));
    EXPECT_TRUE(has(error_of<ferry::ValueError>([&] { s.get_flow("test"); }), "MISSING_BB_SECRET"));
  }
}

TEST(BitbucketStorageAgainstFake, ServerErrorsAreTheReferenceTexts) {
  Env env;
  BitbucketServerFake fake("TEST-VAL");
  fake.repos.push("PROJ/flows", "main", kPath, forge_flow_source());
  auto fails = [&](ferry::storage::BitbucketOptions o, const char* token) {
    ScopedEnv t("BITBUCKET_ACCESS_TOKEN", token);
    o.host = fake.host_url();
    Bitbucket s(o);
    s.add_flow(Flow("test"));
    testing::internal::CaptureStderr();
    std::string e = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
    std::string logs = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(has(e + logs, "bb-wrong-token"));
    return e + "\n" + logs;
  };
  std::string denied = fails({.project = "PROJ", .repo = "flows", .path = kPath}, "bb-wrong-token");
  EXPECT_TRUE(has(denied, "Access denied to repository. Please check credentials. (HTTP 401"))
      << denied;
  std::string no_repo = fails({.project = "PROJ", .repo = "nope", .path = kPath}, "TEST-VAL");
  EXPECT_TRUE(
      has(no_repo, "Invalid address. Check that host, project, and repository are correct."))
      << no_repo;
  EXPECT_TRUE(has(no_repo, "Repository PROJ/nope does not exist.")) << no_repo;
  std::string no_file =
      fails({.project = "PROJ", .repo = "flows", .path = "flows/missing.cpp"}, "TEST-VAL");
  EXPECT_TRUE(has(no_file, "The path \"flows/missing.cpp\" does not exist")) << no_file;
}

TEST(BitbucketStorageAgainstFake, CloudFindsBranchesAndTagsOnLaterPagesAndRetries429) {
  Env env;
  BitbucketCloudFake fake("ada", "app-pass", /*page_size=*/2);
  ScopedEnv user("BITBUCKET_CLOUD_USERNAME", "ada");
  ScopedEnv password("BB_APP_PASSWORD", "app-pass");
  const std::string repo = "acme/flows";
  fake.repos.create(repo, "main");
  std::string main = fake.repos.push(repo, "main", kPath, forge_flow_source());
  for (const char* b : {"a1", "a2", "a3", "a4"}) fake.repos.push(repo, b, "x.txt", b);
  std::string zdev = fake.repos.push(repo, "zz-dev", kPath, forge_flow_source("second-word"));
  for (const char* t : {"t1", "t2", "t3"}) fake.repos.tag(repo, t, main);
  fake.repos.tag(repo, "v9", zdev);

  auto storage = [&](const std::string& ref) {
    Bitbucket s({.project = "PROJ",
                 .repo = "flows",
                 .workspace = "acme",
                 .host = fake.api_url(),
                 .path = kPath,
                 .ref = ref,
                 .cloud_app_password_secret = "BB_APP_PASSWORD"});
    s.add_flow(Flow("test"));
    return s;
  };
  {  // a branch on the third page (a1, a2 | a3, a4 | main, zz-dev)
    Bitbucket s = storage("zz-dev");
    fake.server.fail_next(2, 429);
    EXPECT_EQ(run_result(s.get_flow("test")), "second-word");
    EXPECT_EQ(s.impl()->fetched_pin("test"), Value({{"commit", zdev}, {"ref", "zz-dev"}}));
    auto requests = fake.server.requests();
    EXPECT_EQ(requests.back().path, "/2.0/repositories/acme/flows/src/" + zdev + "/flows/flow.cpp");
    EXPECT_EQ(requests.back().header("Authorization"),
              "Basic " + std::string("YWRhOmFwcC1wYXNz"));  // base64("ada:app-pass")
  }
  {  // a tag on the second page of tags, after every branch page
    Bitbucket s = storage("v9");
    EXPECT_EQ(run_result(s.get_flow("test")), "second-word");
  }
  {  // a 40-hex ref is used as it is; no ref: the main branch
    fake.server.clear_requests();
    Bitbucket s = storage(main);
    EXPECT_EQ(run_result(s.get_flow("test")), "first-word");
    EXPECT_EQ(fake.server.requests().size(), 1u);
    Bitbucket d = storage("");
    EXPECT_EQ(d.impl()->get_flow("test").name(), "test");
    EXPECT_EQ(d.impl()->fetched_pin("test")["ref"], "main");
  }
  {  // an unknown ref
    Bitbucket s = storage("nope");
    EXPECT_EQ(error_of<ferry::ValueError>([&] { s.get_flow("test"); }),
              "ref 'nope' not found in 'acme/flows'");
  }
}

TEST(BitbucketStorageAgainstFake, CloudErrorsAreTheReferenceTexts) {
  Env env;
  BitbucketCloudFake fake("ada", "app-pass");
  fake.repos.push("acme/flows", "main", kPath, forge_flow_source());
  std::string sha = *fake.repos.resolve("acme/flows", "main");
  auto fails = [&](const std::string& path, const char* password) {
    ScopedEnv user("BITBUCKET_CLOUD_USERNAME", "ada");
    ScopedEnv pw("BITBUCKET_CLOUD_APP_PASSWORD", password);
    Bitbucket s({.project = "PROJ",
                 .repo = "flows",
                 .workspace = "acme",
                 .host = fake.api_url(),
                 .path = path,
                 .ref = sha});
    s.add_flow(Flow("test"));
    testing::internal::CaptureStderr();
    std::string e = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
    std::string logs = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(has(e + logs, "wrong-app-pass"));
    return e;
  };
  EXPECT_TRUE(has(fails(kPath, "wrong-app-pass"),
                  "Access denied to repository. Please check credentials."));
  std::string missing = fails("flows/missing.cpp", "app-pass");
  EXPECT_TRUE(has(missing,
                  "Error retrieving contents at flows/missing.cpp in "
                  "acme/PROJ/flows@" +
                      sha + ". Please check arguments passed to Bitbucket storage."))
      << missing;
}
