// End-to-end: secrets through the ferry binary. `ferry secrets set | ls | rm` and the store
// file; then flows whose storage needs a secret, registered and run by the local agent: the
// task gets the real value, and every place a user or another process could read it (watch
// output, logs, --json outputs, the agent's stderr, every byte ferry wrote under FERRY_HOME)
// shows `****` instead.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/test_support.hpp"

namespace ferry::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Distinctive, so a byte search cannot match anything else; 19 characters.
const std::string kValue = "s3cr3t-9f8e7d-value";
const std::string kValueLength = "token length 19";

// Two flows written by the tests (frozen at registration, so the source need not outlive
// it; one source, so it compiles once per test binary).
//   json_secret    its secret is a JSON object; the task logs each field on its own, so each
//                  must be masked by itself, not only as part of the whole value
//   secret_result  its task returns text quoting its secret, which ferry keeps as the run's
//                  result and as the task's result checkpoint
const char* const kInlineFlowsSource = R"(// Written by tests/e2e/secrets_test.cpp.
#include <string>

#include <ferry/ferry.hpp>

int use_credentials() {
  ferry::Value creds = ferry::Value::parse(ferry::context().secrets.at("AWS_CREDENTIALS"));
  std::string key = creds.at("ACCESS_KEY").get<std::string>();
  std::string secret = creds.at("SECRET_ACCESS_KEY").get<std::string>();
  ferry::logger().info("key lengths " + std::to_string(key.size()) + " and " +
                       std::to_string(secret.size()));
  ferry::logger().info("access key " + key);
  ferry::logger().info("secret key " + secret);
  return static_cast<int>(key.size() + secret.size());
}

std::string quote_token() {
  return "signed in with token " + ferry::context().secrets.at("API_TOKEN");
}

FERRY_FLOWS(flows) {
  ferry::Flow json("json_secret", ferry::storage::Local({.secrets = {"AWS_CREDENTIALS"}}));
  json.task<use_credentials>();
  flows.add(std::move(json));
  ferry::Flow quoted("secret_result", ferry::storage::Local({.secrets = {"API_TOKEN"}}));
  quoted.task<quote_token>();
  flows.add(std::move(quoted));
}
)";
const std::string kAccessKey = "AKIA-E2E-7Q3Z9X";
const std::string kSecretAccessKey = "wJalr-e2e-s3cr3t-4d3c2b";

std::string secret_flow() { return fixture("e2e/secret_flow.cpp").string(); }

fs::path store_of(const Home& home) { return home.path() / "secrets.json"; }

// `ferry secrets set NAME` with the value on stdin through a pipe, as `echo V | ferry ...`
// would give it (sh takes the value from its environment, not from its command line).
CommandResult set_from_stdin(const Home& home, const std::string& name, const std::string& value) {
  return run_command({"/bin/sh", "-c", R"(printf '%s\n' "$SECRET_VALUE" | "$0" secrets set "$1")",
                      FERRY_BIN, name},
                     home.env({"SECRET_VALUE=" + value}), 30s);
}

std::string mode_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "(missing)";
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03o", st.st_mode & 0777);
  return buf;
}

// The files under FERRY_HOME, the secret store excepted, that hold any of `values`; all of
// their bytes go to *everything so a caller can check the search saw what it should.
std::vector<std::string> files_holding(const Home& home, const std::vector<std::string>& values,
                                       std::string* everything) {
  std::vector<std::string> hits;
  for (const fs::path& f : files_under(home.path())) {
    if (f == store_of(home)) continue;
    std::string bytes = read_text(f);
    for (const std::string& v : values) {
      if (contains(bytes, v)) hits.push_back(f.lexically_relative(home.path()).string());
    }
    *everything += bytes;
  }
  return hits;
}

// What a user sees of a run's secret flow, each output checked for the values.
void expect_nowhere(const Home& home, const std::vector<std::string>& values,
                    const std::string& must_appear) {
  std::string everything;
  std::vector<std::string> hits = files_holding(home, values, &everything);
  EXPECT_TRUE(hits.empty()) << "a secret value is stored in: " << ::testing::PrintToString(hits);
  ASSERT_TRUE(fs::exists(home.path() / "ferry.db"));
  // Not vacuous: the search read the backend's rows (the database or its WAL).
  EXPECT_TRUE(contains(everything, must_appear)) << "the run's log lines were not found";

  std::vector<std::vector<std::string>> commands = {
      {"flows", "ls", "--json"}, {"runs", "ls", "--json"}, {"runs", "ls"}};
  for (const Value& run : home.runs()) {
    std::string id = run.at("id");
    commands.push_back({"runs", "show", id, "--json"});
    commands.push_back({"runs", "show", id});
    commands.push_back({"runs", "logs", id});
  }
  for (const std::vector<std::string>& args : commands) {
    CommandResult r = home.ferry(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const std::string& v : values) {
      EXPECT_FALSE(contains(r.out + r.err, v))
          << "`ferry " << ::testing::PrintToString(args) << "` shows a secret:\n"
          << r.out << r.err;
    }
  }
}

// Registers the secret flow, starts an agent for one run and creates the run with --watch:
// the watch output, the agent's stderr, and the run's id.
struct WatchedRun {
  CommandResult watch;
  std::string agent_err;
  std::string id;
};

WatchedRun watch_secret_flow(const Home& home, const std::vector<std::string>& agent_env) {
  WatchedRun out;
  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"},
                          agent_env);
  out.watch = home.ferry({"run", "secret_flow", "--watch"}, {}, 30s);
  EXPECT_EQ(agent->wait_for(15s), std::optional<int>(0)) << agent->err();
  out.agent_err = agent->err();
  Value runs = home.runs();  // newest first
  if (!runs.empty()) out.id = runs[0].at("id").get<std::string>();
  return out;
}

// The secret flow's run with API_TOKEN = kValue: the task saw the value (its length), failed
// quoting it, and every output has **** in its place.
void expect_masked_run(const Home& home, const WatchedRun& w) {
  ASSERT_FALSE(w.id.empty());
  EXPECT_EQ(w.watch.exit_code, 1) << w.watch.out << w.watch.err;
  for (const std::string& text : {w.watch.out + w.watch.err, w.agent_err}) {
    EXPECT_FALSE(contains(text, kValue)) << text;
  }
  EXPECT_TRUE(contains(w.watch.out, kValueLength)) << w.watch.out;
  EXPECT_TRUE(contains(w.watch.out, "calling the API with token ****")) << w.watch.out;
  EXPECT_TRUE(contains(w.watch.out, "Z Failed: ")) << w.watch.out;
  // The flow-run process's log lines reach the agent's stderr, masked there too.
  EXPECT_TRUE(contains(w.agent_err, "calling the API with token ****")) << w.agent_err;

  Value shown = home.show(w.id);
  EXPECT_EQ(shown["state"], "Failed") << shown.dump(2);
  ASSERT_EQ(shown["tasks"].size(), 1u) << shown.dump(2);
  EXPECT_EQ(shown["tasks"][0]["state"], "Failed") << shown.dump(2);
  EXPECT_TRUE(contains(shown["tasks"][0].value("message", ""), "the API rejected token ****"))
      << shown.dump(2);
  CommandResult logs = home.ferry({"runs", "logs", w.id});
  EXPECT_TRUE(contains(logs.out, kValueLength)) << logs.out;
  EXPECT_TRUE(contains(logs.out, "calling the API with token ****")) << logs.out;

  expect_nowhere(home, {kValue}, kValueLength);
}

}  // namespace

TEST(Secrets, SetListAndRemoveThroughTheCli) {
  Home home;
  TempDir tmp;
  const fs::path store = store_of(home);

  // As an argument.
  CommandResult r = home.ferry({"secrets", "set", "API_TOKEN", kValue});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Set secret 'API_TOKEN' in " + store.string() + "\n");
  EXPECT_FALSE(contains(r.out + r.err, kValue));
  EXPECT_EQ(mode_of(store), "600");

  // From a file: its one trailing newline is not part of the value.
  write_text(tmp / "value", "file-s3cr3t-value-1\n");
  r = home.ferry({"secrets", "set", "FILE_TOKEN", "--from-file", (tmp / "value").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.out + r.err, "file-s3cr3t-value-1"));

  // From stdin through a pipe.
  r = set_from_stdin(home, "PIPED_TOKEN", "piped-s3cr3t-value-2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Set secret 'PIPED_TOKEN'")) << r.out;
  EXPECT_FALSE(contains(r.out + r.err, "piped-s3cr3t-value-2"));

  // The store holds exactly the values given, and nobody else may read it.
  EXPECT_EQ(Value::parse(read_text(store)), Value({{"API_TOKEN", kValue},
                                                   {"FILE_TOKEN", "file-s3cr3t-value-1"},
                                                   {"PIPED_TOKEN", "piped-s3cr3t-value-2"}}));
  EXPECT_EQ(mode_of(store), "600");

  // ls: names only, sorted.
  r = home.ferry({"secrets", "ls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "API_TOKEN\nFILE_TOKEN\nPIPED_TOKEN\n");
  r = home.ferry({"secrets", "ls", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Value::parse(r.out), Value({"API_TOKEN", "FILE_TOKEN", "PIPED_TOKEN"}));

  // Setting again replaces.
  r = home.ferry({"secrets", "set", "API_TOKEN", "replaced-value-3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Value::parse(read_text(store)).at("API_TOKEN"), "replaced-value-3");

  // rm, then rm of a name that is not there: an error naming it, nonzero exit.
  r = home.ferry({"secrets", "rm", "FILE_TOKEN"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Removed secret 'FILE_TOKEN'\n");
  EXPECT_EQ(home.ferry({"secrets", "ls"}).out, "API_TOKEN\nPIPED_TOKEN\n");
  r = home.ferry({"secrets", "rm", "FILE_TOKEN"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("error: No secret 'FILE_TOKEN' in " + store.string(), 0), 0u) << r.err;
  EXPECT_TRUE(contains(r.err, "ferry secrets ls")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(home.ferry({"secrets", "ls"}).out, "API_TOKEN\nPIPED_TOKEN\n");
  EXPECT_EQ(mode_of(store), "600") << "a rewrite widened the store's mode";
}

TEST(Secrets, BadSetRequestsStoreNothing) {
  Home home;
  // stdin is /dev/null: an empty value.
  CommandResult r = home.ferry({"secrets", "set", "EMPTY_TOKEN"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "is empty; nothing was stored")) << r.err;
  r = home.ferry({"secrets", "set", "BAD-NAME", "some-value-1234"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "BAD-NAME")) << r.err;
  EXPECT_FALSE(contains(r.err, "some-value-1234")) << r.err;
  r = home.ferry({"secrets", "set", "X_TOKEN", "value-one-1234", "--from-file", "/dev/null"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(contains(r.err, "value-one-1234")) << r.err;
  EXPECT_EQ(home.ferry({"secrets", "ls"}).out, "");
}

// A store others can read is refused, with the fix in the message, and never quoted; a run
// needing a secret from it fails the same way.
TEST(Secrets, StoreReadableByOthersIsRefused) {
  Home home;
  ASSERT_EQ(home.ferry({"secrets", "set", "API_TOKEN", kValue}).exit_code, 0);
  home.register_flow(secret_flow());
  fs::permissions(store_of(home), fs::perms(0644));

  const std::vector<std::vector<std::string>> commands = {
      {"secrets", "ls"},
      {"secrets", "set", "OTHER", "other-value-1234"},
      {"secrets", "rm", "API_TOKEN"}};
  for (const std::vector<std::string>& args : commands) {
    CommandResult r = home.ferry(args);
    EXPECT_NE(r.exit_code, 0) << ::testing::PrintToString(args) << r.out;
    EXPECT_TRUE(contains(r.err, "chmod 600 " + store_of(home).string())) << r.err;
    EXPECT_FALSE(contains(r.out + r.err, kValue)) << r.err;
  }
  EXPECT_EQ(mode_of(store_of(home)), "644") << "ferry changed the user's file";

  std::string id = home.create_run({"secret_flow"});
  CommandResult agent = home.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  EXPECT_TRUE(contains(run.value("message", ""), "chmod 600")) << run.dump(2);
  EXPECT_TRUE(home.show(id)["tasks"].empty()) << "the task ran without its secret";
  EXPECT_FALSE(contains(agent.err, kValue)) << agent.err;

  // Fixed by the command the message gave.
  fs::permissions(store_of(home), fs::perms(0600));
  CommandResult ls = home.ferry({"secrets", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "API_TOKEN\n");
}

// The secret in the store: the agent's run resolves it before get_flow, the task gets it,
// and it is masked everywhere.
TEST(Secrets, StoreSecretReachesTheTaskAndIsMaskedEverywhere) {
  Home home;
  CommandResult set = set_from_stdin(home, "API_TOKEN", kValue);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  home.register_flow(secret_flow());
  WatchedRun w = watch_secret_flow(home, {});
  expect_masked_run(home, w);
}

// The secret in the agent's environment only (NAME, then FERRY__CONTEXT__SECRETS__NAME), each
// taking precedence over a stale value in the store (whose length differs). The commands that
// print the run do not know the value at all, so only what the run stored can be checked.
TEST(Secrets, EnvironmentSecretReachesTheTaskAndIsMaskedEverywhere) {
  const std::string stale = "stale-store-value-0123456";  // 25 characters
  for (const std::string& var :
       {std::string("API_TOKEN"), std::string("FERRY__CONTEXT__SECRETS__API_TOKEN")}) {
    SCOPED_TRACE(var);
    Home home;
    ASSERT_EQ(home.ferry({"secrets", "set", "API_TOKEN", stale}).exit_code, 0);
    home.register_flow(secret_flow());
    WatchedRun w = watch_secret_flow(home, {var + "=" + kValue});
    expect_masked_run(home, w);
    EXPECT_FALSE(contains(w.watch.out, "token length 25")) << "the store won over " << var;
  }
}

// No value anywhere: the run fails before the flow is fetched, with one line that names the
// secret and says how to set it.
TEST(Secrets, MissingSecretFailsTheRunNamingIt) {
  Home home;
  home.register_flow(secret_flow());
  std::string id = home.create_run({"secret_flow"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_EQ(message.rfind("Secret 'API_TOKEN' was not found.", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "ferry secrets set API_TOKEN")) << message;
  EXPECT_TRUE(contains(message, "FERRY__CONTEXT__SECRETS__API_TOKEN")) << message;
  EXPECT_FALSE(contains(message, "\n")) << message;
  EXPECT_TRUE(home.show(id)["tasks"].empty()) << "a task ran without its secret";
  EXPECT_TRUE(contains(agent.err, "failed: Secret 'API_TOKEN' was not found.")) << agent.err;
  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "Secret 'API_TOKEN' was not found.")) << logs.out;

  // Setting it is the fix the message gave.
  ASSERT_EQ(home.ferry({"secrets", "set", "API_TOKEN", kValue}).exit_code, 0);
  std::string again = home.create_run({"secret_flow"});
  ASSERT_EQ(home.agent(1).exit_code, 0);
  CommandResult logs2 = home.ferry({"runs", "logs", again});
  EXPECT_TRUE(contains(logs2.out, kValueLength)) << logs2.out;
}

// A JSON value: the flow gets the whole object and parses it; the whole value and each field
// on its own are masked (in log lines and everything stored).
TEST(Secrets, JsonSecretFieldsAreMaskedOneByOne) {
  Home home;
  TempDir src;
  write_text(src / "inline_flows.cpp", kInlineFlowsSource);
  Value creds = {{"ACCESS_KEY", kAccessKey}, {"SECRET_ACCESS_KEY", kSecretAccessKey}};
  CommandResult set = set_from_stdin(home, "AWS_CREDENTIALS", creds.dump());
  ASSERT_EQ(set.exit_code, 0) << set.err;
  home.register_flow((src / "inline_flows.cpp").string(), {"-n", "json_secret"});

  std::string id = home.create_run({"json_secret"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], kAccessKey.size() + kSecretAccessKey.size()) << run.dump(2);

  CommandResult logs = home.ferry({"runs", "logs", id});
  const std::string lengths = "key lengths " + std::to_string(kAccessKey.size()) + " and " +
                              std::to_string(kSecretAccessKey.size());
  EXPECT_TRUE(contains(logs.out, lengths)) << "the fields did not arrive\n" << logs.out;
  EXPECT_TRUE(contains(logs.out, "access key ****")) << logs.out;
  EXPECT_TRUE(contains(logs.out, "secret key ****")) << logs.out;
  EXPECT_TRUE(contains(agent.err, "secret key ****")) << agent.err;
  for (const std::string& v : {kAccessKey, kSecretAccessKey, creds.dump()}) {
    EXPECT_FALSE(contains(agent.out + agent.err, v)) << agent.err;
  }
  expect_nowhere(home, {kAccessKey, kSecretAccessKey, creds.dump()}, lengths);
}

// KNOWN LEAK: FAILS until fixed (see the report for issue 5). A task that returns text
// quoting its secret: the run's result in the backend is masked, but the executor also
// checkpoints every task result through the flow's Result (LocalResult:
// $FERRY_HOME/results/<run>/<task>.json, written mode 0644 by write_file_atomic), unmasked.
// The value then sits on disk readable by other users, outside the 0600 secret store.
// A task's result is data its run needs back when it starts again, so ferry keeps the
// checkpoint as the task returned it, but only its owner can read it; every other copy (the
// run's result in the backend, what commands print) is masked.
TEST(Secrets, ResultQuotingASecretIsCheckpointedOnlyForItsOwner) {
  Home home;
  TempDir src;
  write_text(src / "inline_flows.cpp", kInlineFlowsSource);
  ASSERT_EQ(home.ferry({"secrets", "set", "API_TOKEN", kValue}).exit_code, 0);
  home.register_flow((src / "inline_flows.cpp").string(), {"-n", "secret_result"});
  std::string id = home.create_run({"secret_result"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.listed_run(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "signed in with token ****") << run.dump(2);

  std::string everything;
  std::vector<std::string> hits = files_holding(home, {kValue}, &everything);
  ASSERT_EQ(hits.size(), 1u) << ::testing::PrintToString(hits);
  EXPECT_EQ(fs::path(hits[0]).parent_path().parent_path(), fs::path("results")) << hits[0];
  EXPECT_EQ(mode_of(home.path() / hits[0]), "600") << hits[0];
}

}  // namespace ferry::test
