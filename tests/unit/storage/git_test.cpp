// Git storage: the reference's cases (clone URL table, validation, warnings, descriptor,
// flow_name, missing file) and ferry's own (commit pinning, the checkout cache, credential
// hygiene, failure classes), against real servers: git daemon, lighttpd + git http-backend,
// and sshd (tests/support/git_servers.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/masking.hpp"
#include "core/text.hpp"
#include "ferry/storage/git.hpp"
#include "storage/git_cache.hpp"
#include "storage/git_command.hpp"
#include "storage/git_url.hpp"
#include "support/git_servers.hpp"
#include "support/http_server.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::storage::Git;
using ferry::storage::GitError;
using ferry::storage::GitErrorKind;
using ferry::storage::GitOptions;
using ferry::storage::Storage;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::ScopedEnv;
using ferry::test::GitDaemon;
using ferry::test::GitHttpServer;
using ferry::test::GitSshServer;
using ferry::test::read_text;
using ferry::test::TempDir;
using ferry::test::TestRepo;
namespace gd = ferry::storage::git_detail;

const char* kToken = "tok-3f9a1c77e2d54b08";  // distinctive, so a leak is findable

// Commits the fixture flow (flows/flow.cpp + greeting.hpp) and a README into repo.
std::string commit_fixture(const TestRepo& repo, const std::string& message = "flow") {
  repo.write("flows/flow.cpp", read_text(ferry::test::fixture("git/flow.cpp")));
  repo.write("flows/greeting.hpp", read_text(ferry::test::fixture("git/greeting.hpp")));
  repo.write("README.md", "test repository\n");
  repo.write("other/big.txt", "not needed by the flow\n");
  return repo.commit(message);
}

// A fresh FERRY_HOME whose module cache is the binary's shared one, and quick retries.
class GitStorageTest : public ::testing::Test {
 protected:
  GitStorageTest() : backoff_("FERRY__GIT__RETRY_BACKOFF", "0.01") {
    ferry::storage_test::share_module_cache(home_.path());
  }
  // Resolving a token registers it for masking, process-wide: leave no trace for other tests.
  ~GitStorageTest() override { ferry::detail::clear_secret_values_for_testing(); }
  fs::path git_cache() const { return home_.path() / "cache" / "git"; }
  // Every checkout folder under the cache.
  std::vector<fs::path> checkouts() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& repo : fs::directory_iterator(git_cache(), ec)) {
      for (const auto& e : fs::directory_iterator(repo.path())) {
        if (e.is_directory() && e.path().filename().string()[0] != '.') out.push_back(e.path());
      }
    }
    return out;
  }
  ferry::test::ScopedFerryHome home_;
  ScopedEnv backoff_;
  TempDir srv_;
};

Git url_storage(GitOptions o = {}) {
  if (o.flow_path.empty()) o.flow_path = "flows/flow.cpp";
  o.git_clone_url_secret_name = "FERRY_TEST_GIT_URL";
  return Git(std::move(o));
}

std::string run_result(const ferry::Flow& flow) {
  ferry::RunResult r = flow.run(Value::object(), quiet_run());
  EXPECT_TRUE(r.ok()) << r.message;
  return r.result.is_string() ? r.result.get<std::string>() : r.result.dump();
}

// ---- the reference's construction cases ----

TEST(GitStorage, CloneUrlTable) {
  ScopedEnv secret("MY_SECRET", "MY_SECRET_TOKEN");
  ScopedEnv url("MY_URL", "https://u:p@dev.azure.com/org/project/_git/repo");
  testing::internal::CaptureStderr();
  EXPECT_EQ(Git({.flow_path = "f.cpp", .repo = "my/repo"}).git_clone_url(),
            "https://@github.com/my/repo.git");
  EXPECT_EQ(Git({.flow_path = "f.cpp", .repo = "user/repo", .git_token_secret_name = "MY_SECRET"})
                .git_clone_url(),
            "https://user:MY_SECRET_TOKEN@github.com/user/repo.git");
  EXPECT_EQ(Git({.flow_path = "f.cpp",
                 .repo = "user/repo",
                 .git_token_secret_name = "MY_SECRET",
                 .git_token_username = "another_git_user"})
                .git_clone_url(),
            "https://another_git_user:MY_SECRET_TOKEN@github.com/user/repo.git");
  for (const std::string host : {"bitbucket.org", "gitlab.com", "randomsite.com"}) {
    EXPECT_EQ(Git({.flow_path = "f.cpp",
                   .repo = "user/repo",
                   .repo_host = host,
                   .git_token_secret_name = "MY_SECRET"})
                  .git_clone_url(),
              "https://user:MY_SECRET_TOKEN@" + host + "/user/repo.git");
  }
  EXPECT_EQ(Git({.flow_path = "f.cpp", .repo = "user/repo", .use_ssh = true}).git_clone_url(),
            "git@github.com:user/repo.git");
  EXPECT_EQ(Git({.flow_path = "f.cpp",
                 .repo = "user/repo",
                 .git_token_secret_name = "MY_SECRET",
                 .format_access_token = false})
                .git_clone_url(),
            "https://MY_SECRET_TOKEN@github.com/user/repo.git");
  EXPECT_EQ(Git({.flow_path = "f.cpp", .git_clone_url_secret_name = "MY_URL"}).git_clone_url(),
            "https://u:p@dev.azure.com/org/project/_git/repo");
  // ferry's extension: a repo_host with a scheme, for servers without TLS.
  EXPECT_EQ(Git({.flow_path = "f.cpp",
                 .repo = "user/repo",
                 .repo_host = "http://127.0.0.1:8080/git/",
                 .git_token_secret_name = "MY_SECRET"})
                .git_clone_url(),
            "http://user:MY_SECRET_TOKEN@127.0.0.1:8080/git/user/repo.git");
  // What messages show: never the userinfo.
  EXPECT_EQ(Git({.flow_path = "f.cpp", .repo = "user/repo", .git_token_secret_name = "MY_SECRET"})
                .display_url(),
            "https://github.com/user/repo.git");
  EXPECT_EQ(Git({.flow_path = "f.cpp", .git_clone_url_secret_name = "MY_URL"}).display_url(),
            "https://dev.azure.com/org/project/_git/repo");
  testing::internal::GetCapturedStderr();
  ferry::detail::clear_secret_values_for_testing();
}

TEST(GitStorage, ValidationErrors) {
  EXPECT_EQ(error_of<ferry::ValueError>([] {
              Git({.flow_path = "f.cpp", .repo = "a/b", .branch_name = "main", .tag = "v1"});
            }),
            "Please provide only one of the following parameters: `branch_name`, `tag`, `commit`");
  EXPECT_EQ(error_of<ferry::ValueError>([] {
              Git({.flow_path = "f.cpp",
                   .repo = "a/b",
                   .branch_name = "main",
                   .commit = std::string(40, 'a')});
            }),
            "Please provide only one of the following parameters: `branch_name`, `tag`, `commit`");
  EXPECT_EQ(error_of<ferry::ValueError>([] { Git({.flow_path = "f.cpp"}); }),
            "Either `repo` or `git_clone_url_secret_name` must be provided");
  EXPECT_TRUE(
      has(error_of<ferry::ValueError>([] { Git({.flow_path = "/abs/f.cpp", .repo = "a/b"}); }),
          "relative to the repository's root"));
  EXPECT_TRUE(
      has(error_of<ferry::ValueError>([] { Git({.flow_path = "../f.cpp", .repo = "a/b"}); }),
          "relative to the repository's root"));
  EXPECT_TRUE(
      has(error_of<ferry::ValueError>([] { Git({.flow_path = "", .repo = "a/b"}); }), "flow_path"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>(
                      [] { Git({.flow_path = "f.cpp", .repo = "a/b", .commit = "abc123"}); }),
                  "full commit SHA"));
}

TEST(GitStorage, Warnings) {
  testing::internal::CaptureStderr();
  Git({.flow_path = "f.cpp", .repo = "a/b", .git_token_secret_name = "T", .use_ssh = true});
  std::string ssh = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(ssh,
                  "Git Storage initialized with `use_ssh = True` and `git_token_secret_name` "
                  "provided. SSH will be used to clone the repository. "
                  "`git_token_secret_name` will be ignored"))
      << ssh;

  testing::internal::CaptureStderr();
  Git({.flow_path = "f.cpp", .repo = "a/b", .git_clone_url_secret_name = "U"});
  std::string url = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(url,
                  "Git storage initialized with a `git_clone_url_secret_name`. The value of "
                  "this Secret will be used to clone the repository, ignoring `repo`, "
                  "`repo_host`"))
      << url;

  testing::internal::CaptureStderr();
  Git({.flow_path = "f.cpp", .repo = "a/b"});
  Git({.flow_path = "f.cpp", .git_clone_url_secret_name = "U"});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(GitStorage, DescriptorRoundTripHoldsNoSecretValue) {
  ScopedEnv secret("MY_SECRET", kToken);
  Git git({.flow_path = "flows/flow.cpp",
           .repo = "org/flows",
           .repo_host = "git.example.com",
           .git_token_secret_name = "MY_SECRET",
           .tag = "v1",
           .clone_depth = 3,
           .ssh_options = {.identity_file = "/k", .known_hosts_file = "/kh", .port = 2222},
           .sparse = true,
           .secrets = {"OTHER"}});
  EXPECT_TRUE(git.stored_as_script());
  EXPECT_TRUE(git.flows().empty());
  EXPECT_TRUE(git.labels().empty());  // no default labels
  EXPECT_FALSE(git.default_result());
  (void)git.git_clone_url();  // resolving the token must not put it anywhere
  Value d = git.serialize();
  EXPECT_EQ(d["type"], "Git");
  EXPECT_EQ(d["flow_path"], "flows/flow.cpp");
  EXPECT_EQ(d["repo"], "org/flows");
  EXPECT_EQ(d["repo_host"], "git.example.com");
  EXPECT_TRUE(d["flow_name"].is_null());
  EXPECT_EQ(d["git_token_secret_name"], "MY_SECRET");
  EXPECT_EQ(d["git_token_username"], "org");
  EXPECT_TRUE(d["git_clone_url_secret_name"].is_null());
  EXPECT_TRUE(d["branch_name"].is_null());
  EXPECT_EQ(d["tag"], "v1");
  EXPECT_TRUE(d["commit"].is_null());
  EXPECT_EQ(d["clone_depth"], 3);
  EXPECT_EQ(d["use_ssh"], false);
  EXPECT_EQ(d["format_access_token"], true);
  EXPECT_EQ(d["stored_as_script"], true);
  EXPECT_EQ(d["secrets"], Value::array({"OTHER"}));
  EXPECT_FALSE(has(d.dump(), kToken));

  Storage back = Storage::deserialize(d);
  EXPECT_EQ(back.type(), "Git");
  EXPECT_EQ(back.serialize(), d);
  EXPECT_EQ(d["ssh_options"]["port"], 2222);
  EXPECT_EQ(d["ssh_options"]["identity_file"], "/k");
  EXPECT_EQ(d["sparse"], true);
  // Older or foreign descriptors: only flow_path and the URL fields.
  Storage minimal = Storage::deserialize(
      {{"type", "Git"}, {"flow_path", "f.cpp"}, {"repo", "a/b"}, {"flows", {{"x", "f.cpp"}}}});
  EXPECT_TRUE(minimal.contains("x"));
  ferry::detail::clear_secret_values_for_testing();
}

TEST(GitStorage, AddFlowRecordsFlowPathAndRefusesASecondOfTheSameName) {
  Git git({.flow_path = "flows/flow.cpp", .repo = "a/b"});
  ferry::Flow flow("x");
  EXPECT_EQ(git.add_flow(flow), "flows/flow.cpp");
  EXPECT_EQ(git.flows().at("x"), "flows/flow.cpp");
  EXPECT_TRUE(has(error_of<ferry::ValueError>([&] { git.add_flow(flow); }), "Name conflict"));
  EXPECT_EQ(error_of<ferry::ValueError>([&] { git.get_flow("y"); }),
            "Flow is not contained in this storage");
}

TEST(GitStorage, MissingTokenSecretIsNamed) {
  ScopedEnv unset("FERRY_NO_SUCH_SECRET", nullptr);
  Git git({.flow_path = "f.cpp", .repo = "a/b", .git_token_secret_name = "FERRY_NO_SUCH_SECRET"});
  EXPECT_TRUE(
      has(error_of<ferry::ValueError>([&] { git.git_clone_url(); }), "FERRY_NO_SUCH_SECRET"));
}

// ---- credential hygiene of the command line ----

TEST(GitCommand, CredentialsTravelInTheEnvironmentNeverInArgv) {
  std::string url = std::string("https://org:") + kToken + "@git.example.com/org/flows.git";
  gd::GitRemote remote = gd::make_remote(url, {});
  EXPECT_EQ(remote.url, "https://git.example.com/org/flows.git");
  EXPECT_EQ(remote.display, "https://git.example.com/org/flows.git");
  std::string encoded = ferry::detail::base64_encode(std::string("org:") + kToken);
  gd::GitCommand cmd = gd::make_git_command(remote, {"ls-remote", remote.url, "refs/heads/main"});
  for (const std::string& a : cmd.argv) {
    EXPECT_FALSE(has(a, kToken)) << a;
    EXPECT_FALSE(has(a, encoded)) << a;
  }
  bool header = false;
  for (const std::string& e : cmd.env)
    header = header || e == "GIT_CONFIG_VALUE_4=Authorization: Basic " + encoded;
  EXPECT_TRUE(header);
  // A git:// or ssh remote gets no header at all.
  gd::GitCommand plain = gd::make_git_command(gd::make_remote("git://h/r", {}), {"ls-remote"});
  for (const std::string& e : plain.env) EXPECT_FALSE(has(e, "Authorization")) << e;
}

TEST(GitCommand, UrlsAndBase64) {
  EXPECT_EQ(ferry::detail::base64_encode(""), "");
  EXPECT_EQ(ferry::detail::base64_encode("f"), "Zg==");
  EXPECT_EQ(ferry::detail::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(ferry::detail::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(ferry::detail::base64_encode("user:pass"), "dXNlcjpwYXNz");
  gd::UrlCredentials c = gd::split_credentials("https://us%40er:p%3Ass@h:1/p.git?x=1");
  EXPECT_EQ(c.url, "https://h:1/p.git?x=1");
  EXPECT_EQ(c.user, "us@er");
  EXPECT_EQ(c.password, "p:ss");
  EXPECT_FALSE(gd::split_credentials("https://@github.com/my/repo.git").has_credentials);
  EXPECT_EQ(gd::split_credentials("https://@github.com/my/repo.git").url,
            "https://github.com/my/repo.git");
  EXPECT_EQ(gd::display_url("ssh://git:secret@h:22/r.git"), "ssh://h:22/r.git");
  EXPECT_EQ(gd::display_url("git@github.com:user/repo.git"), "git@github.com:user/repo.git");
  EXPECT_TRUE(gd::is_ssh_url("git@github.com:user/repo.git"));
  EXPECT_TRUE(gd::is_ssh_url("ssh://h/r"));
  EXPECT_FALSE(gd::is_ssh_url("https://h/r"));
  EXPECT_FALSE(gd::is_ssh_url("/srv/repo.git"));
  EXPECT_EQ(gd::shell_quote("a'b"), "'a'\\''b'");
}

TEST(GitCommand, FailuresAreClassified) {
  using K = GitErrorKind;
  EXPECT_EQ(gd::classify_git_failure("fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: "
                                     "127.0.0.1]: errno=Connection refused"),
            K::Transient);
  EXPECT_EQ(gd::classify_git_failure(
                "fatal: unable to access 'http://h/r/': The requested URL returned error: 503"),
            K::Transient);
  EXPECT_EQ(
      gd::classify_git_failure("error: RPC failed; curl 56 Recv failure: Connection reset by peer"),
      K::Transient);
  EXPECT_EQ(gd::classify_git_failure("fatal: Authentication failed for 'http://h/r/'"), K::Auth);
  EXPECT_EQ(gd::classify_git_failure("fatal: could not read Username for 'http://h': terminal "
                                     "prompts disabled"),
            K::Auth);
  EXPECT_EQ(gd::classify_git_failure("git@h: Permission denied (publickey).\nfatal: Could not "
                                     "read from remote repository."),
            K::Auth);
  EXPECT_EQ(gd::classify_git_failure("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\n"
                                     "Host key verification failed.\nfatal: Could not read from "
                                     "remote repository."),
            K::HostKey);
  EXPECT_EQ(
      gd::classify_git_failure("fatal: remote error: access denied or repository not exported: /x"),
      K::NotFound);
  EXPECT_EQ(gd::classify_git_failure("fatal: repository 'http://h/x/' not found"), K::NotFound);
  EXPECT_EQ(gd::classify_git_failure("fatal: couldn't find remote ref refs/heads/nope"), K::BadRef);
  EXPECT_EQ(gd::classify_git_failure("fatal: Remote branch nope not found in upstream origin"),
            K::BadRef);
  EXPECT_EQ(gd::classify_git_failure("fatal: remote error: upload-pack: not our ref 0123"),
            K::BadRef);
  EXPECT_EQ(gd::classify_git_failure("fatal: something else"), K::Other);
}

TEST(GitCommand, MessagesLoseUserinfoAndSecrets) {
  gd::GitRemote remote = gd::make_remote(std::string("http://org:") + kToken + "@h/r.git", {});
  std::string said = gd::clean_git_message(
      remote, std::string("hint: ignore me\nfatal: unable to access 'http://org:") + kToken +
                  "@h/r.git/': 401 for " + kToken + "\n");
  EXPECT_FALSE(has(said, kToken)) << said;
  EXPECT_FALSE(has(said, "hint:")) << said;
  EXPECT_TRUE(has(said, "'http://h/r.git/'")) << said;
}

// ---- fetching from real servers ----

TEST_F(GitStorageTest, GetFlowOverGitDaemonPinsTheCommitAndCompilesTheWholeCheckout) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitDaemon daemon(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon.url("flows.git").c_str());
  Git git = url_storage();
  git.add_flow(ferry::Flow("git-hello"));
  ferry::Flow flow = git.get_flow("git-hello");
  EXPECT_EQ(flow.name(), "git-hello");
  EXPECT_EQ(run_result(flow), "Hello, world!");  // greeting.hpp came from the checkout
  Value pin = git.impl()->fetched_pin("git-hello");
  EXPECT_EQ(pin["commit"], sha);
  EXPECT_EQ(pin["repo"], daemon.url("flows.git"));
  ASSERT_EQ(checkouts().size(), 1u);
  EXPECT_EQ(checkouts()[0].filename(), sha);
  EXPECT_TRUE(fs::exists(checkouts()[0] / "other" / "big.txt"));  // the whole tree
  EXPECT_FALSE(fs::exists(checkouts()[0] / ".git"));
}

TEST_F(GitStorageTest, FlowNameSelection) {
  TestRepo repo(srv_.path(), "flows");
  commit_fixture(repo);
  GitDaemon daemon(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon.url("flows.git").c_str());
  // Without flow_name: the flow asked for.
  Git plain = url_storage();
  plain.add_flow(ferry::Flow("git-other"));
  EXPECT_EQ(plain.get_flow("git-other").name(), "git-other");
  // With flow_name: that one, whatever was asked for (the reference's rule).
  testing::internal::CaptureStderr();
  Git named = url_storage({.flow_name = "git-other"});
  testing::internal::GetCapturedStderr();
  named.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(named.get_flow("git-hello").name(), "git-other");
  // A name the file does not define: the script loader's message.
  Git missing = url_storage({.flow_name = "nope"});
  missing.add_flow(ferry::Flow("git-hello"));
  EXPECT_TRUE(has(error_of<ferry::ValueError>([&] { missing.get_flow("git-hello"); }),
                  "Flow 'nope' not found in file"));
}

TEST_F(GitStorageTest, MissingFileInTheRepositoryIsNamed) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitDaemon daemon(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon.url("flows.git").c_str());
  Git git = url_storage({.flow_path = "flows/absent.cpp"});
  git.add_flow(ferry::Flow("git-hello"));
  try {
    git.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::MissingFile);
    EXPECT_TRUE(has(e.what(), "Flow file 'flows/absent.cpp' not found in repository '" +
                                  daemon.url("flows.git") + "' at commit " + sha))
        << e.what();
  }
}

TEST_F(GitStorageTest, HttpWithBasicAuthTokenFromAnEnvironmentSecret) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitHttpServer http(srv_.path(), "org", kToken);
  ScopedEnv token("FERRY_TEST_GIT_TOKEN", kToken);
  // A git on PATH that records its arguments before running the real one: what `ps` shows.
  TempDir bin;
  fs::path argv_log = bin / "argv.log";
  ferry::test::write_text(bin / "git", "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + argv_log.string() +
                                           "'\nexec /usr/bin/git \"$@\"\n");
  fs::permissions(bin / "git", fs::perms::owner_all);
  std::string path = bin.path().string() + ":" + std::getenv("PATH");
  ScopedEnv path_env("PATH", path.c_str());

  Git git({.flow_path = "flows/flow.cpp",
           .repo = "flows",
           .repo_host = http.host(),
           .git_token_secret_name = "FERRY_TEST_GIT_TOKEN",
           .git_token_username = "org"});
  git.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(git.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(git.impl()->fetched_pin("git-hello")["commit"], sha);
  EXPECT_EQ(git.impl()->fetched_pin("git-hello")["repo"], http.url("flows.git"));
  std::string argv = read_text(argv_log);
  // Nothing cached yet: one shallow clone of the default branch, without an ls-remote first.
  EXPECT_TRUE(has(argv, "clone -q --no-tags --depth=1 " + http.url("flows.git"))) << argv;
  EXPECT_FALSE(has(argv, "ls-remote")) << argv;
  EXPECT_FALSE(has(argv, kToken)) << argv;
  EXPECT_FALSE(has(argv, ferry::detail::base64_encode(std::string("org:") + kToken))) << argv;
  EXPECT_FALSE(has(git.serialize().dump(), kToken));

  // A wrong token: one auth error naming the repository and the ref, no token.
  ScopedEnv wrong("FERRY_TEST_GIT_TOKEN", "wrong-token-123456");
  Git bad({.flow_path = "flows/flow.cpp",
           .repo = "flows",
           .repo_host = http.host(),
           .git_token_secret_name = "FERRY_TEST_GIT_TOKEN",
           .git_token_username = "org",
           .branch_name = "main"});
  bad.add_flow(ferry::Flow("git-hello"));
  try {
    bad.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::Auth) << e.what();
    EXPECT_TRUE(has(e.what(), "branch 'main'")) << e.what();
    EXPECT_TRUE(has(e.what(), http.url("flows.git"))) << e.what();
    EXPECT_FALSE(has(e.what(), "wrong-token-123456")) << e.what();
  }
}

TEST_F(GitStorageTest, HttpsWithAPrivateCaTrustedThroughGitSslCainfo) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitHttpServer https(srv_.path(), "org", kToken, /*tls=*/true);
  ScopedEnv token("FERRY_TEST_GIT_TOKEN", kToken);
  GitOptions o{.flow_path = "flows/flow.cpp",
               .repo = "flows",
               .repo_host = https.host(),
               .git_token_secret_name = "FERRY_TEST_GIT_TOKEN",
               .git_token_username = "org"};
  ASSERT_EQ(https.host().rfind("https://", 0), 0u);

  // The CA is not trusted yet: one clear TLS error, no token, no retries needed to say so.
  Git untrusted(o);
  untrusted.add_flow(ferry::Flow("git-hello"));
  try {
    untrusted.get_flow("git-hello");
    FAIL() << "an untrusted certificate was accepted";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::Tls) << e.what();
    EXPECT_TRUE(has(e.what(), "GIT_SSL_CAINFO")) << e.what();
    EXPECT_TRUE(has(e.what(), https.url("flows.git"))) << e.what();
    EXPECT_FALSE(has(e.what(), kToken)) << e.what();
  }

  ScopedEnv ca("GIT_SSL_CAINFO", https.ca_file().c_str());
  Git trusted(o);
  trusted.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(trusted.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(trusted.impl()->fetched_pin("git-hello")["commit"], sha);
}

TEST_F(GitStorageTest, BadRefAndMissingRepositoryErrorsNameRepoAndRefButNoToken) {
  TestRepo repo(srv_.path(), "flows");
  commit_fixture(repo);
  GitHttpServer http(srv_.path(), "org", kToken);
  ScopedEnv token("FERRY_TEST_GIT_TOKEN", kToken);
  auto storage = [&](std::string name, GitOptions o) {
    o.flow_path = "flows/flow.cpp";
    o.repo = name;
    o.repo_host = http.host();
    o.git_token_secret_name = "FERRY_TEST_GIT_TOKEN";
    o.git_token_username = "org";
    Git git(std::move(o));
    git.add_flow(ferry::Flow("git-hello"));
    return git;
  };
  Git branch = storage("flows", {.branch_name = "no-such-branch"});
  try {
    branch.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::BadRef) << e.what();
    EXPECT_TRUE(has(e.what(), "branch 'no-such-branch'")) << e.what();
    EXPECT_TRUE(has(e.what(), "'" + http.url("flows.git") + "'")) << e.what();
    EXPECT_FALSE(has(e.what(), kToken)) << e.what();
  }
  Git commit = storage("flows", {.commit = std::string(40, 'e')});
  try {
    commit.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::BadRef) << e.what();
    EXPECT_TRUE(has(e.what(), "commit " + std::string(40, 'e'))) << e.what();
    EXPECT_FALSE(has(e.what(), kToken)) << e.what();
  }
  Git absent = storage("absent", {});
  try {
    absent.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::NotFound) << e.what();
    EXPECT_TRUE(has(e.what(), http.url("absent.git"))) << e.what();
    EXPECT_FALSE(has(e.what(), kToken)) << e.what();
  }
}

TEST_F(GitStorageTest, SshWithAKeyAndKnownHostsFromSshOptions) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitSshServer ssh;
  ScopedEnv url("FERRY_TEST_GIT_URL", ssh.url(repo.bare()).c_str());
  Git git = url_storage({.ssh_options = {.identity_file = ssh.identity_file().string(),
                                         .known_hosts_file = ssh.known_hosts_file().string()}});
  git.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(git.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(git.impl()->fetched_pin("git-hello")["commit"], sha);
}

TEST_F(GitStorageTest, UseSshBuildsTheScpFormAndLogsInAsGit) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitSshServer ssh;
  ssh.serve_as_git_user(repo.bare());
  // git@127.0.0.1:/abs/path/flows.git: the reference's use_ssh URL, the port from ssh_options.
  std::string bare = repo.bare().string();
  Git git({.flow_path = "flows/flow.cpp",
           .repo = bare.substr(0, bare.size() - 4),
           .repo_host = "127.0.0.1",
           .use_ssh = true,
           .ssh_options = {.identity_file = ssh.identity_file().string(),
                           .known_hosts_file = ssh.known_hosts_file().string(),
                           .port = ssh.port()}});
  EXPECT_EQ(git.git_clone_url(), "git@127.0.0.1:" + bare);
  git.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(git.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(git.impl()->fetched_pin("git-hello")["commit"], sha);
}

TEST_F(GitStorageTest, SshHostKeyMismatchIsRefused) {
  TestRepo repo(srv_.path(), "flows");
  commit_fixture(repo);
  GitSshServer ssh;
  ScopedEnv url("FERRY_TEST_GIT_URL", ssh.url(repo.bare()).c_str());
  Git git =
      url_storage({.ssh_options = {.identity_file = ssh.identity_file().string(),
                                   .known_hosts_file = ssh.wrong_known_hosts_file().string()}});
  git.add_flow(ferry::Flow("git-hello"));
  try {
    git.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::HostKey) << e.what();
    EXPECT_TRUE(has(e.what(), "host key")) << e.what();
  }
  EXPECT_TRUE(checkouts().empty());
}

TEST_F(GitStorageTest, CommitPinnedCheckoutIsACacheHitWithTheServerStopped) {
  TestRepo repo(srv_.path(), "flows");
  std::string first = commit_fixture(repo);
  repo.write("later.txt", "later\n");
  std::string second = repo.commit("later");
  auto daemon = std::make_unique<GitDaemon>(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon->url("flows.git").c_str());
  Git pinned = url_storage({.commit = first});
  pinned.add_flow(ferry::Flow("git-hello"));
  pinned.get_flow("git-hello");
  EXPECT_EQ(pinned.impl()->fetched_pin("git-hello")["commit"], first);  // not the branch's head
  fs::path checkout = checkouts().at(0);
  EXPECT_FALSE(fs::exists(checkout / "later.txt"));

  daemon.reset();  // no server at all now
  Storage again = Storage::deserialize(pinned.serialize());
  // No server at all: only the cached checkout can answer.
  EXPECT_EQ(run_result(again.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(again.impl()->fetched_pin("git-hello")["commit"], first);
  EXPECT_EQ(checkouts().size(), 1u);
  (void)second;
}

TEST_F(GitStorageTest, BranchUsesTheLastResolvedCachedCommitWhenTheServerIsDown) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  auto daemon = std::make_unique<GitDaemon>(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon->url("flows.git").c_str());
  Git git = url_storage({.branch_name = "main"});
  git.add_flow(ferry::Flow("git-hello"));
  git.get_flow("git-hello");
  daemon.reset();
  Storage again = Storage::deserialize(git.serialize());
  testing::internal::CaptureStderr();
  ferry::Flow flow = again.get_flow("git-hello");
  std::string warned = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(warned, "could not reach")) << warned;
  Value pin = again.impl()->fetched_pin("git-hello");
  EXPECT_EQ(pin["commit"], sha);
  EXPECT_EQ(pin["offline"], true);
  EXPECT_EQ(pin["ref"], "refs/heads/main");

  // Nothing cached for another branch: the transient error, after the retries.
  Git other = url_storage({.branch_name = "dev"});
  other.add_flow(ferry::Flow("git-hello"));
  try {
    other.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::Transient) << e.what();
    EXPECT_TRUE(has(e.what(), "tried 4 times")) << e.what();
  }
}

TEST_F(GitStorageTest, TagAndCommitPinning) {
  TestRepo repo(srv_.path(), "flows");
  std::string v1 = commit_fixture(repo, "v1");
  repo.tag("v1", v1, /*annotated=*/true);
  std::string flow_text = read_text(repo.work() / "flows/flow.cpp");
  std::string changed = flow_text;
  changed.replace(changed.find("\"Hello, \""), 9, "\"Howdy, \"");
  repo.write("flows/flow.cpp", changed);
  std::string v2 = repo.commit("v2");
  GitDaemon daemon(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon.url("flows.git").c_str());

  Git tagged = url_storage({.tag = "v1"});
  tagged.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(tagged.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(tagged.impl()->fetched_pin("git-hello")["commit"], v1);  // peeled to the commit
  EXPECT_EQ(tagged.impl()->fetched_pin("git-hello")["ref"], "refs/tags/v1");

  Git head = url_storage();
  head.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(head.get_flow("git-hello")), "Howdy, world!");
  EXPECT_EQ(head.impl()->fetched_pin("git-hello")["commit"], v2);

  Git old = url_storage({.commit = v1});
  old.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(old.get_flow("git-hello")), "Hello, world!");
  EXPECT_EQ(old.impl()->fetched_pin("git-hello")["commit"], v1);
}

TEST_F(GitStorageTest, SparseCheckoutHasTheFlowFolderAndRootFilesOnly) {
  TestRepo repo(srv_.path(), "flows");
  std::string sha = commit_fixture(repo);
  GitDaemon daemon(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon.url("flows.git").c_str());
  Git git = url_storage({.sparse = true});
  git.add_flow(ferry::Flow("git-hello"));
  EXPECT_EQ(run_result(git.get_flow("git-hello")), "Hello, world!");
  ASSERT_EQ(checkouts().size(), 1u);
  fs::path dir = checkouts()[0];
  EXPECT_TRUE(has(dir.filename().string(), sha + ".sparse-"));
  EXPECT_TRUE(fs::exists(dir / "flows" / "greeting.hpp"));
  EXPECT_TRUE(fs::exists(dir / "README.md"));
  EXPECT_FALSE(fs::exists(dir / "other"));
}

TEST_F(GitStorageTest, TransientServerErrorsAreRetriedThenReported) {
  ferry::test::HttpServer server([](const ferry::test::HttpRequest&) {
    return ferry::test::HttpReply{503, {}, "busy"};
  });
  ScopedEnv url("FERRY_TEST_GIT_URL", (server.url("/flows.git")).c_str());
  Git git = url_storage();
  git.add_flow(ferry::Flow("git-hello"));
  try {
    git.get_flow("git-hello");
    FAIL() << "no error";
  } catch (const GitError& e) {
    EXPECT_EQ(e.kind(), GitErrorKind::Transient) << e.what();
    EXPECT_TRUE(has(e.what(), "the default branch")) << e.what();
  }
  EXPECT_EQ(server.request_count(), 4u);  // one try and three retries
}

TEST_F(GitStorageTest, CacheKeepsAtMostTheConfiguredNumberOfCheckouts) {
  TestRepo repo(srv_.path(), "flows");
  std::vector<std::string> shas;
  for (int i = 0; i < 3; ++i) {
    repo.write("n.txt", std::to_string(i));
    shas.push_back(commit_fixture(repo, "c" + std::to_string(i)));
  }
  GitDaemon daemon(srv_.path());
  ScopedEnv url("FERRY_TEST_GIT_URL", daemon.url("flows.git").c_str());
  ScopedEnv keep("FERRY__GIT__CACHE_MAX_CHECKOUTS", "2");
  // The first storage object keeps its checkout in use, so it must survive collection.
  auto first = std::make_unique<Git>(url_storage({.commit = shas[0]}));
  first->add_flow(ferry::Flow("git-hello"));
  first->get_flow("git-hello");
  for (int i = 1; i < 3; ++i) {
    Git g = url_storage({.commit = shas[i]});
    g.add_flow(ferry::Flow("git-hello"));
    g.get_flow("git-hello");
  }
  // Three checkouts, two allowed: the oldest is in use, so it stays for now.
  EXPECT_EQ(checkouts().size(), 3u);
  // Once no one uses it, the next collection removes it (the least recently used).
  first.reset();
  gd::GitCache::collect(git_cache(), 2);
  std::vector<fs::path> left = checkouts();
  ASSERT_EQ(left.size(), 2u);
  for (const fs::path& p : left) EXPECT_NE(p.filename(), shas[0]);
}

}  // namespace
