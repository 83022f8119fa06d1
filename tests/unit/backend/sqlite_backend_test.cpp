// What only the embedded SQLite backend does: its migrations, opening errors naming the
// file, the default backend in FERRY_HOME, and several processes sharing one file. What
// every backend does is in backend_conformance_test.cpp.
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

// ---- claiming -------------------------------------------------------------------------

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

}  // namespace
