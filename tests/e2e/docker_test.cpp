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
#include "support/git_servers.hpp"
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

  // The runtime image with g++, ferry's headers, git and ssh (`ferry image build-runtime
  // --with-compiler --add-binary ...`): for flows stored as scripts and Git storage over ssh.
  // Built on first use, once per test run (about 90 MB compressed).
  static const std::string& build_image() {
    static std::string image;
    if (!image.empty()) return image;
    std::string tag = RegistryServer::shared().host() + "/ferry-build:" + FERRY_VERSION;
    Home home(common_env(PodmanService::shared()));
    CommandResult built =
        home.ferry({"image", "build-runtime", "--tag", tag, "--with-compiler", "--add-binary",
                    "/usr/bin/git", "--add-binary", "/usr/bin/ssh"},
                   {}, std::chrono::minutes(10));
    EXPECT_EQ(built.exit_code, 0) << built.err << built.out;
    if (built.exit_code == 0) image = tag;
    return image;
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

TEST_F(DockerE2E, ScriptFormCompilesInsideTheImage) {
  const std::string& base = build_image();
  ASSERT_FALSE(base.empty());
  auto home = server_home();
  auto env = flow_env("docker-script", "engine", base);
  env.push_back("TEST_SCRIPT=1");
  // The engine build's health check compiles the source inside the image.
  CommandResult reg =
      home->ferry({"register", "--path", fixture_path()}, env, std::chrono::minutes(10));
  ASSERT_EQ(reg.exit_code, 0) << reg.err << reg.out;
  Value flows = home->flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0]["storage_descriptor"]["stored_as_script"], true) << flows[0].dump(2);
  EXPECT_EQ(flows[0]["storage_descriptor"]["path"], "/opt/ferry/flow.cpp");

  std::string id = home->create_run({"docker-script", "--param", "name=Cy"});
  CommandResult agent = docker_agent(*home, 1);
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home->show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "Hello, Cy from a container") << run.dump(2);
}

TEST_F(DockerE2E, ScriptFormWithoutACompilerInTheImageSaysSo) {
  auto home = server_home();
  auto env = flow_env("docker-script-nocc", "engine");  // the runtime image: no compiler
  env.push_back("TEST_SCRIPT=1");
  CommandResult reg =
      home->ferry({"register", "--path", fixture_path()}, env, std::chrono::minutes(5));
  EXPECT_NE(reg.exit_code, 0);
  EXPECT_TRUE(contains(reg.out + reg.err, "Your docker image failed to build!"))
      << reg.out << reg.err;
  EXPECT_TRUE(contains(reg.out + reg.err, "build-runtime --with-compiler")) << reg.out << reg.err;
  EXPECT_EQ(home->flows().size(), 0u);
}

// The reference's "Adding SSH client to Docker images": a flow in Git storage over ssh runs
// in a custom image that has git and ssh, with the key and known_hosts mounted by the agent's
// --volume (the default ~/.ssh files: the storage names no key).
TEST_F(DockerE2E, GitOverSshRunsInACustomImageWithTheKeysMounted) {
  const std::string& image = build_image();
  ASSERT_FALSE(image.empty());
  TempDir srv;
  ferry::test::TestRepo repo(srv.path(), "flows");
  repo.write("flows/flow.cpp", ferry::test::read_text(ferry::test::fixture("git/flow.cpp")));
  repo.write("flows/greeting.hpp",
             ferry::test::read_text(ferry::test::fixture("git/greeting.hpp")));
  std::string sha = repo.commit("first");
  ferry::test::GitSshServer ssh;

  TempDir keys;
  fs::copy_file(ssh.identity_file(), keys.path() / "id_ed25519");
  fs::permissions(keys.path() / "id_ed25519", fs::perms::owner_read | fs::perms::owner_write);
  fs::copy_file(ssh.known_hosts_file(), keys.path() / "known_hosts");
  write_text(keys.path() / "clone_url", ssh.url(repo.bare()));

  auto home = server_home();
  CommandResult secret = home->ferry({"secrets", "set", "FERRY_TEST_GIT_URL", "--from-file",
                                      (keys.path() / "clone_url").string()});
  ASSERT_EQ(secret.exit_code, 0) << secret.err;
  // Registration loads the flow from the repository on this machine, whose ssh finds the
  // key as a user's ~/.ssh/config would point it there (an ssh wrapper first on PATH).
  TempDir bin;
  write_text(bin.path() / "ssh_config", "IdentityFile " + (keys.path() / "id_ed25519").string() +
                                            "\nUserKnownHostsFile " +
                                            (keys.path() / "known_hosts").string() + "\n");
  write_text(bin.path() / "ssh", "#!/bin/sh\nexec /usr/bin/ssh -F " +
                                     (bin.path() / "ssh_config").string() + " \"$@\"\n");
  fs::permissions(bin.path() / "ssh", fs::perms::owner_all);
  const char* path = std::getenv("PATH");
  CommandResult reg = home->ferry(
      {"register", "--path", (repo.work() / "flows/flow.cpp").string(), "-n", "git-hello"},
      {"FERRY_TEST_RUN_IMAGE=" + image, "PATH=" + bin.path().string() + ":" + (path ? path : "")},
      std::chrono::minutes(5));
  ASSERT_EQ(reg.exit_code, 0) << reg.err << reg.out;

  std::string id = home->create_run({"git-hello", "--param", "name=Di"});
  CommandResult agent = docker_agent(*home, 1, {"--volume", keys.path().string() + ":/root/.ssh"});
  ASSERT_EQ(agent.exit_code, 0) << agent.err;
  Value run = home->show(id);
  EXPECT_EQ(run["state"], "Success") << run.dump(2) << agent.err;
  EXPECT_EQ(run["result"], "Hello, Di!") << run.dump(2);
  EXPECT_EQ(run["pinned"]["commit"], sha) << run.dump(2);
}

}  // namespace
