// End-to-end: flows whose source lives in a git repository (Git storage), registered and run
// through the local agent as a user would, against real servers (git daemon, lighttpd + git
// http-backend; tests/support/git_servers.hpp). The repository's content comes from
// tests/fixtures/git/.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/git_servers.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::files_under;
using ferry::test::fixture;
using ferry::test::GitDaemon;
using ferry::test::GitHttpServer;
using ferry::test::Home;
using ferry::test::read_text;
using ferry::test::TempDir;
using ferry::test::TestRepo;

const std::string kToken = "e2e-tok-7d41c0a9b3";

std::string replaced(std::string text, const std::string& what, const std::string& with) {
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

// Runs one Scheduled run of `flow` with the agent; returns the run as `runs ls` lists it.
Value run_once(const Home& home, const std::vector<std::string>& args,
               const std::vector<std::string>& env, std::string* id_out = nullptr) {
  std::string id = home.create_run(args);
  EXPECT_FALSE(id.empty());
  CommandResult agent = home.agent(1, {}, env);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  if (id_out) *id_out = id;
  Value run = home.listed_run(id);
  if (run["state"] != "Success") ADD_FAILURE() << run.dump(2) << agent.out << agent.err;
  return run;
}

TEST(Git, RunsPickUpPushedChangesWithoutReRegisteringAndPinTheCommit) {
  TempDir srv;
  TestRepo repo(srv.path(), "flows");
  repo.write("flows/flow.cpp", read_text(fixture("git/flow.cpp")));
  repo.write("flows/greeting.hpp", read_text(fixture("git/greeting.hpp")));
  std::string first = repo.commit("first");
  GitDaemon daemon(srv.path());
  Home home;
  const std::vector<std::string> env = {"FERRY_TEST_GIT_URL=" + daemon.url("flows.git")};

  home.register_flow((repo.work() / "flows/flow.cpp").string(), {"-n", "git-hello"}, env);
  std::string id;
  Value run = run_once(home, {"git-hello", "--param", "name=Ada"}, env, &id);
  EXPECT_EQ(run["result"], "Hello, Ada!") << run.dump(2);
  Value pinned = home.show(id)["pinned"];
  EXPECT_EQ(pinned["storage"], "Git") << pinned.dump();
  EXPECT_EQ(pinned["commit"], first) << pinned.dump();
  EXPECT_EQ(pinned["repo"], daemon.url("flows.git")) << pinned.dump();

  // Someone pushes a change to the task's body; nobody registers again.
  repo.write("flows/flow.cpp",
             replaced(read_text(repo.work() / "flows/flow.cpp"), "\"Hello, \"", "\"Howdy, \""));
  std::string second = repo.commit("second");
  run = run_once(home, {"git-hello", "--param", "name=Ada"}, env, &id);
  EXPECT_EQ(run["result"], "Howdy, Ada!") << run.dump(2);
  EXPECT_EQ(home.show(id)["pinned"]["commit"], second);
  Value flows = home.flows();
  ASSERT_EQ(flows.size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0].value("version", 0), 1) << flows.dump(2);
}

// The same flow over ssh (a deploy key and known_hosts named in ssh_options) and over HTTPS
// with a certificate from a private CA (trusted through GIT_SSL_CAINFO on the agent).
TEST(Git, SshWithADeployKeyAndHttpsWithAPrivateCaRunThroughTheAgent) {
  TempDir srv;
  TestRepo repo(srv.path(), "flows");
  repo.write("flows/flow.cpp", read_text(fixture("git/flow.cpp")));
  repo.write("flows/greeting.hpp", read_text(fixture("git/greeting.hpp")));
  std::string sha = repo.commit("first");

  ferry::test::GitSshServer ssh;
  Home over_ssh;
  const std::vector<std::string> ssh_env = {
      "FERRY_TEST_GIT_URL=" + ssh.url(repo.bare()),
      "FERRY_TEST_GIT_SSH_KEY=" + ssh.identity_file().string(),
      "FERRY_TEST_GIT_KNOWN_HOSTS=" + ssh.known_hosts_file().string()};
  over_ssh.register_flow((repo.work() / "flows/flow.cpp").string(), {"-n", "git-hello"}, ssh_env);
  std::string id;
  Value run = run_once(over_ssh, {"git-hello", "--param", "name=Ada"}, ssh_env, &id);
  EXPECT_EQ(run["result"], "Hello, Ada!") << run.dump(2);
  EXPECT_EQ(over_ssh.show(id)["pinned"]["commit"], sha);

  GitHttpServer https(srv.path(), "org", kToken, /*tls=*/true);
  std::string url = https.url("flows.git");
  url.insert(url.find("://") + 3, "org:" + kToken + "@");  // a clone-URL secret with userinfo
  Home over_https;
  const std::vector<std::string> https_env = {"FERRY_TEST_GIT_URL=" + url,
                                              "GIT_SSL_CAINFO=" + https.ca_file().string()};
  over_https.register_flow((repo.work() / "flows/flow.cpp").string(), {"-n", "git-hello"},
                           https_env);
  run = run_once(over_https, {"git-hello", "--param", "name=Bo"}, https_env, &id);
  EXPECT_EQ(run["result"], "Hello, Bo!") << run.dump(2);
  Value pinned = over_https.show(id)["pinned"];
  EXPECT_EQ(pinned["commit"], sha);
  EXPECT_EQ(pinned["repo"], https.url("flows.git")) << "no userinfo in the record";
  for (const fs::path& f : files_under(over_https.path())) {
    EXPECT_FALSE(contains(read_text(f), kToken)) << "the token is in " << f;
  }
}

TEST(Git, TokenOverHttpIsNeverStoredLoggedOrShown) {
  TempDir srv;
  TestRepo repo(srv.path() / "org", "flows");
  GitHttpServer http(srv.path(), "org", kToken);
  repo.write("http_flow.cpp",
             replaced(read_text(fixture("git/http_flow.cpp")), "@HOST@", http.host()));
  std::string sha = repo.commit("http");
  Home home;
  const std::vector<std::string> env = {"FERRY_TEST_GIT_TOKEN=" + kToken};

  CommandResult reg =
      home.ferry({"register", "--path", (repo.work() / "http_flow.cpp").string()}, env);
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  EXPECT_FALSE(contains(reg.out + reg.err, kToken));
  std::string id;
  Value run = run_once(home, {"git-http"}, env, &id);
  EXPECT_EQ(run["result"], "over http") << run.dump(2);
  Value pinned = home.show(id)["pinned"];
  EXPECT_EQ(pinned["commit"], sha) << pinned.dump();
  EXPECT_EQ(pinned["repo"], http.url("org/flows.git")) << pinned.dump();

  // A wrong token on the agent: the run fails with an auth error that names the
  // repository, and holds neither token.
  std::string bad_id = home.create_run({"git-http"});
  CommandResult agent = home.agent(1, {}, {"FERRY_TEST_GIT_TOKEN=wrong-e2e-token-55"});
  Value failed = home.show(bad_id);
  EXPECT_EQ(failed["state"], "Failed") << failed.dump(2);
  std::string shown = failed.dump();
  EXPECT_TRUE(contains(shown, "authentication was refused")) << shown;
  EXPECT_TRUE(contains(shown, http.url("org/flows.git"))) << shown;
  EXPECT_FALSE(contains(shown + agent.out + agent.err, "wrong-e2e-token-55")) << shown;

  // Nowhere under FERRY_HOME (the database and its WAL included), in no command's output.
  for (const fs::path& f : files_under(home.path())) {
    EXPECT_FALSE(contains(read_text(f), kToken)) << "the token is in " << f;
    EXPECT_FALSE(contains(read_text(f), "wrong-e2e-token-55")) << "the token is in " << f;
  }
  for (const std::string& run_id : {id, bad_id}) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"runs", "show", run_id, "--json"},
                                               {"runs", "logs", run_id},
                                               {"flows", "ls", "--json"},
                                               {"runs", "ls", "--json"}}) {
      CommandResult r = home.ferry(args);
      EXPECT_FALSE(contains(r.out + r.err, kToken)) << r.out << r.err;
    }
  }
}

// The reference's "Loading Additional Files with Git Storage" example: flow.cpp reads
// person.txt beside it, in the checkout the agent made.
TEST(Git, FlowReadsASiblingFileOfTheCheckout) {
  TempDir srv;
  TestRepo repo(srv.path(), "hello");
  repo.write("flow.cpp", read_text(fixture("git/person/flow.cpp")));
  repo.write("person.txt", "Marvin\n");
  repo.commit("person");
  GitDaemon daemon(srv.path());
  Home home;
  const std::vector<std::string> env = {"FERRY_TEST_GIT_URL=" + daemon.url("hello.git")};
  home.register_flow((repo.work() / "flow.cpp").string(), {}, env);
  Value run = run_once(home, {"my-hello-flow"}, env);
  EXPECT_EQ(run["result"], "Hi Marvin") << run.dump(2);

  // The file in the repository, not the one on the registering machine, is what counts.
  repo.write("person.txt", "Ada\n");
  repo.commit("another person");
  std::string id;
  run = run_once(home, {"my-hello-flow"}, env, &id);
  EXPECT_EQ(run["result"], "Hi Ada") << run.dump(2);
  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "Hi Ada")) << logs.out;
}

}  // namespace
