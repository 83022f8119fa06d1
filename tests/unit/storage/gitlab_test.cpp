// GitLab storage (reference §2.8, case 80) against GitLabFake: host default and custom,
// token from a named secret or GITLAB_ACCESS_TOKEN, the encoded project and file path, the
// default branch (the reference hard-coded master), commit pinning, errors, flow by name.
#include <gtest/gtest.h>

#include <string>

#include "ferry/ferry.hpp"
#include "ferry/storage/gitlab.hpp"
#include "support/forge_fakes.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Flow;
using ferry::Value;
using ferry::storage::GitLab;
using ferry::storage::Storage;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::run_result;
using ferry::storage_test::ScopedEnv;
using ferry::storage_test::share_module_cache;
using ferry::test::forge_flow_source;
using ferry::test::GitLabFake;
using ferry::test::ScopedFerryHome;

const char* const kRepo = "acme/tools/flows";  // a subgroup: two slashes to encode
const char* const kPath = "flows/flow.cpp";

struct Env {
  ScopedFerryHome home;
  ScopedEnv no_token{"GITLAB_ACCESS_TOKEN", nullptr};
  Env() { share_module_cache(home.path()); }
};

GitLab storage_for(const GitLabFake& fake, ferry::storage::GitLabOptions o = {}) {
  if (o.repo.empty()) o.repo = kRepo;
  if (o.path.empty()) o.path = kPath;
  o.host = fake.host_url();
  return GitLab(o);
}

}  // namespace

TEST(GitLabStorageAgainstFake, OptionsAndDescriptorRoundTripWithoutTokens) {
  GitLab plain({.repo = "test/repo", .path = "flow.cpp"});
  EXPECT_EQ(plain.type(), "GitLab");
  EXPECT_TRUE(plain.stored_as_script());
  EXPECT_EQ(plain.host_url(), "https://gitlab.com");
  Value d = plain.serialize();
  EXPECT_EQ(d["repo"], "test/repo");
  EXPECT_EQ(d["path"], "flow.cpp");
  EXPECT_TRUE(d["host"].is_null());
  EXPECT_TRUE(d["ref"].is_null());
  EXPECT_TRUE(d["access_token_secret"].is_null());

  ScopedEnv token("GL_TOKEN", "glpat-do-not-store");
  GitLab full({.repo = "12345",
               .host = "https://git.example",
               .path = "f.cpp",
               .ref = "dev",
               .access_token_secret = "GL_TOKEN"});
  EXPECT_EQ(full.host_url(), "https://git.example");
  EXPECT_EQ(full.add_flow(Flow("test")), "f.cpp");
  EXPECT_EQ(error_of<ferry::ValueError>([&] { full.add_flow(Flow("test")); }),
            "Name conflict: Flow with the name \"test\" is already present in this storage.");
  Value f = full.serialize();
  EXPECT_FALSE(has(f.dump(), "glpat-do-not-store"));
  Storage back = Storage::deserialize(f);
  EXPECT_EQ(back.serialize(), f);
  EXPECT_TRUE(back.contains("test"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { GitLab({.path = "x.cpp"}); }), "`repo`"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>([] { GitLab({.repo = "a/b"}); }), "`path`"));
}

TEST(GitLabStorageAgainstFake, DefaultBranchFileAtCommitIsPinnedAndTheProjectIsOneEncodedSegment) {
  Env env;
  GitLabFake fake("TEST-VAL");
  ScopedEnv token("GITLAB_ACCESS_TOKEN", "TEST-VAL");
  fake.repos.create(kRepo, "trunk");
  std::string first = fake.repos.push(kRepo, "trunk", kPath, forge_flow_source());
  std::string head = fake.repos.push(kRepo, "trunk", "README.md", "unrelated change");
  GitLab s = storage_for(fake);
  s.add_flow(Flow("test"));
  Flow flow = s.get_flow("test");
  EXPECT_EQ(flow.name(), "test");
  EXPECT_EQ(run_result(flow), "first-word");
  EXPECT_EQ(s.impl()->fetched_pin("test"),
            Value({{"commit", head}, {"last_commit", first}, {"ref", "trunk"}}));
  auto requests = fake.server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/api/v4/projects/acme%2Ftools%2Fflows");
  EXPECT_EQ(requests[1].target,
            "/api/v4/projects/acme%2Ftools%2Fflows/repository/files/flows%2Fflow.cpp?ref=trunk");
  EXPECT_EQ(requests[1].header("PRIVATE-TOKEN"), "TEST-VAL");
}

TEST(GitLabStorageAgainstFake, NumericProjectIdNamedSecretAndRef) {
  Env env;
  GitLabFake fake("TEST-VAL");
  ScopedEnv secret("TEST", "TEST-VAL");
  std::string dev = fake.repos.push(kRepo, "dev", kPath, forge_flow_source());
  int id = fake.project_id(kRepo);
  GitLab s =
      storage_for(fake, {.repo = std::to_string(id), .ref = "dev", .access_token_secret = "TEST"});
  s.add_flow(Flow("extra"));
  EXPECT_EQ(s.get_flow("extra").name(), "extra");
  EXPECT_EQ(s.impl()->fetched_pin("extra")["commit"], dev);
  EXPECT_EQ(fake.server.requests().size(), 1u) << "a given ref needs no project lookup";
  EXPECT_EQ(fake.server.requests()[0].param("ref"), "dev");

  GitLab missing = storage_for(fake, {.access_token_secret = "MISSING_GL_SECRET"});
  missing.add_flow(Flow("test"));
  EXPECT_TRUE(
      has(error_of<ferry::ValueError>([&] { missing.get_flow("test"); }), "MISSING_GL_SECRET"));
}

TEST(GitLabStorageAgainstFake, AuthAndMissingFileErrorsLogTheReferenceLinesWithoutTheToken) {
  Env env;
  GitLabFake fake("TEST-VAL");
  fake.repos.push(kRepo, "main", kPath, forge_flow_source());
  {
    ScopedEnv token("GITLAB_ACCESS_TOKEN", "glpat-wrong-value");
    GitLab s = storage_for(fake, {.ref = "main"});
    s.add_flow(Flow("test"));
    testing::internal::CaptureStderr();
    std::string e = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
    std::string logs = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(has(e, "Unable to authenticate GitLab account. Please check your credentials."))
        << e;
    EXPECT_TRUE(has(e, "HTTP 401")) << e;
    EXPECT_TRUE(has(logs, "Unable to authenticate GitLab account.")) << logs;
    EXPECT_FALSE(has(e + logs, "glpat-wrong-value"));
  }
  ScopedEnv token("GITLAB_ACCESS_TOKEN", "TEST-VAL");
  GitLab s = storage_for(fake, {.path = "flows/missing.cpp", .ref = "main"});
  s.add_flow(Flow("test"));
  testing::internal::CaptureStderr();
  std::string e = error_of<ferry::FlowStorageError>([&] { s.get_flow("test"); });
  std::string logs = testing::internal::GetCapturedStderr();
  const std::string line =
      "Error retrieving file contents at flows/missing.cpp in acme/tools/flows@main. Ensure the "
      "project and file exist.";
  EXPECT_TRUE(has(e, line)) << e;
  EXPECT_TRUE(has(e, "404 File Not Found")) << e;
  EXPECT_TRUE(has(logs, line)) << logs;
}
