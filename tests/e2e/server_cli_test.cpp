// End-to-end: the ferry command against `ferry server` (SQLite): API keys made, used and
// revoked; health and metrics; secrets sealed on the server; a bad key is one clear error that
// never echoes a key.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ferry/codec.hpp"
#include "net/http_client.hpp"
#include "support/e2e_support.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::test::BackendKind;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::example;
using ferry::test::files_under;
using ferry::test::Home;
using ferry::test::read_text;
using ferry::test::write_text;

ferry::net::Response get(const std::string& url, const std::string& key = "") {
  ferry::net::Request r;
  r.url = url;
  r.max_retries = 0;
  r.timeout_seconds = 10;
  if (!key.empty()) r.headers.push_back({"Authorization", "Bearer " + key});
  return ferry::net::send(r);
}

}  // namespace

TEST(ServerCli, RegisterRunAndReadThroughTheServer) {
  Home home({}, BackendKind::ServerSqlite);
  home.register_flow(example("hello.cpp"));
  std::string id = home.create_run({"hello", "--param", "name=Ada"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home.show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], "Hello, Ada");
  // The embedded file was never made: everything went through the server's database.
  EXPECT_FALSE(fs::exists(home.path() / "ferry.db"));
  EXPECT_TRUE(fs::exists(home.path() / "server.db"));
}

TEST(ServerCli, RevokedKeyStopsWorkingAndNoKeyIsEchoed) {
  Home home({}, BackendKind::ServerSqlite);
  ASSERT_EQ(home.ferry({"flows", "ls"}).exit_code, 0);
  const std::string db = home.server()->database_url();
  CommandResult listed = home.ferry({"server", "api-key", "ls", "--database", db, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  Value keys = Value::parse(listed.out);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]["name"], "e2e");
  EXPECT_TRUE(keys[0]["revoked"].is_null());
  EXPECT_FALSE(contains(listed.out, home.server()->api_key()));

  CommandResult revoked = home.ferry({"server", "api-key", "revoke", "e2e", "--database", db});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  CommandResult refused = home.ferry({"flows", "ls"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_TRUE(contains(refused.err, "FERRY_API_KEY")) << refused.err;
  EXPECT_FALSE(contains(refused.err + refused.out, home.server()->api_key()));

  CommandResult again = home.ferry({"server", "api-key", "revoke", "e2e", "--database", db});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_TRUE(contains(again.err, "No API key named 'e2e'")) << again.err;
}

TEST(ServerCli, WrongKeyIsOneClearErrorWithoutTheKey) {
  Home home({}, BackendKind::ServerSqlite);
  const std::string wrong = "ferry_0000000000000000000000000000000000000bad";
  CommandResult r = home.ferry({"runs", "ls"}, {"FERRY_API_KEY=" + wrong});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "FERRY_API_KEY")) << r.err;
  EXPECT_FALSE(contains(r.err + r.out, wrong)) << r.err;
  CommandResult none = home.ferry({"runs", "ls"}, {"FERRY_API_KEY="});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(contains(none.err, "FERRY_API_KEY")) << none.err;
}

TEST(ServerCli, HealthNeedsNoKeyButMetricsDo) {
  Home home({}, BackendKind::ServerSqlite);
  const std::string url = home.server()->url();
  auto health = get(url + "/api/v1/health");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(Value::parse(health.body)["status"], "ok");
  EXPECT_EQ(get(url + "/metrics").status, 401);
  EXPECT_EQ(get(url + "/api/v1/flows").status, 401);

  home.register_flow(example("hello.cpp"));
  ASSERT_FALSE(home.create_run({"hello"}).empty());
  auto metrics = get(url + "/metrics", home.server()->api_key());
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_TRUE(contains(metrics.body, "ferry_flow_runs{state=\"Scheduled\"} 1")) << metrics.body;
  EXPECT_TRUE(contains(metrics.body, "ferry_http_requests_total")) << metrics.body;
}

TEST(ServerCli, SecretsAreSealedOnTheServerAndFoundByRuns) {
  Home home({}, BackendKind::ServerSqlite);
  const std::string value = "s3cr3t-value-4f9a1c";
  const fs::path file = home.path() / "value.txt";
  write_text(file, value + "\n");
  CommandResult set = home.ferry({"secrets", "set", "API_TOKEN", "--from-file", file.string()});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_TRUE(contains(set.out, "the ferry server at " + home.server()->url())) << set.out;
  fs::remove(file);

  CommandResult ls = home.ferry({"secrets", "ls", "--json"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(Value::parse(ls.out), Value::array({"API_TOKEN"}));
  // Not on this machine's file store, and sealed in the server's database.
  EXPECT_FALSE(fs::exists(home.path() / "secrets.json"));
  for (const fs::path& f : files_under(home.path())) {
    EXPECT_FALSE(contains(read_text(f), value)) << f;
  }

  // A run resolves it from the server: the task gets the real value (its length shows), and
  // the value is nowhere in what ferry kept or printed.
  home.register_flow(ferry::test::fixture("e2e/secret_flow.cpp").string());
  std::string id = home.create_run({"secret_flow"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  EXPECT_EQ(agent.exit_code, 0) << agent.err;
  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "token length " + std::to_string(value.size()))) << logs.out;
  EXPECT_FALSE(contains(logs.out + agent.out + agent.err, value));
  for (const auto& command : home.inspection_commands()) {
    CommandResult shown = home.ferry(command);
    EXPECT_FALSE(contains(shown.out + shown.err, value)) << command.back();
  }
  for (const fs::path& f : files_under(home.path())) {
    EXPECT_FALSE(contains(read_text(f), value)) << f;
  }

  CommandResult rm = home.ferry({"secrets", "rm", "API_TOKEN"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  CommandResult empty = home.ferry({"secrets", "ls", "--json"});
  EXPECT_EQ(Value::parse(empty.out), Value::array());
}
