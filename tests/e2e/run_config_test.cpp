// End-to-end: run configs, through the ferry binary as a user would drive it. A flow's run
// config is recorded with its version (and shown by `ferry flows ls`), its labels join the
// version's, and the local agent honours a Local one and refuses a Docker one. Embedded
// backend only: the run config travels through the backends as an opaque JSON value.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "ferry/codec.hpp"
#include "support/e2e_support.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::fixture;
using ferry::test::Home;
using ferry::test::hostname;

const std::string kFlows = fixture("e2e/run_config_flows.cpp").string();

Value flow_listed(const Home& home, const std::string& name) {
  for (const Value& f : home.flows()) {
    if (f.value("flow", "") == name) return f;
  }
  return Value();
}

Value sorted_labels(std::vector<std::string> labels) {
  std::set<std::string> s(labels.begin(), labels.end());
  return Value(std::vector<std::string>(s.begin(), s.end()));
}

}  // namespace

TEST(RunConfigs, RecordedWithTheVersionAndShownByFlowsLs) {
  Home home;
  home.register_flow(kFlows);

  Value local = flow_listed(home, "rc-local");
  ASSERT_TRUE(local.is_object()) << home.flows().dump(2);
  EXPECT_EQ(local["run_config"], Value({{"type", "Local"},
                                        {"env", {{"GREETING", "hi from run config"}}},
                                        {"working_dir", "/"},
                                        {"labels", {"rc-label"}},
                                        {"lost_run_retries", 1}}))
      << local.dump(2);
  // The run config's labels join the storage's (the host name).
  EXPECT_EQ(local["labels"], sorted_labels({"rc-label", hostname()})) << local.dump(2);

  Value docker = flow_listed(home, "rc-docker");
  ASSERT_TRUE(docker.is_object()) << home.flows().dump(2);
  EXPECT_EQ(docker["run_config"]["type"], "Docker");
  EXPECT_EQ(docker["run_config"]["image"], "example/flows:1");
  EXPECT_EQ(docker["run_config"]["volumes"], Value::array({"/srv/data:/data:ro"}));
  EXPECT_EQ(docker["run_config"]["env"], Value({{"MODE", "test"}}));

  CommandResult text = home.ferry({"flows", "ls"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  bool local_row = false, docker_row = false;
  std::size_t start = 0;
  while (start < text.out.size()) {
    std::size_t end = text.out.find('\n', start);
    std::string row = text.out.substr(start, end - start);
    if (contains(row, "rc-local")) {
      local_row = true;
      EXPECT_TRUE(contains(row, " Local ")) << row;
      EXPECT_TRUE(contains(row, "rc-label")) << row;
    }
    if (contains(row, "rc-docker")) {
      docker_row = true;
      EXPECT_TRUE(contains(row, "Docker(example/flows:1)")) << row;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  EXPECT_TRUE(local_row && docker_row) << text.out;
}

TEST(RunConfigs, LocalAgentRunsWithTheEnvAndWorkingDir) {
  ASSERT_NE(fs::current_path(), fs::path("/")) << "the test cannot tell the working dirs apart";
  Home home;
  home.register_flow(kFlows);
  std::string id = home.create_run({"rc-local"});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(home.listed_run(id)["labels"], sorted_labels({"rc-label", hostname()}));

  // The run config's value overrides the agent's own GREETING.
  CommandResult agent = home.agent(1, {"--label", "rc-label"}, {"GREETING=from the agent"});
  ASSERT_EQ(agent.exit_code, 0) << agent.out << agent.err;
  Value run = home.show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2);
  EXPECT_EQ(run["result"], Value({{"greeting", "hi from run config"}, {"cwd", "/"}}))
      << run.dump(2);
}

TEST(RunConfigs, LocalRunConfigLabelKeepsTheRunFromAnAgentWithoutIt) {
  Home home;
  home.register_flow(kFlows);
  std::string id = home.create_run({"rc-local"});
  ASSERT_FALSE(id.empty());
  auto agent = home.start({"agent", "local", "start", "--max-runs", "1", "--poll-interval", "0.1"});
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(agent->running()) << "an agent without rc-label ran the run: " << agent->err();
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait_for(std::chrono::seconds(5)), std::optional<int>(0)) << agent->err();
  EXPECT_EQ(home.state_of(id), "Scheduled");
}

TEST(RunConfigs, MissingWorkingDirFailsTheRunNamingIt) {
  Home home;
  home.register_flow(kFlows);
  std::string id = home.create_run({"rc-missing-dir"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.out << agent.err;
  Value run = home.show(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_TRUE(contains(message, "/nonexistent/ferry-run-config-dir")) << message;
  EXPECT_TRUE(contains(message, "does not exist")) << message;
  EXPECT_TRUE(run["tasks"].empty()) << run.dump(2);
}

TEST(RunConfigs, LocalAgentRefusesADockerRunConfig) {
  Home home;
  home.register_flow(kFlows);
  std::string id = home.create_run({"rc-docker"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.out << agent.err;
  Value run = home.show(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_TRUE(contains(message, "Unsupported run config type: Docker (image example/flows:1)"))
      << message;
  EXPECT_TRUE(contains(message, "ferry agent docker start")) << message;
  // Refused before any process started: nothing ran, nothing was pinned.
  EXPECT_TRUE(run["tasks"].empty()) << run.dump(2);
  EXPECT_TRUE(run["pinned"].is_null() || run["pinned"].empty()) << run.dump(2);

  CommandResult logs = home.ferry({"runs", "logs", id});
  EXPECT_TRUE(contains(logs.out, "ferry agent docker start")) << logs.out << logs.err;
}

TEST(RunConfigs, LocalAgentRefusesDockerStorage) {
  Home home;
  // No Docker storage class is needed to see the agent's check: a version whose storage
  // descriptor says Docker, written straight into the Home's database.
  std::string id;
  {
    auto backend = ferry::backend::open_sqlite_backend((home.path() / "ferry.db").string());
    ferry::backend::FlowVersionSpec spec;
    spec.project = "default";
    spec.flow_name = "in-docker";
    spec.graph = {{"parameters", Value::array()}, {"tasks", Value::array()}};
    spec.run_config = {{"type", "Universal"}};
    spec.storage = {{"type", "Docker"}, {"image", "example/flows:1"}};
    spec.idempotency_key = "key";
    auto version = backend->register_flow_version(spec).version;
    id = backend->create_flow_run(version.id, Value::object(), {}).id;
  }
  CommandResult agent = home.agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.out << agent.err;
  Value run = home.show(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  std::string message = run.value("message", "");
  EXPECT_TRUE(contains(message, "Unsupported storage type: Docker")) << message;
  EXPECT_TRUE(contains(message, "ferry agent docker start")) << message;
}

TEST(RunConfigs, ChangedRunConfigMakesANewVersionAndAnUnchangedOneDoesNot) {
  Home home;
  home.register_flow(kFlows, {"--name", "rc-docker"}, {"FERRY_TEST_IMAGE=example/flows:1"});
  CommandResult same = home.ferry({"register", "--path", kFlows, "--name", "rc-docker"},
                                  {"FERRY_TEST_IMAGE=example/flows:1"});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_TRUE(contains(same.out, "Skipped flow 'rc-docker' (unchanged; version 1)")) << same.out;

  // Same source, same module: only the run config differs.
  CommandResult changed = home.ferry({"register", "--path", kFlows, "--name", "rc-docker"},
                                     {"FERRY_TEST_IMAGE=example/flows:2"});
  EXPECT_EQ(changed.exit_code, 0) << changed.out << changed.err;
  EXPECT_TRUE(contains(changed.out, "Registered flow 'rc-docker' version 2")) << changed.out;
  Value docker = flow_listed(home, "rc-docker");
  EXPECT_EQ(docker["version"], 2);
  EXPECT_EQ(docker["run_config"]["image"], "example/flows:2") << docker.dump(2);
}

TEST(RunConfigs, InvalidRunConfigIsRefusedAtRegistration) {
  Home home;
  CommandResult r =
      home.ferry({"register", "--path", fixture("e2e/run_config_invalid.cpp").string()});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "Error registering flow 'rc-invalid'")) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "'/srv/data'")) << r.out;
  EXPECT_TRUE(contains(r.out, "HOST:CONTAINER")) << r.out;
  EXPECT_TRUE(home.flows().empty()) << home.flows().dump(2);
}
