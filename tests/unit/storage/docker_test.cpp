// Docker storage without an engine (reference §2.12 and cases 95-116, in ferry's form): the
// options and their defaults, names, the descriptor, and the Dockerfile and context build()
// writes. Building, pushing and running images against podman and docker-registry is in
// tests/e2e/docker_test.cpp and tests/unit/storage/docker_build_test.cpp.
#include "ferry/storage/docker.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "ferry/ferry.hpp"
#include "storage/docker_credentials.hpp"
#include "storage/dockerfile.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using ferry::Value;
using ferry::ValueError;
using ferry::storage::Docker;
using ferry::storage::DockerOptions;
using ferry::storage::python_repr;
using ferry::storage::Storage;
using ferry::storage_test::error_of;
using ferry::storage_test::fixture_flow;
using ferry::storage_test::has;
using ferry::storage_test::ScopedEnv;
using ferry::test::TempDir;
using ferry::test::write_text;

TEST(DockerStorage, BaseImageAndDockerfileTogetherAreRefused) {
  std::string e = error_of<ValueError>(
      [] { Docker({.base_image = "debian:12", .dockerfile = "/tmp/Dockerfile"}); });
  EXPECT_EQ(e, "Only one of `base_image` and `dockerfile` can be provided.");
}

TEST(DockerStorage, RelativeFilesAreRefused) {
  std::string e = error_of<ValueError>([] { Docker({.files = {{"relative/file.txt", "/x"}}}); });
  EXPECT_EQ(e,
            "Provided paths {relative/file.txt} are not absolute file paths, please provide "
            "absolute paths only.");
}

TEST(DockerStorage, UnknownBuilderIsRefused) {
  std::string e = error_of<ValueError>([] { Docker({.builder = "kaniko"}); });
  EXPECT_TRUE(has(e, "\"engine\"")) << e;
  EXPECT_TRUE(has(e, "\"daemonless\"")) << e;
}

TEST(DockerStorage, FlowLocationsFollowTheFerryDirectory) {
  Docker d;
  EXPECT_EQ(d.add_flow(fixture_flow("two_flows.cpp", "flow-1")), "/opt/ferry/flows/flow-1.ferry");
  Docker custom({.ferry_directory = "/usr/ferry-is-gr8"});
  EXPECT_EQ(custom.add_flow(fixture_flow("two_flows.cpp", "flow-2")),
            "/usr/ferry-is-gr8/flows/flow-2.ferry");
  EXPECT_EQ(custom.options().env_vars.at("FERRY_HOME"), "/usr/ferry-is-gr8");
  Docker own_home({.env_vars = {{"FERRY_HOME", "/data"}}});
  EXPECT_EQ(own_home.options().env_vars.at("FERRY_HOME"), "/data");
}

TEST(DockerStorage, DuplicateFlowIsRefused) {
  Docker d;
  d.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  std::string e =
      error_of<ValueError>([&] { d.add_flow(fixture_flow("two_flows.cpp", "flow-1")); });
  EXPECT_TRUE(has(e, "Name conflict")) << e;
}

TEST(DockerStorage, Defaults) {
  ScopedEnv host("DOCKER_HOST", nullptr);
  ScopedEnv runtime("FERRY_RUNTIME_IMAGE", nullptr);
  Docker d;
  EXPECT_EQ(d.options().base_image, std::string("ferry-runtime:") + FERRY_VERSION);
  EXPECT_EQ(d.options().base_url, "unix:///var/run/docker.sock");
  EXPECT_EQ(d.options().builder, "engine");
  EXPECT_TRUE(d.options().build_kwargs.is_object());
  EXPECT_TRUE(d.labels().empty());
  EXPECT_FALSE(d.default_result());
}

TEST(DockerStorage, BaseUrlComesFromDockerHostUnlessGiven) {
  ScopedEnv host("DOCKER_HOST", "bar");
  EXPECT_EQ(Docker().options().base_url, "bar");
  EXPECT_EQ(Docker({.base_url = "foo"}).options().base_url, "foo");
}

TEST(DockerStorage, RuntimeImageCanBeConfigured) {
  ScopedEnv runtime("FERRY_RUNTIME_IMAGE", "registry.example/ferry:custom");
  EXPECT_EQ(Docker().options().base_image, "registry.example/ferry:custom");
}

TEST(DockerStorage, Name) {
  EXPECT_TRUE(has(error_of<ValueError>([] { (void)Docker().name(); }),
                  "missing required fields image_name and image_tag"));
  EXPECT_EQ(Docker({.registry_url = "test1", .image_name = "test2", .image_tag = "test3"}).name(),
            "test1/test2:test3");
  EXPECT_EQ(Docker({.image_name = "test2", .image_tag = "test3"}).name(), "test2:test3");
  EXPECT_EQ(Docker({.registry_url = "test1/", .image_name = "test2", .image_tag = "test3"}).name(),
            "test1/test2:test3");
}

TEST(DockerStorage, DescriptorRoundTrip) {
  Docker d({.registry_url = "127.0.0.1:5000/team",
            .image_name = "flows",
            .image_tag = "v1",
            .ferry_directory = "/srv/ferry",
            .registry_credentials_secret = "REG_CREDS",
            .secrets = {"cloud_creds"}});
  d.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  Value out = d.serialize();
  EXPECT_EQ(out["type"], "Docker");
  EXPECT_EQ(out["registry_url"], "127.0.0.1:5000/team");
  EXPECT_EQ(out["image_name"], "flows");
  EXPECT_EQ(out["image_tag"], "v1");
  EXPECT_TRUE(out["image_digest"].is_null());
  EXPECT_EQ(out["ferry_directory"], "/srv/ferry");
  EXPECT_EQ(out["registry_credentials_secret"], "REG_CREDS");
  EXPECT_EQ(out["secrets"], Value::array({"cloud_creds"}));
  EXPECT_TRUE(out.contains("ferry_version"));
  // Build-only options (base image, files, env) are not part of the reference.
  EXPECT_FALSE(out.contains("base_image"));
  EXPECT_FALSE(out.contains("env_vars"));

  Storage back = Storage::deserialize(out);
  ASSERT_EQ(back.type(), "Docker");
  EXPECT_EQ(back.flows().at("flow-1"), "/srv/ferry/flows/flow-1.ferry");
  EXPECT_EQ(back.serialize(), out);
}

TEST(DockerStorage, EmptyDescriptorIsNotNamed) {
  Value out = Docker().serialize();
  EXPECT_TRUE(out["registry_url"].is_null());
  EXPECT_TRUE(out["image_name"].is_null());
  EXPECT_TRUE(out["image_tag"].is_null());
  EXPECT_EQ(out["secrets"], Value::array());
}

TEST(DockerStorage, GetFlowOutsideTheImageNamesTheDockerAgent) {
  Docker d({.registry_url = "reg", .image_name = "img", .image_tag = "t"});
  d.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  Storage back = Storage::deserialize(d.serialize());
  std::string e = error_of<ferry::FlowStorageError>([&] { back.get_flow("flow-1"); });
  EXPECT_TRUE(has(e, "ferry agent docker start")) << e;
  EXPECT_TRUE(has(e, "reg/img:t")) << e;
}

TEST(DockerStorage, PythonReprQuotesAsTheReference) {
  EXPECT_EQ(python_repr("1"), "'1'");
  EXPECT_EQ(python_repr("Hello world!"), "'Hello world!'");
  EXPECT_EQ(python_repr("Hello \"friend\""), "'Hello \"friend\"'");
  EXPECT_EQ(python_repr("'foo'"), "\"'foo'\"");
  EXPECT_EQ(python_repr("both ' and \""), "'both \\' and \"'");
  EXPECT_EQ(python_repr("a\\b\nc"), "'a\\\\b\\nc'");
}

TEST(DockerStorage, DefaultDockerfile) {
  TempDir dir;
  Docker d({.base_image = "ferry-base:1"});
  d.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  std::string text = d.create_dockerfile(dir.path().string());
  EXPECT_EQ(text,
            "\n"
            "FROM ferry-base:1\n"
            "ENV FERRY_HOME='/opt/ferry'\n"
            "\n"
            "RUN mkdir -p /opt/ferry/\n"
            "COPY flow-1.ferry /opt/ferry/flows/flow-1.ferry\n"
            "\n"
            "\n"
            "\n"
            "RUN ferry flow check '/opt/ferry/flows/flow-1.ferry'\n");
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "flow-1.ferry"));
  EXPECT_EQ(ferry::test::read_text(dir.path() / "Dockerfile"), text);
  // The package written into the context is the one whose digest is recorded.
  EXPECT_EQ(d.serialize()["digests"].size(), 1u);
}

TEST(DockerStorage, DockerfileWithEverything) {
  TempDir dir;
  TempDir sources;
  write_text(sources.path() / "test.txt", "data");
  fs::create_directories(sources.path() / "subdir");
  write_text(sources.path() / "subdir" / "nested.txt", "nested");
  write_text(sources.path() / "Dockerfile.user", "FROM debian:12\nRUN echo hi");
  Docker d({.dockerfile = (sources.path() / "Dockerfile.user").string(),
            .env_vars = {{"NUM", "1"}, {"STR_WITH_SPACES", "Hello world!"}},
            .files = {{(sources.path() / "test.txt").string(), "/data/test.txt"},
                      {(sources.path() / "subdir").string(), "/data/subdir"}},
            .extra_dockerfile_commands = {"RUN echo extra", "VOLUME /data"}});
  d.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  d.add_flow(fixture_flow("two_flows.cpp", "flow-2"));
  std::string text = d.create_dockerfile(dir.path().string());
  EXPECT_EQ(text.rfind("\nFROM debian:12\nRUN echo hi\n", 0), 0u) << text;
  EXPECT_TRUE(has(text,
                  "ENV FERRY_HOME='/opt/ferry' \\\n    NUM='1' \\\n    "
                  "STR_WITH_SPACES='Hello world!'\n"))
      << text;
  EXPECT_TRUE(has(text, "COPY flow-1.ferry /opt/ferry/flows/flow-1.ferry\n")) << text;
  EXPECT_TRUE(has(text, "COPY flow-2.ferry /opt/ferry/flows/flow-2.ferry\n")) << text;
  EXPECT_TRUE(has(text, "COPY test.txt /data/test.txt\n")) << text;
  EXPECT_TRUE(has(text, "COPY subdir /data/subdir\n")) << text;
  EXPECT_TRUE(has(text, "RUN echo extra\nVOLUME /data\n")) << text;
  EXPECT_TRUE(has(text,
                  "RUN ferry flow check '/opt/ferry/flows/flow-1.ferry' "
                  "'/opt/ferry/flows/flow-2.ferry'\n"))
      << text;
  for (const std::string& line : {std::string("FROM"), std::string("COPY")}) {
    EXPECT_FALSE(has(text, " " + line)) << "no line is indented: " << text;
  }
  EXPECT_EQ(ferry::test::read_text(dir.path() / "test.txt"), "data");
  EXPECT_EQ(ferry::test::read_text(dir.path() / "subdir" / "nested.txt"), "nested");
}

TEST(DockerStorage, WeirdFlowNamesAreSlugged) {
  Docker d({.ferry_directory = "/usr/ferry-is-gr8"});
  ferry::Flow f("WHAT IS THIS !!! ~~~~");
  EXPECT_EQ(d.add_flow(f), "/usr/ferry-is-gr8/flows/what-is-this.ferry");
}

TEST(DockerStorage, HealthCheckCanBeIgnored) {
  TempDir a;
  TempDir b;
  Docker checked({.base_image = "x"});
  checked.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  EXPECT_TRUE(has(checked.create_dockerfile(a.path().string()), "RUN ferry flow check"));
  Docker ignored({.base_image = "x", .ignore_healthchecks = true});
  ignored.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  EXPECT_FALSE(has(ignored.create_dockerfile(b.path().string()), "ferry flow check"));
}

TEST(DockerStorage, ScriptFormCopiesTheSourceToPath) {
  TempDir dir;
  TempDir sources;
  write_text(sources.path() / "flow.cpp", "// source");
  Docker d({.base_image = "x",
            .files = {{(sources.path() / "flow.cpp").string(), "/src/flow.cpp"}},
            .path = "/src/flow.cpp",
            .stored_as_script = true});
  EXPECT_EQ(d.add_flow(fixture_flow("two_flows.cpp", "flow-1")), "/src/flow.cpp");
  std::string text = d.create_dockerfile(dir.path().string());
  EXPECT_TRUE(has(text, "COPY flow.cpp /src/flow.cpp\n")) << text;
  EXPECT_TRUE(has(text, "RUN ferry flow check --script '/src/flow.cpp'\n")) << text;
  EXPECT_FALSE(has(text, ".ferry")) << text;
}

TEST(DockerStorage, ScriptFormWithoutPathIsRefusedWhenWritingTheDockerfile) {
  TempDir dir;
  Docker d({.base_image = "x", .stored_as_script = true});
  std::string e = error_of<ValueError>([&] { d.create_dockerfile(dir.path().string()); });
  EXPECT_TRUE(has(e, "A `path` must be provided")) << e;
}

TEST(DockerStorage, SameFileNameFromTwoFoldersIsRefused) {
  TempDir dir;
  TempDir one;
  TempDir two;
  write_text(one.path() / "same.txt", "1");
  write_text(two.path() / "same.txt", "2");
  Docker d({.base_image = "x",
            .files = {{(one.path() / "same.txt").string(), "/a"},
                      {(two.path() / "same.txt").string(), "/b"}}});
  std::string e = error_of<ValueError>([&] { d.create_dockerfile(dir.path().string()); });
  EXPECT_TRUE(has(e, "already exists in")) << e;
}

TEST(DockerStorage, DaemonlessNeedsARegistryAndRefusesCommands) {
  Docker no_registry({.base_image = "x", .builder = "daemonless"});
  no_registry.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  EXPECT_TRUE(has(error_of<ValueError>([&] { no_registry.build(); }), "set registry_url"));

  Docker commands({.registry_url = "127.0.0.1:1",
                   .base_image = "x",
                   .extra_dockerfile_commands = {"RUN echo"},
                   .builder = "daemonless"});
  commands.add_flow(fixture_flow("two_flows.cpp", "flow-1"));
  EXPECT_TRUE(has(error_of<ValueError>([&] { commands.build(); }), "extra_dockerfile_commands"));
}

TEST(DockerStorage, RegistryCredentialsComeFromANamedSecret) {
  ScopedEnv secret("FERRY_TEST_REG_CREDS", R"({"username": "robot", "password": "s3cret-pass"})");
  auto creds = ferry::storage::registry_credentials("127.0.0.1:5000", "FERRY_TEST_REG_CREDS");
  ASSERT_TRUE(creds.has_value());
  EXPECT_EQ(creds->username, "robot");
  EXPECT_EQ(creds->password, "s3cret-pass");

  ScopedEnv missing("FERRY_TEST_REG_MISSING", nullptr);
  std::string e = error_of<ValueError>(
      [] { ferry::storage::registry_credentials("127.0.0.1:5000", "FERRY_TEST_REG_MISSING"); });
  EXPECT_TRUE(has(e, "FERRY_TEST_REG_MISSING")) << e;
  EXPECT_TRUE(has(e, "ferry secrets set")) << e;

  ScopedEnv malformed("FERRY_TEST_REG_BAD", "not json but a-secret-value");
  std::string bad = error_of<ValueError>(
      [] { ferry::storage::registry_credentials("127.0.0.1:5000", "FERRY_TEST_REG_BAD"); });
  EXPECT_FALSE(has(bad, "a-secret-value")) << bad;
}

}  // namespace
