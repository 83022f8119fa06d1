// What every Backend does, whatever stores it: one typed suite run on the embedded SQLite
// backend and on the PostgreSQL one (a fresh database of the shared test server per test).
// Flows and versions, runs and their history, claiming, lost runs, task runs, logs, agents,
// API keys and secrets. Tests of one backend only (migrations, several processes, server
// restarts) are in sqlite_backend_test.cpp and postgres_backend_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "backend/postgres_backend.hpp"
#include "ferry/error.hpp"
#include "support/postgres_server.hpp"
#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using ferry::State;
using ferry::Value;
using ferry::backend::Backend;
using ferry::backend::Clock;
using ferry::backend::FlowVersionSpec;

// A new, empty SQLite database in a temp folder; messages name its path.
struct SqliteDatabase {
  ferry::test::TempDir dir;
  std::string path = (dir / "ferry.db").string();
  std::unique_ptr<Backend> open() const { return ferry::backend::open_sqlite_backend(path); }
  std::string location() const { return path; }
};

// A new, empty database on the shared PostgreSQL server; messages name host:port/db.
struct PostgresDatabase {
  std::string url = ferry::test::PostgresServer::shared().create_database();
  std::unique_ptr<Backend> open() const { return ferry::backend::open_postgres_backend(url); }
  std::string location() const { return url.substr(url.find('@') + 1); }
};

FlowVersionSpec spec(const std::string& project, const std::string& flow, const std::string& key,
                     std::vector<std::string> labels = {}, Value run_config = nullptr) {
  FlowVersionSpec s;
  s.project = project;
  s.flow_name = flow;
  s.graph = Value{{"tasks", Value::array({"a", "b"})}, {"key", key}};
  s.run_config = run_config.is_null() ? Value{{"type", "Universal"}} : std::move(run_config);
  s.labels = std::move(labels);
  s.storage = Value{{"type", "Local"}, {"path", "/flows/" + flow}};
  s.result = nullptr;
  s.idempotency_key = key;
  return s;
}

template <class Database>
class BackendConformance : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = db_.open(); }

  std::int64_t version_id(const std::string& flow = "flow", Value run_config = nullptr) {
    return backend_->register_flow_version(spec("proj", flow, "k1", {}, std::move(run_config)))
        .version.id;
  }

  Database db_;
  std::unique_ptr<Backend> backend_;
};

TYPED_TEST_SUITE_P(BackendConformance);

// ---- flows and versions ---------------------------------------------------------------

TYPED_TEST_P(BackendConformance, RegisterIsIdempotentOnTheLatestKeyAndNumbersVersions) {
  auto& backend = this->backend_;
  auto first = backend->register_flow_version(spec("proj", "etl", "k1", {"gpu"}));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.version.version, 1);
  EXPECT_GT(first.version.id, 0);

  auto again = backend->register_flow_version(spec("proj", "etl", "k1", {"gpu"}));
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.version.id, first.version.id);
  EXPECT_EQ(again.version.version, 1);
  EXPECT_EQ(again.version.labels, std::vector<std::string>{"gpu"});

  auto second = backend->register_flow_version(spec("proj", "etl", "k2"));
  EXPECT_TRUE(second.created);
  EXPECT_EQ(second.version.version, 2);
  // Only the latest version's key counts: k1 again is a new version 3.
  auto third = backend->register_flow_version(spec("proj", "etl", "k1"));
  EXPECT_TRUE(third.created);
  EXPECT_EQ(third.version.version, 3);
  // No key: always a new version; forced: a new one even with the same key.
  EXPECT_EQ(backend->register_flow_version(spec("proj", "etl", "")).version.version, 4);
  EXPECT_EQ(backend->register_flow_version(spec("proj", "etl", "")).version.version, 5);
  auto forced = spec("proj", "etl", "");
  forced.force_new_version = true;
  EXPECT_EQ(backend->register_flow_version(forced).version.version, 6);
  // Another flow numbers from 1.
  EXPECT_EQ(backend->register_flow_version(spec("proj", "other", "k1")).version.version, 1);
  EXPECT_EQ(backend->register_flow_version(spec("proj2", "etl", "k1")).version.version, 1);

  auto latest = backend->get_flow_version("proj", "etl");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version, 6);

  auto v1 = backend->get_flow_version("proj", "etl", 1);
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
  EXPECT_LE(v1->created, Clock::now());
  EXPECT_GT(v1->created, Clock::now() - 60s);

  auto by_id = backend->get_flow_version_by_id(second.version.id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->version, 2);
  EXPECT_EQ(by_id->idempotency_key, "k2");

  EXPECT_FALSE(backend->get_flow_version("proj", "etl", 9));
  EXPECT_FALSE(backend->get_flow_version("proj", "nope"));
  EXPECT_FALSE(backend->get_flow_version("nope", "etl"));
  EXPECT_FALSE(backend->get_flow_version_by_id(123456));
  EXPECT_THROW(backend->register_flow_version(spec("", "etl", "k")), ferry::ValueError);
}

TYPED_TEST_P(BackendConformance, JsonValuesRoundTripExactly) {
  auto s = spec("proj", "json", "k");
  s.graph = Value{{"unicode", "ünïcode ✓ 😀"},
                  {"big", 9007199254740993LL},
                  {"negative", -42},
                  {"float", 0.1},
                  {"nested", {{"empty", Value::object()}, {"list", {1, "two", nullptr, true}}}},
                  {"quote", "it's \"quoted\" \\ and\nnewline"}};
  s.result = Value{{"serializer", "json"}};
  const auto id = this->backend_->register_flow_version(s).version.id;
  auto stored = this->backend_->get_flow_version_by_id(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->graph, s.graph);
  EXPECT_EQ(stored->graph.dump(), s.graph.dump());
  EXPECT_EQ(stored->result, s.result);

  const auto run = this->backend_->create_flow_run(id, s.graph, {"ü"});
  auto got = this->backend_->get_flow_run(run.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->parameters.dump(), s.graph.dump());
  EXPECT_EQ(got->labels, std::vector<std::string>{"ü"});
}

TYPED_TEST_P(BackendConformance, ListFlowsGivesTheLatestVersionOfEachSorted) {
  auto& backend = this->backend_;
  backend->register_flow_version(spec("b", "x", "1"));
  backend->register_flow_version(spec("b", "x", "2"));
  backend->register_flow_version(spec("a", "z", "1"));
  backend->register_flow_version(spec("a", "y", "1"));
  backend->register_flow_version(spec("a", "y", "2"));
  backend->register_flow_version(spec("a", "y", "3"));
  backend->register_flow_version(spec("a", "Y", "1"));  // bytes order: upper case first

  auto all = backend->list_flows("");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].project + "/" + all[0].flow_name, "a/Y");
  EXPECT_EQ(all[1].project + "/" + all[1].flow_name, "a/y");
  EXPECT_EQ(all[1].version, 3);
  EXPECT_EQ(all[2].project + "/" + all[2].flow_name, "a/z");
  EXPECT_EQ(all[2].version, 1);
  EXPECT_EQ(all[3].project + "/" + all[3].flow_name, "b/x");
  EXPECT_EQ(all[3].version, 2);
  EXPECT_EQ(all[3].idempotency_key, "2");

  auto a = backend->list_flows("a");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[1].flow_name, "y");
  EXPECT_EQ(a[2].flow_name, "z");
  EXPECT_TRUE(backend->list_flows("nope").empty());
}

// ---- runs -----------------------------------------------------------------------------

TYPED_TEST_P(BackendConformance, RunLifecycleKeepsHistory) {
  auto& backend = this->backend_;
  const auto vid = this->version_id("etl");
  const Value params{{"n", 3}, {"name", "x"}};
  auto run = backend->create_flow_run(vid, params, {"a"});
  ASSERT_EQ(run.id.size(), 32u);
  EXPECT_EQ(run.id.find_first_not_of("0123456789abcdef"), std::string::npos) << run.id;
  EXPECT_EQ(run.state, State::Scheduled);
  EXPECT_EQ(run.project, "proj");
  EXPECT_EQ(run.flow_name, "etl");
  EXPECT_EQ(run.flow_version, 1);
  EXPECT_EQ(run.flow_version_id, vid);
  EXPECT_EQ(run.parameters, params);
  EXPECT_EQ(run.labels, std::vector<std::string>{"a"});
  EXPECT_NE(backend->create_flow_run(vid, params, {}).id, run.id);

  auto stored = backend->get_flow_run(run.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, State::Scheduled);
  EXPECT_EQ(stored->parameters, params);
  EXPECT_EQ(stored->labels, std::vector<std::string>{"a"});
  EXPECT_FALSE(stored->heartbeat);
  ASSERT_EQ(stored->history.size(), 1u);
  EXPECT_EQ(stored->history[0].state, State::Scheduled);

  auto claimed = backend->claim_flow_runs("agent-1", {"a"}, 1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, run.id);  // oldest first
  EXPECT_EQ(claimed[0].state, State::Pending);
  EXPECT_EQ(claimed[0].agent_id, "agent-1");
  EXPECT_TRUE(claimed[0].heartbeat);

  backend->set_flow_run_state(run.id, State::Running, "Running flow");
  backend->set_flow_run_pinned(run.id, Value{{"sha", "abc123"}});
  backend->set_flow_run_result(run.id, Value{{"out", 42}});
  backend->set_flow_run_state(run.id, State::Success, "All tasks succeeded");

  stored = backend->get_flow_run(run.id);
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

TYPED_TEST_P(BackendConformance, ListFlowRunsFiltersNewestFirst) {
  auto& backend = this->backend_;
  const auto etl = this->version_id("etl");
  const auto other = this->version_id("other");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(backend->create_flow_run(etl, {}, {}).id);
  const auto other_run = backend->create_flow_run(other, {}, {}).id;
  backend->set_flow_run_state(ids[1], State::Running, "");

  auto all = backend->list_flow_runs({});
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].id, other_run);
  EXPECT_EQ(all[1].id, ids[2]);
  EXPECT_EQ(all[2].id, ids[1]);
  EXPECT_EQ(all[3].id, ids[0]);
  EXPECT_TRUE(all[0].history.empty());

  ferry::backend::RunFilter f;
  f.flow_name = "etl";
  EXPECT_EQ(backend->list_flow_runs(f).size(), 3u);
  f.state = State::Running;
  auto running = backend->list_flow_runs(f);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, ids[1]);
  f = {};
  f.limit = 2;
  EXPECT_EQ(backend->list_flow_runs(f).size(), 2u);
  f.limit = 0;  // no limit
  EXPECT_EQ(backend->list_flow_runs(f).size(), 4u);
  f = {};
  f.project = "nope";
  EXPECT_TRUE(backend->list_flow_runs(f).empty());
}

TYPED_TEST_P(BackendConformance, CountFlowRunsByStateLeavesOutEmptyStates) {
  auto& backend = this->backend_;
  EXPECT_TRUE(backend->count_flow_runs_by_state().empty());
  const auto vid = this->version_id();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(backend->create_flow_run(vid, {}, {}).id);
  backend->set_flow_run_state(ids[0], State::Running, "");
  backend->set_flow_run_state(ids[1], State::Running, "");
  backend->set_flow_run_state(ids[2], State::Failed, "");

  auto counts = backend->count_flow_runs_by_state();
  std::sort(counts.begin(), counts.end());
  const std::vector<std::pair<State, std::int64_t>> expected = {
      {State::Scheduled, 2}, {State::Running, 2}, {State::Failed, 1}};
  EXPECT_EQ(counts, expected);
}

TYPED_TEST_P(BackendConformance, FinalStateIsNotOverwrittenButRecorded) {
  auto& backend = this->backend_;
  auto run = backend->create_flow_run(this->version_id(), {}, {});
  backend->set_flow_run_state(run.id, State::Running, "");
  backend->set_flow_run_state(run.id, State::Failed, "task a failed");
  backend->set_flow_run_state(run.id, State::Running, "late report");
  backend->set_flow_run_state(run.id, State::Success, "later report");
  backend->set_flow_run_state(run.id, State::Scheduled, "no release of a final run");

  auto stored = backend->get_flow_run(run.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, State::Failed);
  EXPECT_EQ(stored->message, "task a failed");
  ASSERT_EQ(stored->history.size(), 6u);
  EXPECT_EQ(stored->history[3].state, State::Running);
  EXPECT_EQ(stored->history[3].message, "late report");
  EXPECT_EQ(stored->history[4].state, State::Success);
  EXPECT_EQ(stored->history[5].state, State::Scheduled);
}

TYPED_TEST_P(BackendConformance, MissingRowsGiveNothingAndSettersSayWhich) {
  auto& backend = this->backend_;
  EXPECT_FALSE(backend->get_flow_run("0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(backend->get_task_runs("nope").empty());
  EXPECT_TRUE(backend->get_logs("nope").empty());
  EXPECT_TRUE(backend->list_agents().empty());
  EXPECT_TRUE(backend->claim_flow_runs("agent", {}, 5).empty());
  EXPECT_TRUE(backend->mark_lost_runs(0ms).empty());
  backend->heartbeat_flow_runs({"nope"});
  backend->heartbeat_agent("nope");

  try {
    backend->set_flow_run_state("missing-run", State::Running, "");
    FAIL() << "no error for a missing run";
  } catch (const ferry::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("missing-run"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(this->db_.location()), std::string::npos) << e.what();
  }
  EXPECT_THROW(backend->set_flow_run_result("missing-run", 1), ferry::ValueError);
  EXPECT_THROW(backend->set_flow_run_pinned("missing-run", 1), ferry::ValueError);
  EXPECT_THROW(backend->set_task_run_state("missing-run", "t", State::Running, "", 1, ""),
               ferry::ValueError);
  EXPECT_THROW(backend->create_flow_run(98765, {}, {}), ferry::ValueError);
}

TYPED_TEST_P(BackendConformance, DataOutlivesTheBackendObject) {
  const auto id = this->backend_->create_flow_run(this->version_id(), {}, {}).id;
  this->backend_->put_secret("token", "sealed");
  this->backend_.reset();
  auto reopened = this->db_.open();
  auto run = reopened->get_flow_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Scheduled);
  EXPECT_EQ(reopened->get_secret("token"), std::optional<std::string>("sealed"));
}

// ---- claiming -------------------------------------------------------------------------

TYPED_TEST_P(BackendConformance, ClaimTakesOnlyRunsWhoseLabelsTheAgentHas) {
  auto& backend = this->backend_;
  const auto vid = this->version_id();
  const auto a = backend->create_flow_run(vid, {}, {"a"}).id;
  const auto ac = backend->create_flow_run(vid, {}, {"a", "c"}).id;
  const auto none = backend->create_flow_run(vid, {}, {}).id;
  const auto b = backend->create_flow_run(vid, {}, {"b"}).id;

  // max_runs is respected, oldest first.
  auto first = backend->claim_flow_runs("agent-ab", {"a", "b"}, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id, a);
  auto rest = backend->claim_flow_runs("agent-ab", {"a", "b"}, 10);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, none);
  EXPECT_EQ(rest[1].id, b);
  EXPECT_TRUE(backend->claim_flow_runs("agent-ab", {"a", "b"}, 10).empty());

  auto left = backend->get_flow_run(ac);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->state, State::Scheduled);
  EXPECT_TRUE(left->agent_id.empty());
  EXPECT_TRUE(backend->claim_flow_runs("agent-none", {}, 10).empty());
  EXPECT_TRUE(backend->claim_flow_runs("agent-x", {"a", "c"}, 0).empty());

  auto got = backend->claim_flow_runs("agent-acd", {"d", "c", "a"}, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, ac);
  EXPECT_EQ(got[0].agent_id, "agent-acd");
}

TYPED_TEST_P(BackendConformance, ClaimFindsFittingRunsBehindManyThatDoNotFit) {
  auto& backend = this->backend_;
  const auto vid = this->version_id();
  for (int i = 0; i < 120; ++i) backend->create_flow_run(vid, {}, {"gpu"});
  std::vector<std::string> plain;
  for (int i = 0; i < 3; ++i) plain.push_back(backend->create_flow_run(vid, {}, {}).id);
  auto got = backend->claim_flow_runs("cpu-agent", {"cpu"}, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, plain[0]);
  EXPECT_EQ(got[1].id, plain[1]);
  got = backend->claim_flow_runs("cpu-agent", {"cpu"}, 5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, plain[2]);
  EXPECT_EQ(backend->claim_flow_runs("gpu-agent", {"gpu"}, 200).size(), 120u);
}

TYPED_TEST_P(BackendConformance, ReleasedRunCanBeClaimedAgain) {
  auto& backend = this->backend_;
  const auto id = backend->create_flow_run(this->version_id(), {}, {}).id;
  ASSERT_EQ(backend->claim_flow_runs("agent-1", {}, 5).size(), 1u);
  backend->set_flow_run_state(id, State::Scheduled, "Released by agent agent-1");
  auto run = backend->get_flow_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Scheduled);
  EXPECT_TRUE(run->agent_id.empty());
  EXPECT_FALSE(run->heartbeat);
  EXPECT_TRUE(backend->mark_lost_runs(0ms).empty());  // nobody holds it: not lost

  auto again = backend->claim_flow_runs("agent-2", {}, 5);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].agent_id, "agent-2");
  run = backend->get_flow_run(id);
  ASSERT_EQ(run->history.size(), 4u);
  EXPECT_EQ(run->history[3].message, "Claimed by agent agent-2");
}

TYPED_TEST_P(BackendConformance, ClaimFromSeveralThreadsOfOneBackend) {
  auto& backend = this->backend_;
  const auto vid = this->version_id();
  for (int i = 0; i < 60; ++i) backend->create_flow_run(vid, {}, {});
  std::vector<std::vector<std::string>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto runs = backend->claim_flow_runs("agent-" + std::to_string(t), {}, 2);
        if (runs.empty()) break;
        for (const auto& r : runs) {
          got[t].push_back(r.id);
          backend->set_task_run_state(r.id, "task", State::Running, "", 1, "");
          backend->add_logs({{r.id, "task", "INFO", "hello", {}, 0}});
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

TYPED_TEST_P(BackendConformance, MarkLostRunsUsesTheHeartbeat) {
  auto& backend = this->backend_;
  const auto vid = this->version_id("flow", Value{{"type", "Universal"}, {"lost_run_retries", 0}});
  const auto silent = backend->create_flow_run(vid, {}, {}).id;
  const auto alive = backend->create_flow_run(vid, {}, {}).id;
  ASSERT_EQ(backend->claim_flow_runs("agent-7", {}, 2).size(), 2u);
  backend->set_flow_run_state(alive, State::Running, "");
  const auto waiting = backend->create_flow_run(vid, {}, {}).id;  // Scheduled: never lost
  const auto before = backend->get_flow_run(alive)->heartbeat;
  ASSERT_TRUE(before);

  std::this_thread::sleep_for(300ms);
  backend->heartbeat_flow_runs({alive});
  const auto after = backend->get_flow_run(alive)->heartbeat;
  ASSERT_TRUE(after);
  EXPECT_GT(*after, *before);

  // No retries allowed: Lost at once.
  auto lost = backend->mark_lost_runs(150ms);
  ASSERT_EQ(lost, std::vector<std::string>{silent});
  auto run = backend->get_flow_run(silent);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Lost);
  EXPECT_EQ(run->message.rfind("Lost: agent agent-7 last heartbeat at ", 0), 0u) << run->message;
  EXPECT_NE(run->message.find("no heartbeat for"), std::string::npos) << run->message;
  ASSERT_FALSE(run->history.empty());
  EXPECT_EQ(run->history.back().state, State::Lost);
  EXPECT_EQ(backend->get_flow_run(alive)->state, State::Running);
  EXPECT_EQ(backend->get_flow_run(waiting)->state, State::Scheduled);

  // Already lost: not again; a late report cannot undo it.
  EXPECT_TRUE(backend->mark_lost_runs(150ms).empty());
  backend->set_flow_run_state(silent, State::Success, "finished after all");
  run = backend->get_flow_run(silent);
  EXPECT_EQ(run->state, State::Lost);
  EXPECT_EQ(run->history.back().state, State::Success);
}

TYPED_TEST_P(BackendConformance, LostRunIsRescheduledOnceByDefault) {
  ASSERT_EQ(ferry::backend::kDefaultLostRunRetries, 1);
  auto& backend = this->backend_;
  const auto id = backend->create_flow_run(this->version_id(), {}, {}).id;
  ASSERT_EQ(backend->claim_flow_runs("agent-1", {}, 1).size(), 1u);
  backend->set_flow_run_state(id, State::Running, "Running flow");
  std::this_thread::sleep_for(50ms);

  // First loss: released for another agent.
  EXPECT_EQ(backend->mark_lost_runs(10ms), std::vector<std::string>{id});
  auto run = backend->get_flow_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->state, State::Scheduled);
  EXPECT_EQ(run->message, "Rescheduled after being lost (retry 1 of 1)");
  EXPECT_TRUE(run->agent_id.empty());
  EXPECT_FALSE(run->heartbeat);
  ASSERT_GE(run->history.size(), 2u);
  const auto& lost_entry = run->history[run->history.size() - 2];
  EXPECT_EQ(lost_entry.state, State::Lost);
  EXPECT_EQ(lost_entry.message.rfind("Lost: agent agent-1 last heartbeat at ", 0), 0u)
      << lost_entry.message;
  EXPECT_EQ(run->history.back().state, State::Scheduled);
  EXPECT_EQ(run->history.back().message, run->message);
  EXPECT_TRUE(backend->mark_lost_runs(0ms).empty());  // Scheduled: nobody holds it

  // Claimed again by another agent, lost again: this time it stays Lost.
  auto again = backend->claim_flow_runs("agent-2", {}, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, id);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(backend->mark_lost_runs(10ms), std::vector<std::string>{id});
  run = backend->get_flow_run(id);
  EXPECT_EQ(run->state, State::Lost);
  EXPECT_EQ(run->message.rfind("Lost: agent agent-2 ", 0), 0u) << run->message;
  EXPECT_EQ(run->history.back().state, State::Lost);
  EXPECT_TRUE(backend->mark_lost_runs(0ms).empty());
  EXPECT_EQ(std::count_if(run->history.begin(), run->history.end(),
                          [](const auto& c) { return c.state == State::Lost; }),
            2);
}

TYPED_TEST_P(BackendConformance, LostRunRetriesComeFromTheRunConfig) {
  auto& backend = this->backend_;
  const auto vid = this->version_id("flow", Value{{"type", "Universal"}, {"lost_run_retries", 2}});
  const auto id = backend->create_flow_run(vid, {}, {}).id;
  for (int retry = 1; retry <= 2; ++retry) {
    ASSERT_EQ(backend->claim_flow_runs("agent", {}, 1).size(), 1u);
    std::this_thread::sleep_for(30ms);
    ASSERT_EQ(backend->mark_lost_runs(10ms), std::vector<std::string>{id});
    EXPECT_EQ(backend->get_flow_run(id)->message,
              "Rescheduled after being lost (retry " + std::to_string(retry) + " of 2)");
  }
  ASSERT_EQ(backend->claim_flow_runs("agent", {}, 1).size(), 1u);
  std::this_thread::sleep_for(30ms);
  ASSERT_EQ(backend->mark_lost_runs(10ms), std::vector<std::string>{id});
  EXPECT_EQ(backend->get_flow_run(id)->state, State::Lost);
}

// ---- task runs, logs, agents ----------------------------------------------------------

TYPED_TEST_P(BackendConformance, TaskRunsAreUpsertedWithHistory) {
  auto& backend = this->backend_;
  const auto run = backend->create_flow_run(this->version_id(), {}, {}).id;
  const auto other = backend->create_flow_run(this->version_id(), {}, {}).id;
  backend->set_task_run_state(run, "extract", State::Running, "", 1, "");
  backend->set_task_run_state(run, "load", State::Pending, "waiting", 0, "");
  backend->set_task_run_state(run, "extract", State::Retrying, "boom", 1, "");
  backend->set_task_run_state(run, "extract", State::Success, "ok", 2, "file:///r/extract");
  backend->set_task_run_state(other, "extract", State::Failed, "other run", 1, "");

  auto tasks = backend->get_task_runs(run);
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

  auto other_tasks = backend->get_task_runs(other);
  ASSERT_EQ(other_tasks.size(), 1u);
  EXPECT_EQ(other_tasks[0].state, State::Failed);
  EXPECT_EQ(other_tasks[0].history.size(), 1u);
}

TYPED_TEST_P(BackendConformance, LogsAreReadInOrderAfterASeq) {
  auto& backend = this->backend_;
  const auto t0 = Clock::time_point(std::chrono::milliseconds(1700000000123));
  backend->add_logs({{"run1", "", "INFO", "flow started", t0, 0},
                     {"run1", "extract", "DEBUG", "reading", t0 + 1ms, 0},
                     {"run2", "", "INFO", "other run", t0, 0}});
  backend->add_logs({{"run1", "extract", "ERROR", "failed: ünïcode", {}, 0}});
  backend->add_logs({});

  auto all = backend->get_logs("run1");
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

  auto after = backend->get_logs("run1", all[0].seq);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].seq, all[1].seq);
  EXPECT_TRUE(backend->get_logs("run1", all[2].seq).empty());
  auto limited = backend->get_logs("run1", 0, 1);
  ASSERT_EQ(limited.size(), 1u);
  EXPECT_EQ(limited[0].seq, all[0].seq);
  EXPECT_EQ(backend->get_logs("run2").size(), 1u);
}

TYPED_TEST_P(BackendConformance, AgentsAreUpsertedAndListed) {
  using ferry::backend::Agent;
  auto& backend = this->backend_;
  const auto t0 = Clock::time_point(std::chrono::milliseconds(1700000000000));
  backend->register_agent({"id-2", "beta", {"x"}, t0, t0});
  backend->register_agent({"id-1", "alpha", {"a", "b"}, t0, t0});
  auto agents = backend->list_agents();
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_EQ(agents[0].id, "id-1");
  EXPECT_EQ(agents[0].name, "alpha");
  EXPECT_EQ(agents[0].labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(agents[0].started, t0);
  EXPECT_EQ(agents[0].heartbeat, t0);

  // Registering the same id again replaces it.
  backend->register_agent({"id-1", "alpha2", {"c"}, t0 + 5s, t0 + 5s});
  backend->heartbeat_agent("id-2");
  agents = backend->list_agents();
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_EQ(agents[0].name, "alpha2");
  EXPECT_EQ(agents[0].labels, std::vector<std::string>{"c"});
  EXPECT_EQ(agents[0].started, t0 + 5s);
  EXPECT_EQ(agents[1].id, "id-2");
  EXPECT_GT(agents[1].heartbeat, Clock::now() - 60s);
  EXPECT_EQ(agents[1].started, t0);
  EXPECT_THROW(backend->register_agent({"", "x", {}, t0, t0}), ferry::ValueError);
}

// ---- API keys and secrets -------------------------------------------------------------

TYPED_TEST_P(BackendConformance, ApiKeysAreFoundByHashUntilRevoked) {
  auto& backend = this->backend_;
  EXPECT_TRUE(backend->list_api_keys().empty());
  EXPECT_FALSE(backend->find_api_key("hash-1"));
  const auto before = Clock::now() - 1s;
  backend->add_api_key("ci", "hash-1");
  backend->add_api_key("admin", "hash-2");
  EXPECT_EQ(backend->find_api_key("hash-1"), std::optional<std::string>("ci"));
  EXPECT_EQ(backend->find_api_key("hash-2"), std::optional<std::string>("admin"));
  EXPECT_FALSE(backend->find_api_key("hash-3"));
  // One unrevoked key per name.
  EXPECT_THROW(backend->add_api_key("ci", "hash-3"), ferry::ValueError);
  EXPECT_FALSE(backend->find_api_key("hash-3"));

  EXPECT_TRUE(backend->revoke_api_key("ci"));
  EXPECT_FALSE(backend->revoke_api_key("ci"));
  EXPECT_FALSE(backend->revoke_api_key("nobody"));
  EXPECT_FALSE(backend->find_api_key("hash-1"));
  // The name is free again once revoked.
  backend->add_api_key("ci", "hash-4");
  EXPECT_EQ(backend->find_api_key("hash-4"), std::optional<std::string>("ci"));

  auto keys = backend->list_api_keys();
  ASSERT_EQ(keys.size(), 3u);
  int revoked = 0;
  for (const auto& key : keys) {
    EXPECT_GE(key.created, before) << key.name;
    EXPECT_LE(key.created, Clock::now()) << key.name;
    if (key.revoked) {
      ++revoked;
      EXPECT_EQ(key.name, "ci");
      EXPECT_GE(*key.revoked, key.created);
      EXPECT_LE(*key.revoked, Clock::now());
    }
  }
  EXPECT_EQ(revoked, 1);
}

TYPED_TEST_P(BackendConformance, SecretsAreStoredAsGivenAndListedByName) {
  auto& backend = this->backend_;
  EXPECT_TRUE(backend->list_secrets().empty());
  EXPECT_FALSE(backend->get_secret("db"));
  backend->put_secret("db", "sealed:v1:abc");
  backend->put_secret("api", "sealed:v1:xyz");
  backend->put_secret("Zeta", "z");
  EXPECT_EQ(backend->get_secret("db"), std::optional<std::string>("sealed:v1:abc"));
  backend->put_secret("db", "sealed:v1:new");  // overwrites
  EXPECT_EQ(backend->get_secret("db"), std::optional<std::string>("sealed:v1:new"));
  EXPECT_EQ(backend->list_secrets(), (std::vector<std::string>{"Zeta", "api", "db"}));

  EXPECT_TRUE(backend->delete_secret("api"));
  EXPECT_FALSE(backend->delete_secret("api"));
  EXPECT_FALSE(backend->get_secret("api"));
  EXPECT_EQ(backend->list_secrets(), (std::vector<std::string>{"Zeta", "db"}));
}

REGISTER_TYPED_TEST_SUITE_P(
    BackendConformance, RegisterIsIdempotentOnTheLatestKeyAndNumbersVersions,
    JsonValuesRoundTripExactly, ListFlowsGivesTheLatestVersionOfEachSorted,
    RunLifecycleKeepsHistory, ListFlowRunsFiltersNewestFirst,
    CountFlowRunsByStateLeavesOutEmptyStates, FinalStateIsNotOverwrittenButRecorded,
    MissingRowsGiveNothingAndSettersSayWhich, DataOutlivesTheBackendObject,
    ClaimTakesOnlyRunsWhoseLabelsTheAgentHas, ClaimFindsFittingRunsBehindManyThatDoNotFit,
    ReleasedRunCanBeClaimedAgain, ClaimFromSeveralThreadsOfOneBackend, MarkLostRunsUsesTheHeartbeat,
    LostRunIsRescheduledOnceByDefault, LostRunRetriesComeFromTheRunConfig,
    TaskRunsAreUpsertedWithHistory, LogsAreReadInOrderAfterASeq, AgentsAreUpsertedAndListed,
    ApiKeysAreFoundByHashUntilRevoked, SecretsAreStoredAsGivenAndListedByName);

// Test names: Sqlite/BackendConformance/0.<Test>, Postgres/BackendConformance/0.<Test>
// (tests/CMakeLists.txt runs the PostgreSQL ones as one CTest test: one server start).
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, BackendConformance, SqliteDatabase);
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, BackendConformance, PostgresDatabase);

}  // namespace
