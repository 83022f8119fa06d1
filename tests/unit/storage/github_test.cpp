// GitHub storage (reference §2.7, cases 76-79) against GitHubFake: options and descriptor,
// tokens (named secret, GITHUB_ACCESS_TOKEN, missing), ref -> commit SHA pinning, the
// reference's log lines and its three not-found messages, picking the flow by name.
#include <gtest/gtest.h>

#include <string>

#include "ferry/ferry.hpp"
#include "ferry/storage/github.hpp"
#include "support/forge_fakes.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::GitHub;
using ferry::storage::Storage;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::run_result;
using ferry::storage_test::ScopedEnv;
using ferry::storage_test::share_module_cache;
using ferry::test::forge_flow_source;
using ferry::test::GitHubFake;
using ferry::test::ScopedFerryHome;

const char* const kRepo = "acme/flows";
const char* const kPath = "flows/flow.cpp";

// A fresh FERRY_HOME sharing the compiled-module cache, and no ambient GitHub token.
struct Env {
  ScopedFerryHome home;
  ScopedEnv no_token{"GITHUB_ACCESS_TOKEN", nullptr};
  Env() { share_module_cache(home.path()); }
};

GitHub storage_for(const GitHubFake& fake, ferry::storage::GitHubOptions o = {}) {
  if (o.repo.empty()) o.repo = kRepo;
  if (o.path.empty()) o.path = kPath;
  o.base_url = fake.base_url();
  return GitHub(o);
}

}  // namespace

TEST(GitHubStorageAgainstFake, OptionsAndDescriptorRoundTripWithoutTokens) {
  GitHub plain({.repo = "test/repo", .path = "flow.cpp"});
  EXPECT_EQ(plain.type(), "GitHub");
  EXPECT_TRUE(plain.stored_as_script());
  EXPECT_TRUE(plain.default_labels().empty());
  EXPECT_FALSE(plain.default_result());
  EXPECT_EQ(plain.api_url(), "https://api.github.com");
  Value d = plain.serialize();
  EXPECT_EQ(d["type"], "GitHub");
  EXPECT_EQ(d["repo"], "test/repo");
  EXPECT_EQ(d["path"], "flow.cpp");
  EXPECT_TRUE(d["ref"].is_null());
  EXPECT_TRUE(d["access_token_secret"].is_null());
  EXPECT_TRUE(d["base_url"].is_null());
  EXPECT_EQ(d["secrets"], Value::array());

  ScopedEnv token("MY_TOKEN", "ghp_do_not_store_me");
  GitHub full({.repo = "test/repo",
               .path = "flow.cpp",
               .ref = "dev",
               .access_token_secret = "MY_TOKEN",
               .base_url = "https://ghe.example/api/v3",
               .secrets = {"OTHER"}});
  full.add_flow(Flow("test"));
  Value f = full.serialize();
  EXPECT_EQ(f["ref"], "dev");
  EXPECT_EQ(f["access_token_secret"], "MY_TOKEN");
  EXPECT_EQ(f["base_url"], "https://ghe.example/api/v3");
  EXPECT_EQ(f["flows"], Value({{"test", "flow.cpp"}}));
  EXPECT_EQ(f["secrets"], Value::array({"OTHER"}));
  EXPECT_FALSE(has(f.dump(), "ghp_do_not_store_me"));

  Storage back = Storage::deserialize(f);
  EXPECT_EQ(back.type(), "GitHub");
  EXPECT_EQ(back.serialize(), f);
  EXPECT_TRUE(back.contains("test"));
}

TEST(GitHubStorageAgainstFake, RepoAndPathAreRequired) {
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { GitHub({.path = "flow.cpp"}); }), "`repo`"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { GitHub({.repo = "a/b"}); }), "`path`"));
}

TEST(GitHubStorageAgainstFake, AddFlowReturnsPathAndRefusesADuplicateName) {
  GitHub s({.repo = kRepo, .path = kPath});
  EXPECT_EQ(s.add_flow(Flow("test")), kPath);
  EXPECT_TRUE(s.contains("test"));
  EXPECT_FALSE(s.contains("other"));
  EXPECT_EQ(error_of<ferry::ValueError>([&] { s.add_flow(Flow("test")); }),
            "Name conflict: Flow with the name \"test\" is already present in this storage.");
  EXPECT_EQ(error_of<ferry::ValueError>([&] { s.get_flow("other"); }),
            "Flow is not contained in this storage");
}

TEST(GitHubStorageAgainstFake, DefaultBranchIsResolvedToACommitThatIsFetchedAndPinned) {
  Env env;
  GitHubFake fake;
  fake.repos.create(kRepo, "trunk");
  std::string sha = fake.repos.push(kRepo, "trunk", kPath, forge_flow_source());
  GitHub s = storage_for(fake);
  s.add_flow(Flow("test"));

  testing::internal::CaptureStderr();
  Flow flow = s.get_flow("test");
  std::string logs = testing::internal::GetCapturedStderr();
  EXPECT_EQ(flow.name(), "test");  // the file defines "extra" first
  EXPECT_EQ(run_result(flow), "first-word");
  EXPECT_EQ(s.impl()->fetched_pin("test"), Value({{"commit", sha}, {"ref", "trunk"}}));
  EXPECT_TRUE(has(logs,
                  "Downloading flow from GitHub storage - repo: 'acme/flows', path: "
                  "'flows/flow.cpp'\n"))
      << logs;
  EXPECT_TRUE(has(logs, "Flow successfully downloaded. Using commit: " + sha)) << logs;

  auto requests = fake.server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/repos/acme/flows");
  EXPECT_EQ(requests[1].target, "/repos/acme/flows/commits/trunk");
  EXPECT_EQ(requests[2].path, "/repos/acme/flows/contents/flows/flow.cpp");
  EXPECT_EQ(requests[2].param("ref"), sha) << "the file is read at the resolved commit";
  EXPECT_EQ(requests[2].header("User-Agent"), "ferry");
  EXPECT_FALSE(requests[2].has_header("Authorization")) << "anonymous without a token";
}

TEST(GitHubStorageAgainstFake, AGivenRefIsLoggedAndPinnedAndAnEditIsPickedUpAtTheNewCommit) {
  Env env;
  GitHubFake fake;
  fake.repos.create(kRepo);
  fake.repos.push(kRepo, "main", kPath, forge_flow_source("second-word"));
  std::string first = fake.repos.push(kRepo, "dev", kPath, forge_flow_source());
  fake.repos.tag(kRepo, "v1", first);
  GitHub s = storage_for(fake, {.ref = "dev"});
  s.add_flow(Flow("test"));
  testing::internal::CaptureStderr();
  Flow flow = s.get_flow("test");
  std::string logs = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(logs, "path: 'flows/flow.cpp', ref: 'dev'")) << logs;
  EXPECT_EQ(run_result(flow), "first-word");
  EXPECT_EQ(s.impl()->fetched_pin("test")["commit"], first);

  // The branch moves on: a storage loaded from the same descriptor gets the new commit; the
  // tag still names the old one.
  std::string second = fake.repos.push(kRepo, "dev", kPath, forge_flow_source("second-word"));
  Storage again = Storage::deserialize(s.serialize());
  EXPECT_EQ(run_result(again.get_flow("test")), "second-word");
  EXPECT_EQ(again.impl()->fetched_pin("test")["commit"], second);
  GitHub tagged = storage_for(fake, {.ref = "v1"});
  tagged.add_flow(Flow("test"));
  EXPECT_EQ(run_result(tagged.get_flow("test")), "first-word");
  EXPECT_EQ(tagged.impl()->fetched_pin("test"), Value({{"commit", first}, {"ref", "v1"}}));
}

TEST(GitHubStorageAgainstFake, FilesOverTheBase64LimitAreFetchedRawAtTheSameCommit) {
  Env env;
  GitHubFake fake;
  fake.base64_limit = 10;
  std::string sha = fake.repos.push(kRepo, "main", kPath, forge_flow_source());
  GitHub s = storage_for(fake);
  s.add_flow(Flow("test"));
  EXPECT_EQ(run_result(s.get_flow("test")), "first-word");
  auto requests = fake.server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[3].path, "/repos/acme/flows/contents/flows/flow.cpp");
  EXPECT_EQ(requests[3].param("ref"), sha);
  EXPECT_EQ(requests[3].header("Accept"), "application/vnd.github.raw+json");
}

TEST(GitHubStorageAgainstFake, FlowNameSelectsAmongTheFileFlows) {
  Env env;
  GitHubFake fake;
  fake.repos.push(kRepo, "main", kPath, forge_flow_source());
  GitHub s = storage_for(fake);
  s.add_flow(Flow("extra"));
  s.add_flow(Flow("ghost"));
  EXPECT_EQ(s.get_flow("extra").name(), "extra");
  EXPECT_EQ(error_of<ferry::ValueError>([&] { s.get_flow("ghost"); }),
            "Flow 'ghost' not found in file. Found flows:\n- 'extra'\n- 'test'");
}

TEST(GitHubStorageAgainstFake, MissingRepoRefAndFileGiveTheReferenceMessages) {
  Env env;
  GitHubFake fake;
  fake.repos.push(kRepo, "main", kPath, forge_flow_source());

  GitHub no_repo = storage_for(fake, {.repo = "acme/nope"});
  no_repo.add_flow(Flow("test"));
  testing::internal::CaptureStderr();
  std::string e1 = error_of<ferry::FlowStorageError>([&] { no_repo.get_flow("test"); });
  std::string log1 = testing::internal::GetCapturedStderr();
  const std::string repo_line =
      "Repo 'acme/nope' not found. Check that it exists (and is spelled correctly), and that "
      "you have configured the proper credentials for accessing it.";
  EXPECT_TRUE(has(e1, repo_line)) << e1;
  EXPECT_TRUE(has(e1, "HTTP 404")) << e1;
  EXPECT_TRUE(has(log1, repo_line)) << log1;

  GitHub no_ref = storage_for(fake, {.ref = "myref"});
  no_ref.add_flow(Flow("test"));
  testing::internal::CaptureStderr();
  std::string e2 = error_of<ferry::FlowStorageError>([&] { no_ref.get_flow("test"); });
  std::string log2 = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(e2, "Ref 'myref' not found in repo 'acme/flows'.")) << e2;
  EXPECT_TRUE(has(log2, "Ref 'myref' not found in repo 'acme/flows'.")) << log2;

  GitHub no_file = storage_for(fake, {.path = "flows/missing.cpp"});
  no_file.add_flow(Flow("test"));
  testing::internal::CaptureStderr();
  std::string e3 = error_of<ferry::FlowStorageError>([&] { no_file.get_flow("test"); });
  std::string log3 = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(e3, "File 'flows/missing.cpp' not found in repo 'acme/flows', ref 'main'")) << e3;
  EXPECT_TRUE(has(log3, "File 'flows/missing.cpp' not found in repo 'acme/flows', ref 'main'"));
}

TEST(GitHubStorageAgainstFake, NamedSecretThenGithubAccessTokenAndNeverATokenInAnError) {
  Env env;
  GitHubFake fake("TEST-VAL");
  fake.repos.push(kRepo, "main", kPath, forge_flow_source());

  {  // the named secret
    ScopedEnv secret("TEST", "TEST-VAL");
    GitHub s = storage_for(fake, {.access_token_secret = "TEST"});
    s.add_flow(Flow("test"));
    EXPECT_EQ(s.get_flow("test").name(), "test");
    EXPECT_EQ(fake.server.requests().back().header("Authorization"), "Bearer TEST-VAL");
  }
  {  // no name: GITHUB_ACCESS_TOKEN
    ScopedEnv token("GITHUB_ACCESS_TOKEN", "TEST-VAL");
    GitHub s = storage_for(fake);
    s.add_flow(Flow("test"));
    EXPECT_EQ(s.get_flow("test").name(), "test");
  }
  {  // a named secret that is missing: the error names it
    GitHub s = storage_for(fake, {.access_token_secret = "MISSING_GH_SECRET"});
    s.add_flow(Flow("test"));
    EXPECT_TRUE(has(error_of<ferry::ValueError>([&] { s.get_flow("test"); }), "MISSING_GH_SECRET"));
  }
  {  // a wrong token: 401, and the token is in neither the error nor the log
    ScopedEnv secret("TEST", "ghp_wrong_token_value");
    GitHub s = storage_for(fake, {.access_token_secret = "TEST"});
    s.add_flow(Flow("test"));
    testing::internal::CaptureStderr();
    std::string e = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
    std::string logs = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(has(e, "HTTP 401")) << e;
    EXPECT_FALSE(has(e, "ghp_wrong_token_value")) << e;
    EXPECT_FALSE(has(logs, "ghp_wrong_token_value")) << logs;
  }
}
