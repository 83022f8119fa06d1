// Run configs: the three types, their JSON form (what the backend stores), and the checks
// registration makes.
#include <gtest/gtest.h>

#include <string>

#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/run_config.hpp"

namespace {

using ferry::Value;
using ferry::ValueError;
using ferry::run::Docker;
using ferry::run::Local;
using ferry::run::RunConfig;
using ferry::run::Universal;

// The message of the ValueError f throws ("" and a test failure if it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ValueError thrown";
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(RunConfig, DefaultIsUniversalWithoutLabels) {
  RunConfig rc;
  EXPECT_EQ(rc.type(), "Universal");
  EXPECT_TRUE(rc.labels().empty());
  ASSERT_NE(rc.universal(), nullptr);
  EXPECT_EQ(rc.local(), nullptr);
  EXPECT_EQ(rc.docker(), nullptr);
  EXPECT_EQ(rc.to_json(), Value({{"type", "Universal"}, {"labels", Value::array()}}));

  ferry::Flow flow("f");
  EXPECT_EQ(flow.run_config.type(), "Universal");
}

TEST(RunConfig, FlowMemberTakesEachTypeByAssignment) {
  ferry::Flow flow("f");
  flow.run_config = Local{.env = {{"A", "1"}}, .working_dir = "/srv", .labels = {"l"}};
  ASSERT_NE(flow.run_config.local(), nullptr);
  EXPECT_EQ(flow.run_config.local()->working_dir, "/srv");
  flow.run_config = Docker{.image = "img"};
  ASSERT_NE(flow.run_config.docker(), nullptr);
  EXPECT_EQ(flow.run_config.docker()->image, "img");
  flow.run_config = Universal{.labels = {"x"}};
  EXPECT_EQ(flow.run_config.labels(), std::vector<std::string>{"x"});
}

TEST(RunConfig, UniversalRoundTrips) {
  RunConfig rc = Universal{.labels = {"a", "b"}};
  Value json = rc.to_json();
  EXPECT_EQ(json, Value({{"type", "Universal"}, {"labels", {"a", "b"}}}));
  RunConfig back = RunConfig::from_json(json);
  EXPECT_EQ(back.type(), "Universal");
  EXPECT_EQ(back.labels(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(back, rc);
}

TEST(RunConfig, LocalRoundTrips) {
  RunConfig rc = Local{.env = {{"GREETING", "hi"}, {"EMPTY", ""}},
                       .working_dir = "/srv/flows",
                       .labels = {"rc-label"}};
  Value json = rc.to_json();
  EXPECT_EQ(json, Value({{"type", "Local"},
                         {"env", {{"EMPTY", ""}, {"GREETING", "hi"}}},
                         {"working_dir", "/srv/flows"},
                         {"labels", {"rc-label"}}}));
  RunConfig back = RunConfig::from_json(json);
  ASSERT_NE(back.local(), nullptr);
  EXPECT_EQ(back.local()->env.at("GREETING"), "hi");
  EXPECT_EQ(back.local()->env.at("EMPTY"), "");
  EXPECT_EQ(back.local()->working_dir, "/srv/flows");
  EXPECT_EQ(back.labels(), std::vector<std::string>{"rc-label"});
  EXPECT_EQ(back, rc);
}

TEST(RunConfig, DockerRoundTrips) {
  RunConfig rc = Docker{.image = "registry.example/flows:1.2",
                        .env = {{"MODE", "prod"}},
                        .labels = {"docker"},
                        .volumes = {"/srv/data:/data:ro", "/tmp:/scratch"}};
  Value json = rc.to_json();
  EXPECT_EQ(json, Value({{"type", "Docker"},
                         {"image", "registry.example/flows:1.2"},
                         {"env", {{"MODE", "prod"}}},
                         {"labels", {"docker"}},
                         {"volumes", {"/srv/data:/data:ro", "/tmp:/scratch"}}}));
  RunConfig back = RunConfig::from_json(json);
  ASSERT_NE(back.docker(), nullptr);
  EXPECT_EQ(back.docker()->image, "registry.example/flows:1.2");
  EXPECT_EQ(back.docker()->volumes.size(), 2u);
  EXPECT_EQ(back.type(), "Docker");
  EXPECT_EQ(back, rc);
}

TEST(RunConfig, MissingFieldsTakeDefaults) {
  EXPECT_EQ(RunConfig::from_json(Value()).type(), "Universal");
  EXPECT_EQ(RunConfig::from_json(Value::object()).type(), "Universal");
  // What versions registered before run configs hold, and the registrar's extra key.
  RunConfig old = RunConfig::from_json({{"type", "Universal"}, {"lost_run_retries", 3}});
  EXPECT_EQ(old, RunConfig());

  RunConfig local = RunConfig::from_json({{"type", "Local"}});
  ASSERT_NE(local.local(), nullptr);
  EXPECT_TRUE(local.local()->env.empty());
  EXPECT_TRUE(local.local()->working_dir.empty());
  EXPECT_TRUE(local.labels().empty());

  RunConfig docker = RunConfig::from_json({{"type", "Docker"}, {"image", "img"}});
  ASSERT_NE(docker.docker(), nullptr);
  EXPECT_EQ(docker.docker()->image, "img");
  EXPECT_TRUE(docker.docker()->volumes.empty());
  EXPECT_TRUE(docker.docker()->env.empty());
}

TEST(RunConfig, UnknownTypeNamesItAndTheValidOnes) {
  std::string msg = error_of([] { RunConfig::from_json({{"type", "Kubernetes"}}); });
  EXPECT_TRUE(contains(msg, "'Kubernetes'")) << msg;
  EXPECT_TRUE(contains(msg, "Universal")) << msg;
  EXPECT_TRUE(contains(msg, "Local")) << msg;
  EXPECT_TRUE(contains(msg, "Docker")) << msg;
}

TEST(RunConfig, WrongFieldTypesAreValueErrorsNamingTheField) {
  EXPECT_TRUE(contains(error_of([] {
                         RunConfig::from_json({{"type", "Local"}, {"env", "A=1"}});
                       }),
                       "'env'"));
  EXPECT_TRUE(contains(error_of([] {
                         RunConfig::from_json({{"type", "Local"}, {"env", {{"A", 1}}}});
                       }),
                       "'A'"));
  EXPECT_TRUE(contains(error_of([] {
                         RunConfig::from_json({{"type", "Docker"}, {"volumes", {1}}});
                       }),
                       "volumes"));
  EXPECT_TRUE(contains(error_of([] { RunConfig::from_json({{"type", 5}}); }), "'type'"));
  EXPECT_TRUE(contains(error_of([] { RunConfig::from_json(Value::array()); }), "object"));
}

TEST(RunConfig, ValidConfigsPass) {
  EXPECT_NO_THROW(RunConfig().validate("f"));
  EXPECT_NO_THROW(RunConfig(Local{}).validate("f"));
  EXPECT_NO_THROW(RunConfig(Local{.env = {{"A", "x=y"}}, .working_dir = "/tmp"}).validate("f"));
  EXPECT_NO_THROW(RunConfig(Docker{.image = "i", .volumes = {"/a:/b", "/a:/b:ro", "named:/b:rw"}})
                      .validate("f"));
}

TEST(RunConfig, RelativeWorkingDirIsRefused) {
  std::string msg =
      error_of([] { RunConfig(Local{.working_dir = "flows/here"}).validate("my-flow"); });
  EXPECT_TRUE(contains(msg, "'my-flow'")) << msg;
  EXPECT_TRUE(contains(msg, "'flows/here'")) << msg;
  EXPECT_TRUE(contains(msg, "absolute")) << msg;
}

TEST(RunConfig, BadEnvNamesAreRefused) {
  for (const std::string& name : {std::string(""), std::string("A=B")}) {
    std::string local = error_of([&] {
      RunConfig(Local{.env = {{name, "v"}}}).validate("my-flow");
    });
    EXPECT_TRUE(contains(local, "'my-flow'")) << local;
    EXPECT_TRUE(contains(local, "'" + name + "'")) << local;
    EXPECT_TRUE(contains(local, "'='")) << local;
    std::string docker = error_of([&] {
      RunConfig(Docker{.image = "i", .env = {{name, "v"}}}).validate("my-flow");
    });
    EXPECT_TRUE(contains(docker, "environment variable name")) << docker;
  }
}

TEST(RunConfig, BadVolumesAreRefused) {
  for (const std::string& volume :
       {"/srv/data", "/srv/data:data", "/srv/data:/data:rx", ":/data", "/srv:", "/a:/b:ro:x"}) {
    std::string msg =
        error_of([&] { RunConfig(Docker{.image = "i", .volumes = {volume}}).validate("my-flow"); });
    EXPECT_TRUE(contains(msg, "'my-flow'")) << volume << ": " << msg;
    EXPECT_TRUE(contains(msg, "'" + volume + "'")) << msg;
    EXPECT_TRUE(contains(msg, "HOST:CONTAINER")) << msg;
  }
}
