// End-to-end: `ferry server` on SQLite and on PostgreSQL with agents on "other machines"
// (other processes with only FERRY_API and FERRY_API_KEY): many runs, each executed exactly
// once; agents killed, the server and the database restarted under load; API keys; secrets
// sealed on the server. The servers are real: ferry's own, and PostgreSQL 15 on loopback.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "backend/remote_backend.hpp"
#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/postgres_server.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ferry::State;
using ferry::Value;
using ferry::backend::Backend;
using ferry::test::BackendKind;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::eventually;
using ferry::test::fixture;
using ferry::test::Home;
using ferry::test::Proc;
using ferry::test::read_text;

// The Home's server as a Backend in this process, as any client would see it.
std::unique_ptr<Backend> client(const Home& home) {
  ferry::backend::RemoteOptions o;
  o.url = home.server()->url();
  o.api_key = home.server()->api_key();
  o.retry_for = 60s;
  return ferry::backend::open_remote_backend(o);
}

class ServerLoad : public ::testing::TestWithParam<BackendKind> {
 protected:
  static constexpr int kRuns = 1000;
  static constexpr int kAgents = 4;

  // Registers the counted flow and queues kRuns runs of it (i = 0 .. kRuns-1).
  void queue_runs(const Home& home) {
    home.register_flow(fixture("e2e/counted.cpp").string());
    auto backend = client(home);
    auto version = backend->get_flow_version("default", "counted");
    ASSERT_TRUE(version.has_value());
    for (int i = 0; i < kRuns; ++i) {
      backend->create_flow_run(version->id, Value{{"i", i}}, {});
    }
  }

  std::vector<std::unique_ptr<Proc>> start_agents(const Home& home, int n) {
    std::vector<std::unique_ptr<Proc>> agents;
    for (int a = 0; a < n; ++a) {
      agents.push_back(home.start({"agent", "local", "start", "--no-hostname-label",
                                   "--poll-interval", "0.1", "--concurrency", "2"}));
    }
    return agents;
  }

  // Waits until no run is Scheduled, Pending or Running; false after the timeout.
  static bool all_final(Backend& backend, std::chrono::seconds timeout) {
    return eventually(
        [&] {
          try {
            for (const auto& [state, n] : backend.count_flow_runs_by_state()) {
              if (n > 0 && !ferry::is_final(state)) return false;
            }
            return true;
          } catch (const std::exception&) {
            return false;  // the server is restarting
          }
        },
        timeout);
  }

  // How many times the task ran for each i.
  static std::map<int, int> side_effects(const fs::path& file) {
    std::map<int, int> seen;
    std::istringstream in(read_text(file));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) ++seen[std::stoi(line)];
    }
    return seen;
  }

  static void stop_all(std::vector<std::unique_ptr<Proc>>& agents) {
    for (auto& a : agents) {
      if (a->running()) a->signal(SIGTERM);
    }
    for (auto& a : agents) EXPECT_TRUE(a->wait_for(30s).has_value()) << a->err();
  }

  // Every run succeeded with its own parameter as its result; runs never lost ran once.
  static void expect_each_ran_once(Backend& backend, const fs::path& count_file,
                                   bool allow_reruns_of_lost) {
    ferry::backend::RunFilter all;
    all.limit = 0;
    std::vector<ferry::backend::FlowRun> runs = backend.list_flow_runs(all);
    ASSERT_EQ(runs.size(), static_cast<std::size_t>(kRuns));
    std::map<int, int> seen = side_effects(count_file);
    int succeeded = 0;
    for (const auto& run : runs) {
      const int i = run.parameters.at("i").get<int>();
      EXPECT_EQ(run.state, State::Success) << run.id << " " << run.message;
      if (run.state == State::Success) {
        ++succeeded;
        EXPECT_EQ(run.result, i) << run.id;
      }
      bool was_lost = false;
      if (allow_reruns_of_lost) {
        auto full = backend.get_flow_run(run.id);
        for (const auto& change : full->history) was_lost |= change.state == State::Lost;
      }
      if (was_lost) {
        EXPECT_GE(seen[i], 1) << "run " << run.id << " (i=" << i << ")";
      } else {
        EXPECT_EQ(seen[i], 1) << "run " << run.id << " (i=" << i << ") ran " << seen[i] << " times";
      }
    }
    EXPECT_EQ(succeeded, kRuns);
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, ServerLoad,
                         ::testing::Values(BackendKind::ServerSqlite, BackendKind::ServerPostgres),
                         ferry::test::BackendKindName{});

TEST_P(ServerLoad, FourAgentsRunAThousandRunsEachExactlyOnce) {
  ferry::test::TempDir counts;
  const fs::path count_file = counts.path() / "count";
  Home home({"FERRY_TEST_COUNT_FILE=" + count_file.string()}, GetParam());
  queue_runs(home);
  auto agents = start_agents(home, kAgents);
  auto backend = client(home);
  const bool finished = all_final(*backend, 300s);
  stop_all(agents);
  ASSERT_TRUE(finished);
  expect_each_ran_once(*backend, count_file, false);
}

TEST_P(ServerLoad, AgentKilledMidLoadHasItsRunsRescheduledAndTheCountStaysExact) {
  ferry::test::TempDir counts;
  const fs::path count_file = counts.path() / "count";
  Home home({"FERRY_TEST_COUNT_FILE=" + count_file.string(), "FERRY__AGENT__HEARTBEAT_INTERVAL=0.5",
             "FERRY__AGENT__LOST_TIMEOUT=4"},
            GetParam());
  queue_runs(home);
  auto agents = start_agents(home, kAgents);
  auto backend = client(home);
  // Kill one agent once the load is well under way.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& [state, n] : backend->count_flow_runs_by_state()) {
          if (state == State::Success && n >= kRuns / 4) return true;
        }
        return false;
      },
      120s));
  agents[0]->signal(SIGKILL);
  const bool finished = all_final(*backend, 300s);
  stop_all(agents);
  ASSERT_TRUE(finished);
  expect_each_ran_once(*backend, count_file, true);
}

TEST_P(ServerLoad, ServerAndDatabaseRestartsUnderLoadLoseAndDoubleNothing) {
  ferry::test::TempDir counts;
  const fs::path count_file = counts.path() / "count";
  Home home({"FERRY_TEST_COUNT_FILE=" + count_file.string(), "FERRY__AGENT__LOST_TIMEOUT=10"},
            GetParam());
  queue_runs(home);
  auto agents = start_agents(home, kAgents);
  auto backend = client(home);
  auto succeeded = [&] {
    try {
      for (const auto& [state, n] : backend->count_flow_runs_by_state()) {
        if (state == State::Success) return n;
      }
    } catch (const std::exception&) {
    }
    return std::int64_t{0};
  };
  ASSERT_TRUE(eventually([&] { return succeeded() >= kRuns / 5; }, 120s));
  home.server()->stop();  // SIGTERM, as an operator restarting it would
  std::this_thread::sleep_for(1s);
  home.server()->start();
  if (GetParam() == BackendKind::ServerPostgres) {
    ASSERT_TRUE(eventually([&] { return succeeded() >= kRuns / 2; }, 120s));
    ferry::test::PostgresServer::shared().stop();
    std::this_thread::sleep_for(1s);
    ferry::test::PostgresServer::shared().start();
  }
  const bool finished = all_final(*backend, 120s);
  stop_all(agents);
  if (!finished) {
    std::string states;
    try {
      for (const auto& [state, n] : backend->count_flow_runs_by_state()) {
        states += std::string(ferry::to_string(state)) + "=" + std::to_string(n) + " ";
      }
    } catch (const std::exception& e) {
      states = e.what();
    }
    std::string tail = home.server()->process().err();
    if (tail.size() > 3000) tail = tail.substr(tail.size() - 3000);
    std::string agent_tail = agents[0]->err();
    if (agent_tail.size() > 3000) agent_tail = agent_tail.substr(agent_tail.size() - 3000);
    FAIL() << "runs left unfinished: " << states << "\nserver: " << tail
           << "\nagent 0: " << agent_tail;
  }
  for (const auto& a : agents) EXPECT_FALSE(contains(a->err(), home.server()->api_key()));
  expect_each_ran_once(*backend, count_file, false);
}
