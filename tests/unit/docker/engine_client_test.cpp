// The Docker engine client against a real engine (podman's Docker-compatible service, see
// support/podman_service.hpp): images imported, built, tagged and removed; containers run
// with env, binds and both output streams; and the errors a user sees.
#include "docker/engine_client.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/tar_writer.hpp"
#include "support/podman_service.hpp"
#include "support/test_support.hpp"

namespace {

using ferry::docker::BuildOptions;
using ferry::docker::BuildResult;
using ferry::docker::ContainerSpec;
using ferry::docker::EngineClient;
using ferry::test::PodmanService;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// A build context: a Dockerfile and the given files.
std::string context(const std::string& dockerfile,
                    const std::vector<std::pair<std::string, std::string>>& files = {}) {
  ferry::detail::TarWriter tar;
  tar.add_file("Dockerfile", dockerfile);
  for (const auto& [path, content] : files) tar.add_file(path, content);
  return tar.finish();
}

class DockerEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PodmanService::available()) GTEST_SKIP() << "podman and runc (as root) are needed";
    client_ = std::make_unique<EngineClient>(PodmanService::shared().base_url());
  }

  // The minimal rootfs imported once per test run; its name for FROM lines.
  const std::string& base_image() {
    static const std::string name = [this] {
      base_id() = client_->import_image(ferry::test::minimal_rootfs_tar(), "ferry-test-base", "t1");
      return std::string("ferry-test-base:t1");
    }();
    return name;
  }
  static std::string& base_id() {
    static std::string id;
    return id;
  }

  std::unique_ptr<EngineClient> client_;
};

}  // namespace

TEST(DockerEngineClient, BaseUrlForms) {
  EXPECT_EQ(EngineClient("unix:///run/x.sock").base_url(), "unix:///run/x.sock");
  EXPECT_EQ(EngineClient("unix://rel/x.sock").base_url(), "unix://rel/x.sock");
  EXPECT_EQ(EngineClient("/run/x.sock").base_url(), "unix:///run/x.sock");
  EXPECT_EQ(EngineClient("tcp://10.0.0.1:2375").base_url(), "tcp://10.0.0.1:2375");
  EXPECT_EQ(EngineClient("https://u:p@h:2376/").base_url(), "https://h:2376");
  for (const char* bad : {"ssh://h", "npipe:////./pipe/docker", "unix://", "tcp://", "h:2375"}) {
    EXPECT_THROW(EngineClient{bad}, ferry::ValueError) << bad;
  }
  const char* saved = std::getenv("DOCKER_HOST");
  std::string previous = saved ? saved : "";
  ::setenv("DOCKER_HOST", "tcp://127.0.0.1:1", 1);
  EXPECT_EQ(EngineClient::default_base_url(), "tcp://127.0.0.1:1");
  EXPECT_EQ(EngineClient().base_url(), "tcp://127.0.0.1:1");
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(EngineClient::default_base_url(), "unix:///var/run/docker.sock");
  if (saved) ::setenv("DOCKER_HOST", previous.c_str(), 1);
}

TEST(DockerEngineClient, UnreachableEngineSaysWhereAndWhatToDo) {
  ferry::test::TempDir dir;
  const std::string url = "unix://" + (dir / "no-engine.sock").string();
  EngineClient client(url);
  try {
    client.ping();
    FAIL() << "no exception";
  } catch (const ferry::Error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(has(what, "Cannot reach the Docker engine at " + url + ": ")) << what;
    EXPECT_TRUE(has(what, "Start Docker (or podman system service), or point DOCKER_HOST")) << what;
  }
  EXPECT_THROW(client.build(context("FROM scratch\n"), {}), ferry::Error);
}

TEST_F(DockerEngine, PingAndVersion) {
  client_->ping();
  ferry::Value version = client_->version();
  EXPECT_TRUE(version.contains("ApiVersion")) << version.dump();
  // podman 4 (and Docker 20.10 and later) serve API 1.41: the client's own version.
  EXPECT_EQ(client_->api_version(), "1.41");
}

TEST_F(DockerEngine, ImportBuildInspectTagAndRemove) {
  const std::string base = base_image();
  auto imported = client_->inspect_image(base);
  ASSERT_TRUE(imported) << base;
  EXPECT_EQ(imported->id, base_id()) << "import_image returns the id of repo:tag";
  EXPECT_EQ(imported->id.rfind("sha256:", 0), 0u) << imported->id;

  std::vector<std::string> streamed;
  BuildOptions options;
  options.tag = "localhost/ferry-test-build:1";
  BuildResult built =
      client_->build(context("FROM " + base + "\nCOPY hello /hello\nRUN cat /hello\n",
                             {{"hello", "greetings from the context\n"}}),
                     options, [&](const std::string& line) { streamed.push_back(line); });
  ASSERT_TRUE(built.ok) << built.error << "\n" << joined(built.last_lines);
  EXPECT_TRUE(has(joined(streamed), "greetings from the context")) << joined(streamed);
  EXPECT_FALSE(built.image_id.empty());
  EXPECT_LE(built.last_lines.size(), 20u);

  auto image = client_->inspect_image(options.tag);
  ASSERT_TRUE(image);
  EXPECT_TRUE(has(built.image_id, image->id) || has(image->id, built.image_id))
      << built.image_id << " vs " << image->id;
  EXPECT_TRUE(has(joined(image->repo_tags), "ferry-test-build:1")) << joined(image->repo_tags);

  client_->tag_image(options.tag, "localhost/ferry-test-build", "2");
  auto retagged = client_->inspect_image("localhost/ferry-test-build:2");
  ASSERT_TRUE(retagged);
  EXPECT_EQ(retagged->id, image->id);

  client_->remove_image("localhost/ferry-test-build:2");
  EXPECT_FALSE(client_->inspect_image("localhost/ferry-test-build:2"));
  EXPECT_TRUE(client_->inspect_image(options.tag)) << "the other tag stays";
  client_->remove_image(options.tag, /*force=*/true);
  EXPECT_FALSE(client_->inspect_image(options.tag));
  client_->remove_image(options.tag);  // already gone: not an error
}

TEST_F(DockerEngine, FailingRunGivesTheErrorAndTheLastLines) {
  BuildOptions options;
  options.tag = "localhost/ferry-test-failing:1";
  BuildResult built = client_->build(
      context("FROM " + base_image() + "\nRUN echo before-the-failure\nRUN exit 3\n"), options);
  EXPECT_FALSE(built.ok);
  EXPECT_FALSE(built.error.empty());
  EXPECT_TRUE(has(built.error, "3")) << built.error;
  EXPECT_TRUE(has(joined(built.last_lines), "before-the-failure")) << joined(built.last_lines);
  EXPECT_TRUE(has(joined(built.last_lines), built.error)) << "the error is among the lines";
  EXPECT_FALSE(client_->inspect_image(options.tag));
}

TEST_F(DockerEngine, BuildWithAMissingBaseImageFails) {
  BuildResult built =
      client_->build(context("FROM localhost/ferry-no-such-image:1\n"), BuildOptions{});
  EXPECT_FALSE(built.ok);
  EXPECT_TRUE(has(built.error, "ferry-no-such-image")) << built.error;
}

TEST_F(DockerEngine, ContainerRunsWithEnvAndABindMountAndBothStreams) {
  ferry::test::TempDir shared;
  ferry::test::write_text(shared / "input.txt", "from the host");
  ContainerSpec spec;
  spec.image = base_image();
  spec.cmd = {"/bin/sh", "-c",
              "echo out:$FOO; cat /data/input.txt; echo; echo err:$FOO >&2; exit 7"};
  spec.env = {"FOO=bar baz"};
  spec.binds = {shared.path().string() + ":/data:ro"};
  spec.network_mode = "host";
  spec.labels = {{"io.ferry.test", "1"}};
  const std::string id = client_->create_container(spec);
  EXPECT_EQ(client_->container_status(id), "created");
  client_->start_container(id);
  EXPECT_EQ(client_->wait_container(id), 7);
  EXPECT_EQ(client_->container_status(id), "exited");

  std::vector<std::string> out, err;
  client_->stream_logs(id, /*follow=*/true, [&](int stream, std::string_view line) {
    (stream == 1 ? out : err).emplace_back(line);
  });
  EXPECT_EQ(out, (std::vector<std::string>{"out:bar baz", "from the host"}));
  EXPECT_EQ(err, (std::vector<std::string>{"err:bar baz"}));

  client_->remove_container(id, /*force=*/true);
  EXPECT_FALSE(client_->container_status(id));
  client_->remove_container(id);  // already gone: not an error
}

TEST_F(DockerEngine, ContainerWithAMissingCommandFailsClearly) {
  ContainerSpec spec;
  spec.image = base_image();
  spec.cmd = {"/no/such/program"};
  spec.network_mode = "host";
  const std::string id = client_->create_container(spec);
  // Docker refuses to start it; an engine that starts it anyway reports a failed exit.
  try {
    client_->start_container(id);
    EXPECT_NE(client_->wait_container(id), 0);
  } catch (const ferry::Error& e) {
    EXPECT_TRUE(has(e.what(), "Docker engine: ")) << e.what();
    EXPECT_TRUE(has(e.what(), "/no/such/program")) << e.what();
    EXPECT_TRUE(has(e.what(), "/start)")) << e.what();
  }
  client_->remove_container(id, true);
}

TEST_F(DockerEngine, ApiErrorsCarryTheEngineMessage) {
  EXPECT_FALSE(client_->inspect_image("localhost/ferry-no-such-image:1"));
  EXPECT_FALSE(client_->container_status("ferry-no-such-container"));
  try {
    client_->tag_image("localhost/ferry-no-such-image:1", "localhost/x", "1");
    FAIL() << "no exception";
  } catch (const ferry::docker::EngineError& e) {
    EXPECT_EQ(e.status(), 404);
    const std::string what = e.what();
    EXPECT_TRUE(has(what, "Docker engine: ")) << what;
    EXPECT_TRUE(has(what, "(HTTP 404 from POST /v" + client_->api_version() +
                              "/images/localhost/ferry-no-such-image:1/tag)"))
        << what;
  }
  ContainerSpec spec;
  spec.image = "localhost/ferry-no-such-image:1";
  EXPECT_THROW(client_->create_container(spec), ferry::docker::EngineError);
}

TEST_F(DockerEngine, PushErrorsNeverCarryThePassword) {
  // Nothing listens on port 1: the engine reports the failure as an error line.
  const std::string secret = "s3cret-Pa55word";
  ferry::docker::RegistryAuth auth{"ferry", secret, "127.0.0.1:1"};
  client_->tag_image(base_image(), "127.0.0.1:1/ferry/base", "1");
  std::vector<std::string> progress;
  try {
    client_->push_image("127.0.0.1:1/ferry/base", "1", auth,
                        [&](const std::string& line) { progress.push_back(line); });
    FAIL() << "no exception";
  } catch (const ferry::Error& e) {
    const std::string what = e.what();
    EXPECT_FALSE(has(what, secret)) << what;
    EXPECT_TRUE(has(what, "127.0.0.1:1")) << what;
  }
  EXPECT_FALSE(has(joined(progress), secret));
  client_->remove_image("127.0.0.1:1/ferry/base:1");
}
