// End-to-end: a flow whose storage is GitHub, GitLab, Bitbucket (Server and Cloud) or
// CodeCommit, served by that forge's fake in this process (no forge can run here). Register
// it, run it through the local agent, push an edit of the task's body, run again without
// re-registering and see the new behaviour; each run records the commit it used, and the
// token is nowhere in the database or the commands' output.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/forge_fakes.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::fixture;
using ferry::test::forge_flow_source;
using ferry::test::GitHubFake;
using ferry::test::Home;
using ferry::test::read_text;

const char kToken[] = "ghp_e2e_token_never_stored";
const char kRepo[] = "acme/flows";
const char kPath[] = "flows/github_flow.cpp";
const char kFixture[] = "forge/github_flow.cpp";

// Every byte the backend wrote (database and its WAL).
std::string database_bytes(const Home& home) {
  std::string all;
  for (const char* name : {"ferry.db", "ferry.db-wal"}) {
    if (fs::exists(home.path() / name)) all += read_text(home.path() / name);
  }
  return all;
}

}  // namespace

TEST(ForgeStorageE2E, GitHubFlowRunsEditsWithoutReRegisteringAndPinsEachCommit) {
  GitHubFake fake(kToken);
  fake.repos.create(kRepo, "main");
  std::string first =
      fake.repos.push(kRepo, "main", kPath, forge_flow_source("first-word", kFixture));
  Home home(
      {"FERRY_TEST_GITHUB_API=" + fake.base_url(), std::string("FORGE_GITHUB_TOKEN=") + kToken});

  CommandResult reg = home.ferry({"register", "--path", fixture(kFixture).string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "Registered flow 'forge-github' version 1 (storage GitHub"))
      << reg.out;

  std::string id1 = home.create_run({"forge-github"});
  CommandResult agent1 = home.agent(1);
  ASSERT_EQ(agent1.exit_code, 0) << agent1.out << agent1.err;
  Value run1 = home.show(id1);
  EXPECT_EQ(run1["state"], "Success") << run1.dump(2) << agent1.err;
  EXPECT_EQ(run1["result"], "first-word") << run1.dump(2);
  EXPECT_EQ(run1["pinned"]["storage"], "GitHub") << run1["pinned"].dump();
  EXPECT_EQ(run1["pinned"]["commit"], first) << run1["pinned"].dump();
  EXPECT_EQ(run1["pinned"]["ref"], "main") << run1["pinned"].dump();

  // An edit of the task's body is pushed; the next run picks it up at the new commit.
  std::string second =
      fake.repos.push(kRepo, "main", kPath, forge_flow_source("second-word", kFixture));
  std::string id2 = home.create_run({"forge-github"});
  CommandResult agent2 = home.agent(1);
  ASSERT_EQ(agent2.exit_code, 0) << agent2.out << agent2.err;
  Value run2 = home.show(id2);
  EXPECT_EQ(run2["state"], "Success") << run2.dump(2) << agent2.err;
  EXPECT_EQ(run2["result"], "second-word") << run2.dump(2);
  EXPECT_EQ(run2["pinned"]["commit"], second) << run2["pinned"].dump();
  EXPECT_EQ(run2["pinned"]["flow_version"], 1) << "not re-registered";
  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0]["version"], 1);

  // Every contents request read a pinned commit, with the token as a bearer.
  for (const auto& r : fake.server.requests()) {
    if (r.path.find("/contents/") != std::string::npos)
      EXPECT_TRUE(r.param("ref") == first || r.param("ref") == second) << r.target;
    EXPECT_EQ(r.header("Authorization"), std::string("Bearer ") + kToken);
  }
  std::string everything = database_bytes(home) + reg.out + reg.err + agent1.out + agent1.err +
                           agent2.out + agent2.err + run1.dump() + run2.dump();
  EXPECT_FALSE(contains(everything, kToken)) << "the token leaked";
  EXPECT_TRUE(contains(database_bytes(home), "FORGE_GITHUB_TOKEN")) << "the secret's name is kept";
}

// ---- the same steps against every single-file storage ---------------------------------

namespace {

using ferry::test::BitbucketCloudFake;
using ferry::test::BitbucketServerFake;
using ferry::test::CodeCommitFake;
using ferry::test::GitLabFake;

const char kAnyFixture[] = "forge/any_forge_flow.cpp";
const char kAnyPath[] = "flows/any_forge_flow.cpp";
const char kSecret[] = "forge-e2e-secret-never-stored";

// One forge's fake, as the test drives it.
struct ForgeServer {
  virtual ~ForgeServer() = default;
  virtual std::string url() const = 0;
  // Commits the flow source returning `word` on the default branch; returns the commit.
  virtual std::string push(const std::string& word) = 0;
  // The secrets the flow's storage reads, as environment entries.
  virtual std::vector<std::string> secrets() const {
    return {std::string("FORGE_TOKEN=") + kSecret};
  }
};

template <class Fake>
struct Served : ForgeServer {
  Fake fake;
  std::string repo;
  template <class... Args>
  Served(std::string r, Args&&... args) : fake(std::forward<Args>(args)...), repo(std::move(r)) {
    fake.repos.create(repo, "main");
  }
  std::string push(const std::string& word) override {
    return fake.repos.push(repo, "main", kAnyPath, forge_flow_source(word, kAnyFixture));
  }
};

struct GitHubServer : Served<GitHubFake> {
  GitHubServer() : Served("acme/flows", kSecret) {}
  std::string url() const override { return fake.base_url(); }
};
struct GitLabServer : Served<GitLabFake> {
  GitLabServer() : Served("acme/flows", kSecret) {}
  std::string url() const override { return fake.host_url(); }
};
struct BitbucketServerServer : Served<BitbucketServerFake> {
  BitbucketServerServer() : Served("ACME/flows", kSecret) {}
  std::string url() const override { return fake.host_url(); }
};
struct BitbucketCloudServer : Served<BitbucketCloudFake> {
  BitbucketCloudServer() : Served("acme/flows", "acme-user", kSecret) {}
  std::string url() const override { return fake.api_url(); }
  std::vector<std::string> secrets() const override {
    return {"FORGE_USER=acme-user", std::string("FORGE_TOKEN=") + kSecret};
  }
};
struct CodeCommitServer : Served<CodeCommitFake> {
  CodeCommitServer() : Served("flows", "AKIDFERRYE2E", kSecret) {}
  std::string url() const override { return fake.endpoint_url(); }
  std::vector<std::string> secrets() const override {
    return {"AWS_ACCESS_KEY_ID=AKIDFERRYE2E", std::string("AWS_SECRET_ACCESS_KEY=") + kSecret};
  }
};

struct ForgeCase {
  std::string forge;         // FERRY_TEST_FORGE
  std::string storage_type;  // what the run's pin names
  std::unique_ptr<ForgeServer> (*start)();
};

template <class Server>
std::unique_ptr<ForgeServer> start() {
  return std::make_unique<Server>();
}

class ForgeStorageFake : public ::testing::TestWithParam<ForgeCase> {};

TEST_P(ForgeStorageFake, RunsPickUpPushedEditsWithoutReRegisteringAndPinTheCommit) {
  const ForgeCase& c = GetParam();
  std::unique_ptr<ForgeServer> server = c.start();
  std::string first = server->push("first-word");
  std::vector<std::string> env = server->secrets();
  env.push_back("FERRY_TEST_FORGE=" + c.forge);
  env.push_back("FERRY_TEST_FORGE_URL=" + server->url());
  Home home(env);

  CommandResult reg = home.ferry({"register", "--path", fixture(kAnyFixture).string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out, "(storage " + c.storage_type)) << reg.out;

  std::string id1 = home.create_run({"forge-flow"});
  CommandResult agent1 = home.agent(1);
  Value run1 = home.show(id1);
  ASSERT_EQ(run1["state"], "Success") << run1.dump(2) << agent1.err;
  EXPECT_EQ(run1["result"], "first-word");
  EXPECT_EQ(run1["pinned"]["storage"], c.storage_type) << run1["pinned"].dump();
  EXPECT_EQ(run1["pinned"]["commit"], first) << run1["pinned"].dump();

  std::string second = server->push("second-word");
  std::string id2 = home.create_run({"forge-flow"});
  CommandResult agent2 = home.agent(1);
  Value run2 = home.show(id2);
  ASSERT_EQ(run2["state"], "Success") << run2.dump(2) << agent2.err;
  EXPECT_EQ(run2["result"], "second-word");
  EXPECT_EQ(run2["pinned"]["commit"], second) << run2["pinned"].dump();
  EXPECT_EQ(run2["pinned"]["flow_version"], 1) << "not re-registered";

  std::string everything = database_bytes(home) + reg.out + reg.err + agent1.out + agent1.err +
                           agent2.out + agent2.err + run1.dump() + run2.dump();
  EXPECT_FALSE(contains(everything, kSecret)) << "the secret leaked";
}

INSTANTIATE_TEST_SUITE_P(
    Forges, ForgeStorageFake,
    ::testing::Values(ForgeCase{"github", "GitHub", start<GitHubServer>},
                      ForgeCase{"gitlab", "GitLab", start<GitLabServer>},
                      ForgeCase{"bitbucket", "Bitbucket", start<BitbucketServerServer>},
                      ForgeCase{"bitbucket-cloud", "Bitbucket", start<BitbucketCloudServer>},
                      ForgeCase{"codecommit", "CodeCommit", start<CodeCommitServer>}),
    [](const ::testing::TestParamInfo<ForgeCase>& info) {
      std::string name;
      for (char ch : info.param.forge) name += ch == '-' ? '_' : ch;
      return name;
    });

}  // namespace
