// What only the PostgreSQL backend does: its migrations (once, even with several servers
// starting at once), claiming from several connections, surviving a server restart, and
// messages that name the database without its password. What every backend does is in
// backend_conformance_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/postgres_backend.hpp"
#include "backend/postgres_migrations.hpp"
#include "ferry/error.hpp"
#include "support/ports.hpp"
#include "support/postgres_server.hpp"

namespace {

using ferry::State;
using ferry::Value;
using ferry::backend::FlowVersionSpec;
using ferry::backend::PostgresBackend;
using ferry::test::PostgresServer;

FlowVersionSpec spec(const std::string& flow) {
  FlowVersionSpec s;
  s.project = "proj";
  s.flow_name = flow;
  s.graph = Value{{"tasks", Value::array({"a"})}};
  s.run_config = Value{{"type", "Universal"}};
  s.storage = Value{{"type", "Local"}, {"path", "/flows/" + flow}};
  s.idempotency_key = "k";
  return s;
}

std::int64_t count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<std::int64_t>();
}

// Starts threads that each run f(i) at the same moment (after all have been created).
template <class F>
void run_together(int n, F f) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (!go) std::this_thread::yield();
      f(i);
    });
  }
  while (ready < n) std::this_thread::yield();
  go = true;
  for (auto& t : threads) t.join();
}

class PostgresBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { url_ = PostgresServer::shared().create_database(); }
  std::string url_;
};

TEST_F(PostgresBackendTest, MigrationsAreAppliedOnce) {
  const auto expected = static_cast<std::int64_t>(ferry::backend::postgres::migrations().size());
  PostgresBackend first(url_);
  EXPECT_EQ(count(url_, "SELECT COUNT(*) FROM schema_migrations"), expected);
  const auto applied_at = count(url_, "SELECT applied_at FROM schema_migrations WHERE version = 1");
  PostgresBackend second(url_);
  {
    pqxx::connection c(url_);
    EXPECT_EQ(ferry::backend::postgres::migrate(c, "test"), 0);
  }
  EXPECT_EQ(count(url_, "SELECT COUNT(*) FROM schema_migrations"), expected);
  EXPECT_EQ(count(url_, "SELECT applied_at FROM schema_migrations WHERE version = 1"), applied_at);
  for (const char* table :
       {"projects", "flows", "flow_versions", "flow_runs", "flow_run_states", "task_runs",
        "task_run_states", "logs", "agents", "api_keys", "secrets"}) {
    EXPECT_EQ(count(url_, std::string("SELECT COUNT(*) FROM information_schema.tables"
                                      " WHERE table_schema = 'public' AND table_name = '") +
                              table + "'"),
              1)
        << table;
  }
}

TEST_F(PostgresBackendTest, SeveralServersOpeningANewDatabaseAtOnceMigrateOnce) {
  constexpr int kServers = 6;
  std::vector<std::string> errors(kServers);
  run_together(kServers, [&](int i) {
    try {
      PostgresBackend backend(url_);
      backend.register_flow_version(spec("f" + std::to_string(i)));
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  });
  for (const auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(count(url_, "SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(ferry::backend::postgres::migrations().size()));
  EXPECT_EQ(count(url_, "SELECT COUNT(*) FROM flows"), kServers);
}

TEST_F(PostgresBackendTest, NewerSchemaIsRefusedNamingTheDatabase) {
  { PostgresBackend backend(url_); }
  {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)");
  }
  try {
    PostgresBackend backend(url_);
    FAIL() << "opened a database with a newer schema";
  } catch (const ferry::Error& e) {
    const std::string db = url_.substr(url_.find('@') + 1);
    EXPECT_NE(std::string(e.what()).find(db), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresBackendTest, ClaimIsAtomicAcrossConnections) {
  constexpr int kRuns = 200;
  constexpr int kAgents = 4;
  PostgresBackend setup(url_);
  const auto vid = setup.register_flow_version(spec("f")).version.id;
  std::set<std::string> created;
  for (int i = 0; i < kRuns; ++i) created.insert(setup.create_flow_run(vid, {}, {}).id);

  // Each agent its own backend object (its own connections), as separate servers would be.
  std::vector<std::vector<std::string>> got(kAgents);
  std::vector<std::string> errors(kAgents);
  run_together(kAgents, [&](int i) {
    try {
      PostgresBackend backend(url_, 1);
      const std::string agent = "agent-" + std::to_string(i);
      for (;;) {
        auto runs = backend.claim_flow_runs(agent, {}, 3);
        if (runs.empty()) break;
        for (const auto& r : runs) got[i].push_back(r.id);
      }
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  });
  for (const auto& e : errors) EXPECT_EQ(e, "");

  std::map<std::string, int> claimed_by;
  std::size_t total = 0;
  for (int i = 0; i < kAgents; ++i) {
    total += got[i].size();
    for (const auto& id : got[i]) {
      EXPECT_TRUE(claimed_by.emplace(id, i).second) << "run " << id << " claimed twice";
    }
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kRuns));
  ferry::backend::RunFilter all;
  all.limit = 0;
  const auto runs = setup.list_flow_runs(all);
  ASSERT_EQ(runs.size(), static_cast<std::size_t>(kRuns));
  for (const auto& r : runs) {
    EXPECT_TRUE(created.count(r.id));
    EXPECT_EQ(r.state, State::Pending);
    auto it = claimed_by.find(r.id);
    ASSERT_NE(it, claimed_by.end()) << r.id;
    EXPECT_EQ(r.agent_id, "agent-" + std::to_string(it->second));
  }
  EXPECT_EQ(count(url_, "SELECT COUNT(*) FROM flow_run_states WHERE state = 'Pending'"), kRuns);
}

TEST_F(PostgresBackendTest, LogSeqsOfConcurrentWritersAreIncreasing) {
  PostgresBackend backend(url_);
  run_together(4, [&](int i) {
    for (int n = 0; n < 20; ++n) {
      backend.add_logs({{"run", "t" + std::to_string(i), "INFO", std::to_string(n), {}, 0},
                        {"run", "t" + std::to_string(i), "INFO", std::to_string(n), {}, 0}});
    }
  });
  const auto lines = backend.get_logs("run");
  ASSERT_EQ(lines.size(), 160u);
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_LT(lines[i - 1].seq, lines[i].seq);
}

TEST_F(PostgresBackendTest, InvalidUtf8IsReplacedNotRefused) {
  PostgresBackend backend(url_);
  const auto vid = backend.register_flow_version(spec("f")).version.id;
  const auto run = backend.create_flow_run(vid, {}, {}).id;
  backend.add_logs({{run, "", "INFO", std::string("bad \xff\xfe byte and a \0 NUL", 23), {}, 0}});
  backend.set_flow_run_state(run, State::Failed, "error: \xc3");
  const auto lines = backend.get_logs(run);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].message, "bad \xef\xbf\xbd\xef\xbf\xbd byte and a \xef\xbf\xbd NUL");
  EXPECT_EQ(backend.get_flow_run(run)->message, "error: \xef\xbf\xbd");
}

// Restarts the shared server; it is started again even when the test fails.
class PostgresRestart : public PostgresBackendTest {
 protected:
  void TearDown() override { PostgresServer::shared().start(); }
};

TEST_F(PostgresRestart, TheSameBackendWorksAfterTheServerRestarts) {
  // A password in the URL (trust authentication ignores it) must appear in no message.
  const std::string url_with_password =
      "postgresql://postgres:hunter2@" + url_.substr(url_.find('@') + 1);
  PostgresBackend backend(url_with_password);
  const auto vid = backend.register_flow_version(spec("f")).version.id;
  const auto before = backend.create_flow_run(vid, {}, {}).id;
  // Several idle pooled connections, all broken by the restart.
  run_together(3, [&](int) { backend.list_flow_runs({}); });

  auto& server = PostgresServer::shared();
  server.stop();
  try {
    backend.get_flow_run(before);
    FAIL() << "no error with the server down";
  } catch (const ferry::Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("could not read flow run " + before + ": PostgreSQL at 127.0.0.1:", 0), 0u)
        << what;
    EXPECT_NE(what.find(url_.substr(url_.find('@') + 1)), std::string::npos) << what;
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
  }
  server.start();

  auto run = backend.get_flow_run(before);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Scheduled);
  const auto after = backend.create_flow_run(vid, {}, {}).id;
  EXPECT_EQ(backend.claim_flow_runs("agent", {}, 5).size(), 2u);
  run_together(4, [&](int) { EXPECT_TRUE(backend.get_flow_run(after)); });
}

TEST(PostgresBackendOpen, UnreachableServerErrorNamesTheDatabaseNotThePassword) {
  const int port = ferry::test::free_port();  // nothing listens there
  const std::string url =
      "postgresql://ferry:s3cret@127.0.0.1:" + std::to_string(port) + "/ferrydb";
  try {
    PostgresBackend backend(url);
    FAIL() << "connected to a closed port";
  } catch (const ferry::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(port) + "/ferrydb"), std::string::npos)
        << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
}

TEST(PostgresBackendUrl, PasswordsAreRedacted) {
  using ferry::backend::redact_postgres_url;
  EXPECT_EQ(redact_postgres_url("postgresql://u:pw@db.example:5433/ferry?sslmode=require"),
            "postgresql://u@db.example:5433/ferry?sslmode=require");
  EXPECT_EQ(redact_postgres_url("postgres://u@h/db"), "postgres://u@h/db");
  EXPECT_EQ(redact_postgres_url("postgresql://h/db?password=pw&sslmode=disable"),
            "postgresql://h/db?sslmode=disable");
  EXPECT_EQ(redact_postgres_url("postgresql://h/db?sslmode=disable&password=pw"),
            "postgresql://h/db?sslmode=disable");
  EXPECT_EQ(redact_postgres_url("host=h port=5 dbname=d user=u password='p w'"),
            "host='h' port='5' dbname='d' user='u'");
}

}  // namespace
