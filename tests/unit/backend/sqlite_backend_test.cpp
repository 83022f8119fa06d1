// The embedded SQLite backend: migrations, flows and versions, runs and their history,
// claiming (atomic across processes), lost runs, task runs, logs and agents.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "backend/migrations.hpp"
#include "backend/sqlite_db.hpp"
#include "ferry/error.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ferry::State;
using ferry::Value;
using ferry::backend::Backend;
using ferry::backend::FlowRun;
using ferry::backend::FlowVersionSpec;
using ferry::backend::open_sqlite_backend;
using ferry::test::TempDir;

FlowVersionSpec spec(const std::string& project, const std::string& flow, const std::string& key,
                     std::vector<std::string> labels = {}) {
  FlowVersionSpec s;
  s.project = project;
  s.flow_name = flow;
  s.graph = Value{{"tasks", Value::array({"a", "b"})}, {"key", key}};
  s.run_config = Value{{"type", "Universal"}};
  s.labels = std::move(labels);
  s.storage = Value{{"type", "Local"}, {"path", "/flows/" + flow}};
  s.result = nullptr;
  s.idempotency_key = key;
  return s;
}

std::int64_t count_rows(const std::string& db_path, const std::string& sql) {
  ferry::backend::sqlite::Database db(db_path);
  auto q = db.prepare(sql);
  EXPECT_TRUE(q.step()) << sql;
  return q.int64(0);
}

// Waits for a child process; returns its exit code (or -1 if it did not exit normally).
int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

class SqliteBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "ferry.db").string();
    backend_ = open_sqlite_backend(path_);
  }

  std::int64_t version_id(const std::string& flow = "flow") {
    return backend_->register_flow_version(spec("proj", flow, "k1")).version.id;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Backend> backend_;
};

// ---- migrations -----------------------------------------------------------------------

TEST_F(SqliteBackendTest, MigrationsAreAppliedOnce) {
  const auto expected = static_cast<std::int64_t>(ferry::backend::sqlite::migrations().size());
  ASSERT_GT(expected, 0);
  EXPECT_EQ(count_rows(path_, "SELECT COUNT(*) FROM schema_migrations"), expected);
  const auto applied_at =
      count_rows(path_, "SELECT applied_at FROM schema_migrations WHERE version = 1");

  // Opening again, while the first backend is still open, applies nothing.
  auto second = open_sqlite_backend(path_);
  auto third = open_sqlite_backend(path_);
  EXPECT_EQ(count_rows(path_, "SELECT COUNT(*) FROM schema_migrations"), expected);
  EXPECT_EQ(count_rows(path_, "SELECT applied_at FROM schema_migrations WHERE version = 1"),
            applied_at);
  ferry::backend::sqlite::Database db(path_);
  EXPECT_EQ(ferry::backend::sqlite::migrate(db), 0);

  // The schema is there, in WAL mode.
  for (const char* table : {"projects", "flows", "flow_versions", "flow_runs", "flow_run_states",
                            "task_runs", "task_run_states", "logs", "agents"}) {
    EXPECT_EQ(count_rows(path_, std::string("SELECT COUNT(*) FROM sqlite_schema WHERE type = "
                                            "'table' AND name = '") +
                                    table + "'"),
              1)
        << table;
  }
  auto q = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "wal");
}

TEST_F(SqliteBackendTest, MigrationsFromSeveralProcessesAtOnceApplyEachOnce) {
  const std::string fresh = (dir_ / "fresh.db").string();
  backend_.reset();
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) > 0) {
      }  // released when the parent closes its end
      try {
        auto b = open_sqlite_backend(fresh);
        b->register_flow_version(spec("p", "f" + std::to_string(i), "k"));
        b.reset();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", i, e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : children) EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(count_rows(fresh, "SELECT COUNT(*) FROM schema_migrations"),
            static_cast<std::int64_t>(ferry::backend::sqlite::migrations().size()));
  EXPECT_EQ(count_rows(fresh, "SELECT COUNT(*) FROM flows"), 4);
}

TEST_F(SqliteBackendTest, NewerSchemaIsRefusedNamingTheFile) {
  backend_.reset();
  {
    ferry::backend::sqlite::Database db(path_);
    db.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)");
  }
  try {
    open_sqlite_backend(path_);
    FAIL() << "opened a database with a newer schema";
  } catch (const ferry::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
  }
}

TEST(SqliteBackendOpen, ErrorNamesThePath) {
  TempDir dir;
  const std::string path = (dir / "missing-folder" / "ferry.db").string();
  try {
    open_sqlite_backend(path);
    FAIL() << "opened a database in a missing folder";
  } catch (const ferry::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(SqliteBackendOpen, DefaultBackendLivesInFerryHomeAndCreatesIt) {
  TempDir dir;
  const fs::path home = dir / "nested" / "home";
  const char* previous = std::getenv("FERRY_HOME");
  const std::string saved = previous ? previous : "";
  ::setenv("FERRY_HOME", home.c_str(), 1);
  try {
    auto backend = ferry::backend::open_default_backend();
    backend->register_flow_version(spec("p", "f", "k"));
  } catch (...) {
    previous ? ::setenv("FERRY_HOME", saved.c_str(), 1) : ::unsetenv("FERRY_HOME");
    throw;
  }
  previous ? ::setenv("FERRY_HOME", saved.c_str(), 1) : ::unsetenv("FERRY_HOME");
  EXPECT_TRUE(fs::exists(home / "ferry.db"));
  EXPECT_EQ(count_rows((home / "ferry.db").string(), "SELECT COUNT(*) FROM flows"), 1);
}

// ---- flows and versions ---------------------------------------------------------------

TEST_F(SqliteBackendTest, RegisterIsIdempotentOnTheLatestKeyAndNumbersVersions) {
  auto first = backend_->register_flow_version(spec("proj", "etl", "k1", {"gpu"}));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.version.version, 1);
  EXPECT_GT(first.version.id, 0);

  auto again = backend_->register_flow_version(spec("proj", "etl", "k1", {"gpu"}));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.version.id, first.version.id);
  EXPECT_EQ(again.version.version, 1);
  EXPECT_EQ(again.version.labels, std::vector<std::string>{"gpu"});

  auto second = backend_->register_flow_version(spec("proj", "etl", "k2"));
  EXPECT_TRUE(second.created);
  EXPECT_EQ(second.version.version, 2);
  // Only the latest version's key counts: k1 again is a new version 3.
  auto third = backend_->register_flow_version(spec("proj", "etl", "k1"));
  EXPECT_TRUE(third.created);
  EXPECT_EQ(third.version.version, 3);
  // No key: always a new version.
  EXPECT_EQ(backend_->register_flow_version(spec("proj", "etl", "")).version.version, 4);
  EXPECT_EQ(backend_->register_flow_version(spec("proj", "etl", "")).version.version, 5);
  // Another flow numbers from 1.
  EXPECT_EQ(backend_->register_flow_version(spec("proj", "other", "k1")).version.version, 1);
  EXPECT_EQ(backend_->register_flow_version(spec("proj2", "etl", "k1")).version.version, 1);

  auto latest = backend_->get_flow_version("proj", "etl");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version, 5);

  auto v1 = backend_->get_flow_version("proj", "etl", 1);
  ASSERT_TRUE(v1);
  const auto expected = spec("proj", "etl", "k1", {"gpu"});
  EXPECT_EQ(v1->id, first.version.id);
  EXPECT_EQ(v1->project, "proj");
  EXPECT_EQ(v1->flow_name, "etl");
  EXPECT_EQ(v1->graph, expected.graph);
  EXPECT_EQ(v1->run_config, expected.run_config);
  EXPECT_EQ(v1->storage, expected.storage);
  EXPECT_TRUE(v1->result.is_null());
  EXPECT_EQ(v1->labels, expected.labels);
  EXPECT_EQ(v1->idempotency_key, "k1");
  EXPECT_LE(v1->created, ferry::backend::Clock::now());
  EXPECT_GT(v1->created, ferry::backend::Clock::now() - 60s);

  auto by_id = backend_->get_flow_version_by_id(second.version.id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->version, 2);
  EXPECT_EQ(by_id->idempotency_key, "k2");

  EXPECT_FALSE(backend_->get_flow_version("proj", "etl", 9));
  EXPECT_FALSE(backend_->get_flow_version("proj", "nope"));
  EXPECT_FALSE(backend_->get_flow_version("nope", "etl"));
  EXPECT_FALSE(backend_->get_flow_version_by_id(123456));
  EXPECT_THROW(backend_->register_flow_version(spec("", "etl", "k")), ferry::ValueError);
}

TEST_F(SqliteBackendTest, ListFlowsGivesTheLatestVersionOfEachSorted) {
  backend_->register_flow_version(spec("b", "x", "1"));
  backend_->register_flow_version(spec("b", "x", "2"));
  backend_->register_flow_version(spec("a", "z", "1"));
  backend_->register_flow_version(spec("a", "y", "1"));
  backend_->register_flow_version(spec("a", "y", "2"));
  backend_->register_flow_version(spec("a", "y", "3"));

  auto all = backend_->list_flows("");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].project + "/" + all[0].flow_name, "a/y");
  EXPECT_EQ(all[0].version, 3);
  EXPECT_EQ(all[1].project + "/" + all[1].flow_name, "a/z");
  EXPECT_EQ(all[1].version, 1);
  EXPECT_EQ(all[2].project + "/" + all[2].flow_name, "b/x");
  EXPECT_EQ(all[2].version, 2);
  EXPECT_EQ(all[2].idempotency_key, "2");

  auto a = backend_->list_flows("a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].flow_name, "y");
  EXPECT_EQ(a[1].flow_name, "z");
  EXPECT_TRUE(backend_->list_flows("nope").empty());
}

// ---- runs -----------------------------------------------------------------------------

TEST_F(SqliteBackendTest, RunLifecycleKeepsHistory) {
  const auto vid = version_id("etl");
  const Value params{{"n", 3}, {"name", "x"}};
  auto run = backend_->create_flow_run(vid, params, {"a"});
  ASSERT_EQ(run.id.size(), 32u);
  EXPECT_EQ(run.id.find_first_not_of("0123456789abcdef"), std::string::npos) << run.id;
  EXPECT_EQ(run.state, State::Scheduled);
  EXPECT_EQ(run.project, "proj");
  EXPECT_EQ(run.flow_name, "etl");
  EXPECT_EQ(run.flow_version, 1);
  EXPECT_EQ(run.flow_version_id, vid);
  EXPECT_EQ(run.parameters, params);
  EXPECT_EQ(run.labels, std::vector<std::string>{"a"});
  EXPECT_NE(backend_->create_flow_run(vid, params, {}).id, run.id);

  auto stored = backend_->get_flow_run(run.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, State::Scheduled);
  EXPECT_EQ(stored->parameters, params);
  EXPECT_EQ(stored->labels, std::vector<std::string>{"a"});
  EXPECT_FALSE(stored->heartbeat);
  ASSERT_EQ(stored->history.size(), 1u);
  EXPECT_EQ(stored->history[0].state, State::Scheduled);

  auto claimed = backend_->claim_flow_runs("agent-1", {"a"}, 1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, run.id);  // oldest first
  EXPECT_EQ(claimed[0].state, State::Pending);
  EXPECT_EQ(claimed[0].agent_id, "agent-1");
  EXPECT_TRUE(claimed[0].heartbeat);

  backend_->set_flow_run_state(run.id, State::Running, "Running flow");
  backend_->set_flow_run_pinned(run.id, Value{{"sha", "abc123"}});
  backend_->set_flow_run_result(run.id, Value{{"out", 42}});
  backend_->set_flow_run_state(run.id, State::Success, "All tasks succeeded");

  stored = backend_->get_flow_run(run.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, State::Success);
  EXPECT_EQ(stored->message, "All tasks succeeded");
  EXPECT_EQ(stored->agent_id, "agent-1");
  EXPECT_EQ(stored->pinned, (Value{{"sha", "abc123"}}));
  EXPECT_EQ(stored->result, (Value{{"out", 42}}));
  EXPECT_GE(stored->updated, stored->created);
  ASSERT_EQ(stored->history.size(), 4u);
  EXPECT_EQ(stored->history[0].state, State::Scheduled);
  EXPECT_EQ(stored->history[1].state, State::Pending);
  EXPECT_EQ(stored->history[1].message, "Claimed by agent agent-1");
  EXPECT_EQ(stored->history[2].state, State::Running);
  EXPECT_EQ(stored->history[2].message, "Running flow");
  EXPECT_EQ(stored->history[3].state, State::Success);
  for (std::size_t i = 1; i < stored->history.size(); ++i) {
    EXPECT_GE(stored->history[i].at, stored->history[i - 1].at);
  }
}

TEST_F(SqliteBackendTest, ListFlowRunsFiltersNewestFirst) {
  const auto etl = version_id("etl");
  const auto other = version_id("other");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(backend_->create_flow_run(etl, {}, {}).id);
  const auto other_run = backend_->create_flow_run(other, {}, {}).id;
  backend_->set_flow_run_state(ids[1], State::Running, "");

  auto all = backend_->list_flow_runs({});
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].id, other_run);
  EXPECT_EQ(all[3].id, ids[0]);
  EXPECT_TRUE(all[0].history.empty());

  ferry::backend::RunFilter f;
  f.flow_name = "etl";
  EXPECT_EQ(backend_->list_flow_runs(f).size(), 3u);
  f.state = State::Running;
  auto running = backend_->list_flow_runs(f);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, ids[1]);
  f = {};
  f.limit = 2;
  EXPECT_EQ(backend_->list_flow_runs(f).size(), 2u);
  f = {};
  f.project = "nope";
  EXPECT_TRUE(backend_->list_flow_runs(f).empty());
}

TEST_F(SqliteBackendTest, FinalStateIsNotOverwrittenButRecorded) {
  auto run = backend_->create_flow_run(version_id(), {}, {});
  backend_->set_flow_run_state(run.id, State::Running, "");
  backend_->set_flow_run_state(run.id, State::Failed, "task a failed");
  backend_->set_flow_run_state(run.id, State::Running, "late report");
  backend_->set_flow_run_state(run.id, State::Success, "later report");

  auto stored = backend_->get_flow_run(run.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, State::Failed);
  EXPECT_EQ(stored->message, "task a failed");
  ASSERT_EQ(stored->history.size(), 5u);
  EXPECT_EQ(stored->history[3].state, State::Running);
  EXPECT_EQ(stored->history[3].message, "late report");
  EXPECT_EQ(stored->history[4].state, State::Success);
}

TEST_F(SqliteBackendTest, MissingRowsGiveNothingAndSettersSayWhich) {
  EXPECT_FALSE(backend_->get_flow_run("0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(backend_->get_task_runs("nope").empty());
  EXPECT_TRUE(backend_->get_logs("nope").empty());
  EXPECT_TRUE(backend_->list_agents().empty());
  EXPECT_TRUE(backend_->claim_flow_runs("agent", {}, 5).empty());
  EXPECT_TRUE(backend_->mark_lost_runs(0ms).empty());
  backend_->heartbeat_flow_runs({"nope"});
  backend_->heartbeat_agent("nope");

  try {
    backend_->set_flow_run_state("missing-run", State::Running, "");
    FAIL() << "no error for a missing run";
  } catch (const ferry::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("missing-run"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
  }
  EXPECT_THROW(backend_->set_flow_run_result("missing-run", 1), ferry::ValueError);
  EXPECT_THROW(backend_->set_flow_run_pinned("missing-run", 1), ferry::ValueError);
  EXPECT_THROW(backend_->set_task_run_state("missing-run", "t", State::Running, "", 1, ""),
               ferry::ValueError);
  EXPECT_THROW(backend_->create_flow_run(98765, {}, {}), ferry::ValueError);
}

// ---- claiming -------------------------------------------------------------------------

TEST_F(SqliteBackendTest, ClaimTakesOnlyRunsWhoseLabelsTheAgentHas) {
  const auto vid = version_id();
  const auto a = backend_->create_flow_run(vid, {}, {"a"}).id;
  const auto ac = backend_->create_flow_run(vid, {}, {"a", "c"}).id;
  const auto none = backend_->create_flow_run(vid, {}, {}).id;
  const auto b = backend_->create_flow_run(vid, {}, {"b"}).id;

  // max_runs is respected, oldest first.
  auto first = backend_->claim_flow_runs("agent-ab", {"a", "b"}, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id, a);
  auto rest = backend_->claim_flow_runs("agent-ab", {"a", "b"}, 10);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, none);
  EXPECT_EQ(rest[1].id, b);
  EXPECT_TRUE(backend_->claim_flow_runs("agent-ab", {"a", "b"}, 10).empty());

  auto left = backend_->get_flow_run(ac);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->state, State::Scheduled);
  EXPECT_TRUE(left->agent_id.empty());
  EXPECT_TRUE(backend_->claim_flow_runs("agent-none", {}, 10).empty());
  EXPECT_TRUE(backend_->claim_flow_runs("agent-x", {"a", "c"}, 0).empty());

  auto got = backend_->claim_flow_runs("agent-acd", {"d", "c", "a"}, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, ac);
  EXPECT_EQ(got[0].agent_id, "agent-acd");
}

TEST_F(SqliteBackendTest, ReleasedRunCanBeClaimedAgain) {
  const auto id = backend_->create_flow_run(version_id(), {}, {}).id;
  ASSERT_EQ(backend_->claim_flow_runs("agent-1", {}, 5).size(), 1u);
  backend_->set_flow_run_state(id, State::Scheduled, "Released by agent agent-1");
  auto run = backend_->get_flow_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Scheduled);
  EXPECT_TRUE(run->agent_id.empty());
  EXPECT_FALSE(run->heartbeat);
  EXPECT_TRUE(backend_->mark_lost_runs(0ms).empty());  // nobody holds it: not lost

  auto again = backend_->claim_flow_runs("agent-2", {}, 5);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].agent_id, "agent-2");
  run = backend_->get_flow_run(id);
  ASSERT_EQ(run->history.size(), 4u);
  EXPECT_EQ(run->history[3].message, "Claimed by agent agent-2");
}

TEST_F(SqliteBackendTest, ClaimIsAtomicAcrossProcesses) {
  constexpr int kRuns = 200;
  constexpr int kChildren = 4;
  const auto vid = version_id();
  std::set<std::string> created;
  for (int i = 0; i < kRuns; ++i) created.insert(backend_->create_flow_run(vid, {}, {}).id);
  ASSERT_EQ(created.size(), static_cast<std::size_t>(kRuns));
  backend_.reset();  // no open connection may cross fork()

  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(gate[1]);
      int code = 0;
      try {
        auto b = open_sqlite_backend(path_);
        char c;
        while (::read(gate[0], &c, 1) > 0) {
        }  // all children start claiming together
        std::ofstream out(dir_ / ("claimed-" + std::to_string(i)));
        const std::string agent = "agent-" + std::to_string(i);
        for (;;) {
          auto runs = b->claim_flow_runs(agent, {}, 3);
          if (runs.empty()) break;
          for (const auto& r : runs) out << r.id << "\n";
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", i, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : children) EXPECT_EQ(wait_child(pid), 0);

  backend_ = open_sqlite_backend(path_);
  std::map<std::string, int> claimed_by;  // run id -> child
  std::map<std::string, int> per_agent;
  std::size_t total = 0;
  for (int i = 0; i < kChildren; ++i) {
    const auto ids = read_lines(dir_ / ("claimed-" + std::to_string(i)));
    total += ids.size();
    per_agent["agent-" + std::to_string(i)] = static_cast<int>(ids.size());
    for (const auto& id : ids) {
      EXPECT_TRUE(claimed_by.emplace(id, i).second) << "run " << id << " claimed twice";
    }
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kRuns));
  EXPECT_EQ(claimed_by.size(), static_cast<std::size_t>(kRuns));

  // What the database says agrees: each run Pending with the agent that reported it.
  std::map<std::string, int> stored_per_agent;
  ferry::backend::RunFilter all;
  all.limit = 0;
  const auto runs = backend_->list_flow_runs(all);
  ASSERT_EQ(runs.size(), static_cast<std::size_t>(kRuns));
  for (const auto& r : runs) {
    EXPECT_TRUE(created.count(r.id));
    EXPECT_EQ(r.state, State::Pending);
    ++stored_per_agent[r.agent_id];
    auto it = claimed_by.find(r.id);
    ASSERT_NE(it, claimed_by.end()) << r.id;
    EXPECT_EQ(r.agent_id, "agent-" + std::to_string(it->second));
  }
  for (const auto& [agent, n] : per_agent) {
    EXPECT_EQ(stored_per_agent[agent], n) << agent;
  }
  EXPECT_EQ(count_rows(path_, "SELECT COUNT(*) FROM flow_run_states WHERE state = 'Pending'"),
            kRuns);
}

TEST_F(SqliteBackendTest, ClaimFromSeveralThreadsOfOneBackend) {
  const auto vid = version_id();
  for (int i = 0; i < 60; ++i) backend_->create_flow_run(vid, {}, {});
  std::vector<std::vector<std::string>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto runs = backend_->claim_flow_runs("agent-" + std::to_string(t), {}, 2);
        if (runs.empty()) break;
        for (const auto& r : runs) {
          got[t].push_back(r.id);
          backend_->set_task_run_state(r.id, "task", State::Running, "", 1, "");
          backend_->add_logs({{r.id, "task", "INFO", "hello", {}, 0}});
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> unique;
  std::size_t total = 0;
  for (const auto& ids : got) {
    total += ids.size();
    unique.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, 60u);
  EXPECT_EQ(unique.size(), 60u);
}

// ---- lost runs ------------------------------------------------------------------------

TEST_F(SqliteBackendTest, MarkLostRunsUsesTheHeartbeat) {
  const auto vid = version_id();
  const auto silent = backend_->create_flow_run(vid, {}, {}).id;
  const auto alive = backend_->create_flow_run(vid, {}, {}).id;
  ASSERT_EQ(backend_->claim_flow_runs("agent-7", {}, 2).size(), 2u);
  backend_->set_flow_run_state(alive, State::Running, "");
  const auto waiting = backend_->create_flow_run(vid, {}, {}).id;  // Scheduled: never lost
  const auto before = backend_->get_flow_run(alive)->heartbeat;
  ASSERT_TRUE(before);

  std::this_thread::sleep_for(300ms);
  backend_->heartbeat_flow_runs({alive});
  const auto after = backend_->get_flow_run(alive)->heartbeat;
  ASSERT_TRUE(after);
  EXPECT_GT(*after, *before);

  auto lost = backend_->mark_lost_runs(150ms);
  ASSERT_EQ(lost, std::vector<std::string>{silent});
  auto run = backend_->get_flow_run(silent);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Lost);
  EXPECT_EQ(run->message.rfind("Lost: agent agent-7 last heartbeat at ", 0), 0u) << run->message;
  EXPECT_NE(run->message.find("no heartbeat for"), std::string::npos) << run->message;
  ASSERT_FALSE(run->history.empty());
  EXPECT_EQ(run->history.back().state, State::Lost);
  EXPECT_EQ(backend_->get_flow_run(alive)->state, State::Running);
  EXPECT_EQ(backend_->get_flow_run(waiting)->state, State::Scheduled);

  // Already lost: not again; a late report cannot undo it.
  EXPECT_TRUE(backend_->mark_lost_runs(150ms).empty());
  backend_->set_flow_run_state(silent, State::Success, "finished after all");
  run = backend_->get_flow_run(silent);
  EXPECT_EQ(run->state, State::Lost);
  EXPECT_EQ(run->history.back().state, State::Success);
}

// ---- task runs, logs, agents ----------------------------------------------------------

TEST_F(SqliteBackendTest, TaskRunsAreUpsertedWithHistory) {
  const auto run = backend_->create_flow_run(version_id(), {}, {}).id;
  const auto other = backend_->create_flow_run(version_id(), {}, {}).id;
  backend_->set_task_run_state(run, "extract", State::Running, "", 1, "");
  backend_->set_task_run_state(run, "load", State::Pending, "waiting", 0, "");
  backend_->set_task_run_state(run, "extract", State::Retrying, "boom", 1, "");
  backend_->set_task_run_state(run, "extract", State::Success, "ok", 2, "file:///r/extract");
  backend_->set_task_run_state(other, "extract", State::Failed, "other run", 1, "");

  auto tasks = backend_->get_task_runs(run);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].task_name, "extract");
  EXPECT_EQ(tasks[0].run_id, run);
  EXPECT_EQ(tasks[0].state, State::Success);
  EXPECT_EQ(tasks[0].message, "ok");
  EXPECT_EQ(tasks[0].attempts, 2);
  EXPECT_EQ(tasks[0].result_location, "file:///r/extract");
  ASSERT_EQ(tasks[0].history.size(), 3u);
  EXPECT_EQ(tasks[0].history[0].state, State::Running);
  EXPECT_EQ(tasks[0].history[1].state, State::Retrying);
  EXPECT_EQ(tasks[0].history[1].message, "boom");
  EXPECT_EQ(tasks[0].history[2].state, State::Success);
  EXPECT_EQ(tasks[1].task_name, "load");
  EXPECT_EQ(tasks[1].state, State::Pending);
  ASSERT_EQ(tasks[1].history.size(), 1u);
  EXPECT_EQ(tasks[1].history[0].message, "waiting");

  auto other_tasks = backend_->get_task_runs(other);
  ASSERT_EQ(other_tasks.size(), 1u);
  EXPECT_EQ(other_tasks[0].state, State::Failed);
  EXPECT_EQ(other_tasks[0].history.size(), 1u);
}

TEST_F(SqliteBackendTest, LogsAreReadInOrderAfterASeq) {
  using ferry::backend::LogLine;
  const auto t0 = ferry::backend::Clock::time_point(std::chrono::milliseconds(1700000000123));
  backend_->add_logs({{"run1", "", "INFO", "flow started", t0, 0},
                      {"run1", "extract", "DEBUG", "reading", t0 + 1ms, 0},
                      {"run2", "", "INFO", "other run", t0, 0}});
  backend_->add_logs({{"run1", "extract", "ERROR", "failed: ünïcode", {}, 0}});
  backend_->add_logs({});

  auto all = backend_->get_logs("run1");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].message, "flow started");
  EXPECT_EQ(all[0].task_name, "");
  EXPECT_EQ(all[0].level, "INFO");
  EXPECT_EQ(all[0].at, t0);
  EXPECT_EQ(all[1].task_name, "extract");
  EXPECT_EQ(all[1].at, t0 + 1ms);
  EXPECT_EQ(all[2].message, "failed: ünïcode");
  EXPECT_GT(all[2].at, t0);  // stamped when written
  EXPECT_LT(all[0].seq, all[1].seq);
  EXPECT_LT(all[1].seq, all[2].seq);

  auto after = backend_->get_logs("run1", all[0].seq);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seq, all[1].seq);
  EXPECT_TRUE(backend_->get_logs("run1", all[2].seq).empty());
  auto limited = backend_->get_logs("run1", 0, 1);
  ASSERT_EQ(limited.size(), 1u);
  EXPECT_EQ(limited[0].seq, all[0].seq);
  EXPECT_EQ(backend_->get_logs("run2").size(), 1u);
}

TEST_F(SqliteBackendTest, AgentsAreUpsertedAndListed) {
  using ferry::backend::Agent;
  using ferry::backend::Clock;
  const auto t0 = Clock::time_point(std::chrono::milliseconds(1700000000000));
  backend_->register_agent({"id-2", "beta", {"x"}, t0, t0});
  backend_->register_agent({"id-1", "alpha", {"a", "b"}, t0, t0});
  auto agents = backend_->list_agents();
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_EQ(agents[0].id, "id-1");
  EXPECT_EQ(agents[0].name, "alpha");
  EXPECT_EQ(agents[0].labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(agents[0].started, t0);
  EXPECT_EQ(agents[0].heartbeat, t0);

  // Registering the same id again replaces it.
  backend_->register_agent({"id-1", "alpha2", {"c"}, t0 + 5s, t0 + 5s});
  backend_->heartbeat_agent("id-2");
  agents = backend_->list_agents();
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_EQ(agents[0].name, "alpha2");
  EXPECT_EQ(agents[0].labels, std::vector<std::string>{"c"});
  EXPECT_EQ(agents[0].started, t0 + 5s);
  EXPECT_EQ(agents[1].id, "id-2");
  EXPECT_GT(agents[1].heartbeat, Clock::now() - 60s);
  EXPECT_EQ(agents[1].started, t0);
  EXPECT_THROW(backend_->register_agent({"", "x", {}, t0, t0}), ferry::ValueError);
}

}  // namespace
