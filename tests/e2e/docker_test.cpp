// End-to-end: Docker storage and the Docker agent, against a real docker-registry (htpasswd
// auth) and podman serving the Docker Engine API (tests/support). The runtime image is built
// from this build by `ferry image build-runtime`, pushed to the registry, and every flow
// image starts FROM it; runs go through `ferry server`, as containers reach the backend
// only through its API.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/random.hpp"
#include "core/text.hpp"
#include "ferry/codec.hpp"
#include "ferry/version.hpp"
#include "oci/image_builder.hpp"
#include "oci/registry_client.hpp"
#include "support/e2e_support.hpp"
#include "support/podman_service.hpp"
#include "support/registry_server.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using ferry::Value;
using ferry::test::BackendKind;
using ferry::test::CommandResult;
using ferry::test::contains;
using ferry::test::Home;
using ferry::test::PodmanService;
using ferry::test::RegistryServer;
using ferry::test::TempDir;
using ferry::test::write_text;

// A docker config file (what `docker login` writes) for the test registry.
void write_docker_config(const fs::path& dir, const std::string& host, const std::string& user,
                         const std::string& password) {
  Value config = {
      {"auths", {{host, {{"auth", ferry::detail::base64_encode(user + ":" + password)}}}}}};
  fs::create_directories(dir);
  write_text(dir / "config.json", config.dump());
}

class DockerE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RegistryServer& registry = RegistryServer::shared();
    PodmanService& podman = PodmanService::shared();
    config_dir_ = new TempDir();
    write_docker_config(config_dir_->path(), registry.host(), registry.username(),
                        registry.password());
    runtime_image_ = registry.host() + "/ferry-runtime:" + FERRY_VERSION;
    Home home(common_env(podman));
    CommandResult built = home.ferry({"image", "build-runtime", "--tag", runtime_image_}, {},
                                     std::chrono::minutes(5));
    ASSERT_EQ(built.exit_code, 0) << built.err << built.out;
    ASSERT_TRUE(contains(built.out, "Pushed the ferry runtime image")) << built.out;
  }
  static void TearDownTestSuite() {
    delete config_dir_;
    config_dir_ = nullptr;
  }

  static std::vector<std::string> common_env(PodmanService& podman) {
    return {"DOCKER_CONFIG=" + config_dir_->path().string(), "DOCKER_HOST=" + podman.base_url()};
  }

  // Settings of the flow source (tests/fixtures/e2e/docker_flow.cpp) for one registration.
  std::vector<std::string> flow_env(const std::string& flow_name, const std::string& builder,
                                    const std::string& base_image = "") const {
    return {"TEST_FLOW_NAME=" + flow_name, "TEST_REGISTRY=" + RegistryServer::shared().host(),
            "TEST_BASE_IMAGE=" + (base_image.empty() ? runtime_image_ : base_image),
            "TEST_BUILDER=" + builder};
  }

  std::unique_ptr<Home> server_home() const {
    return std::make_unique<Home>(common_env(PodmanService::shared()), BackendKind::ServerSqlite);
  }

  static CommandResult docker_agent(const Home& home, int max_runs,
                                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "agent",     "docker", "start",           "--max-runs", std::to_string(max_runs),
        "--network", "host",   "--poll-interval", "0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return home.ferry(args, {}, std::chrono::minutes(3));
  }

  static Value tags_of(const std::string& repository) {
    RegistryServer& registry = RegistryServer::shared();
    ferry::net::Request r;
    r.url = "http://" + registry.host() + "/v2/" + repository + "/tags/list";
    r.headers.push_back(
        {"Authorization",
         "Basic " + ferry::detail::base64_encode(registry.username() + ":" + registry.password())});
    r.max_retries = 0;
    ferry::net::Response resp = ferry::net::send(r);
    if (resp.status != 200) return Value::array();
    Value body = Value::parse(resp.body);
    return body.value("tags", Value::array());
  }

  static TempDir* config_dir_;
  static std::string runtime_image_;
};

TempDir* DockerE2E::config_dir_ = nullptr;
std::string DockerE2E::runtime_image_;

std::string fixture_path() { return ferry::test::fixture("e2e/docker_flow.cpp"); }

TEST_F(DockerE2E, EngineBuiltImageRunsThroughTheDockerAgent) {
  auto home = server_home();
  CommandResult reg = home->ferry({"register", "--path", fixture_path()},
                                  flow_env("docker-engine", "engine"), std::chrono::minutes(5));
  ASSERT_EQ(reg.exit_code, 0) << reg.err << reg.out;
  Value flows = home->flows();
  ASSERT_EQ(flows.size(), 1u) << flows.dump(2);
  EXPECT_EQ(flows[0]["storage"], "Docker");
  std::string digest = flows[0]["storage_descriptor"].value("image_digest", "");
  EXPECT_EQ(digest.rfind("sha256:", 0), 0u) << flows[0].dump(2);
  // Pushed, then removed from the engine: agents pull it by digest.
  EXPECT_EQ(tags_of("docker-engine").size(), 1u);

  std::string id = home->create_run({"docker-engine", "--param", "name=Ada"});
  ASSERT_FALSE(id.empty());
  CommandResult agent = docker_agent(*home, 1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home->show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "Hello, Ada from a container") << run.dump(2);
  EXPECT_EQ(run["pinned"].value("image_digest", ""), digest) << run.dump(2);
}

TEST_F(DockerE2E, DaemonlessImageRunsThroughTheDockerAgent) {
  auto home = server_home();
  CommandResult reg =
      home->ferry({"register", "--path", fixture_path()},
                  flow_env("docker-daemonless", "daemonless"), std::chrono::minutes(5));
  ASSERT_EQ(reg.exit_code, 0) << reg.err << reg.out;
  std::string id = home->create_run({"docker-daemonless"});
  CommandResult agent = docker_agent(*home, 1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home->show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "Hello, ferry from a container");
}

TEST_F(DockerE2E, UnchangedFlowIsNotRebuilt) {
  auto home = server_home();
  auto env = flow_env("docker-unchanged", "daemonless");
  CommandResult first =
      home->ferry({"register", "--path", fixture_path()}, env, std::chrono::minutes(5));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(tags_of("docker-unchanged").size(), 1u);
  CommandResult second =
      home->ferry({"register", "--path", fixture_path()}, env, std::chrono::minutes(5));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(contains(second.out, "unchanged")) << second.out;
  // A rebuild would have pushed a new timestamp tag.
  EXPECT_EQ(tags_of("docker-unchanged").size(), 1u);
}

TEST_F(DockerE2E, FailedHealthCheckStopsRegistration) {
  // A base image without ferry: `RUN ferry flow check` cannot run, so the build fails.
  RegistryServer& registry = RegistryServer::shared();
  ferry::oci::RegistryClient client(
      registry.host(), ferry::oci::RegistryCredentials{registry.username(), registry.password()});
  ferry::oci::AppendSpec bare;
  bare.target = ferry::oci::ImageReference::parse(registry.host() + "/bare-shell:1");
  bare.files.push_back({"/bin/sh", "", "/bin/dash", 0755});
  bare.files.push_back({"/lib/x86_64-linux-gnu/libc.so.6", "",
                        fs::canonical("/lib/x86_64-linux-gnu/libc.so.6").string(), 0755});
  bare.files.push_back({"/lib64/ld-linux-x86-64.so.2", "",
                        fs::canonical("/lib64/ld-linux-x86-64.so.2").string(), 0755});
  bare.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
  ferry::oci::append_image(client, client, bare);

  auto home = server_home();
  CommandResult reg = home->ferry({"register", "--path", fixture_path()},
                                  flow_env("docker-unhealthy", "engine", bare.target.str()),
                                  std::chrono::minutes(5));
  EXPECT_NE(reg.exit_code, 0);
  EXPECT_TRUE(contains(reg.out + reg.err, "Your docker image failed to build!"))
      << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out + reg.err, "ferry")) << reg.out << reg.err;
  EXPECT_EQ(home->flows().size(), 0u);
  EXPECT_EQ(tags_of("docker-unhealthy").size(), 0u);
}

TEST_F(DockerE2E, WrongRegistryPasswordIsOneClearError) {
  TempDir wrong_config;
  RegistryServer& registry = RegistryServer::shared();
  const std::string wrong = "not-the-password-" + ferry::detail::random_hex(8, "test");
  write_docker_config(wrong_config.path(), registry.host(), registry.username(), wrong);
  auto home = server_home();
  auto env = flow_env("docker-wrong-auth", "daemonless");
  env.push_back("DOCKER_CONFIG=" + wrong_config.path().string());
  CommandResult reg =
      home->ferry({"register", "--path", fixture_path()}, env, std::chrono::minutes(5));
  EXPECT_NE(reg.exit_code, 0);
  EXPECT_TRUE(contains(reg.out + reg.err, "refused the credentials")) << reg.out << reg.err;
  EXPECT_FALSE(contains(reg.out + reg.err, wrong));
  EXPECT_EQ(home->flows().size(), 0u);
}

TEST_F(DockerE2E, LocalAgentRefusesDockerStorage) {
  auto home = server_home();
  CommandResult reg = home->ferry({"register", "--path", fixture_path()},
                                  flow_env("docker-local", "daemonless"), std::chrono::minutes(5));
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  std::string id = home->create_run({"docker-local"});
  CommandResult agent = home->agent(1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home->show(id);
  EXPECT_EQ(run["state"], "Failed") << run.dump(2);
  EXPECT_TRUE(contains(run.dump(), "ferry agent docker start")) << run.dump(2);
}

}  // namespace
