#include "oci/registry_credentials.hpp"

#include <gtest/gtest.h>

#include "core/text.hpp"
#include "ferry/error.hpp"
#include "support/test_support.hpp"
#include "unit/oci/oci_test_util.hpp"

namespace ferry::oci {
namespace {

using testing::error_of;
using testing::ScopedEnv;

std::string b64(const std::string& s) { return detail::base64_encode(s); }

class OciDockerConfig : public ::testing::Test {
 protected:
  void write(const std::string& json) { test::write_text(dir_ / "config.json", json); }
  test::TempDir dir_;
  ScopedEnv env_{"DOCKER_CONFIG", dir_.path().c_str()};
};

TEST_F(OciDockerConfig, ReadsAuthAndUsernamePasswordEntries) {
  write(R"({"auths": {
    "127.0.0.1:5000": {"auth": ")" +
        b64("user:pa:ss") + R"("},
    "https://ghcr.io": {"username": "gh", "password": "ghp"},
    "https://index.docker.io/v1/": {"auth": ")" +
        b64("hub:hubpw") + R"("},
    "http://reg.example.com/v1/": {"auth": ")" +
        b64("r:rp") + R"("},
    "helper.example.com": {}
  }, "credsStore": "desktop"})");
  auto local = credentials_from_docker_config("127.0.0.1:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "user");
  EXPECT_EQ(local->password, "pa:ss");  // only the first ':' separates
  auto gh = credentials_from_docker_config("ghcr.io");
  ASSERT_TRUE(gh);
  EXPECT_EQ(gh->username, "gh");
  EXPECT_EQ(gh->password, "ghp");
  auto hub = credentials_from_docker_config("docker.io");
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "hubpw");
  auto reg = credentials_from_docker_config("reg.example.com");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->username, "r");
  EXPECT_FALSE(credentials_from_docker_config("helper.example.com"));
  EXPECT_FALSE(credentials_from_docker_config("other.example.com"));
  EXPECT_FALSE(credentials_from_docker_config("127.0.0.1:5001"));
}

TEST_F(OciDockerConfig, ExactKeyWinsOverSchemeKey) {
  write(R"({"auths": {"https://ghcr.io/": {"username": "old", "password": "a"},
                      "ghcr.io": {"username": "new", "password": "b"}}})");
  EXPECT_EQ(credentials_from_docker_config("ghcr.io")->username, "new");
}

TEST_F(OciDockerConfig, MissingFileOrAuthsIsNothing) {
  EXPECT_FALSE(credentials_from_docker_config("ghcr.io"));
  write(R"({"credsStore": "pass"})");
  EXPECT_FALSE(credentials_from_docker_config("ghcr.io"));
}

TEST_F(OciDockerConfig, MalformedFileIsAnErrorNamingItWithoutItsContent) {
  write(R"({"auths": {"ghcr.io": {"password": "hunter2-secret")");
  const std::string message = error_of([] { credentials_from_docker_config("ghcr.io"); });
  EXPECT_NE(message.find((dir_ / "config.json").string()), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;

  write(R"({"auths": {"ghcr.io": {"auth": ")" + b64("no-colon-secret") + R"("}}})");
  EXPECT_THROW(credentials_from_docker_config("ghcr.io"), ValueError);
  const std::string bad_auth = error_of([] { credentials_from_docker_config("ghcr.io"); });
  EXPECT_NE(bad_auth.find("docker login ghcr.io"), std::string::npos) << bad_auth;
  EXPECT_EQ(bad_auth.find("no-colon-secret"), std::string::npos) << bad_auth;
}

TEST(OciDockerConfigHome, FallsBackToHomeDotDocker) {
  test::TempDir home;
  test::write_text(home / ".docker/config.json",
                   R"({"auths": {"ghcr.io": {"username": "me", "password": "pw"}}})");
  ScopedEnv no_config("DOCKER_CONFIG", nullptr);
  ScopedEnv home_env("HOME", home.path().c_str());
  auto creds = credentials_from_docker_config("ghcr.io");
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->username, "me");
  EXPECT_EQ(docker_config_path(), home / ".docker/config.json");
}

TEST(OciCredentialsJson, ReadsUsernameAndPassword) {
  RegistryCredentials c = credentials_from_json(R"({"username": "bot", "password": "tok"})");
  EXPECT_EQ(c.username, "bot");
  EXPECT_EQ(c.password, "tok");
}

TEST(OciCredentialsJson, MalformedIsAValueErrorThatNeverEchoesTheValue) {
  for (std::string value : {std::string("s3cr3t-value"), std::string(R"({"password": "s3cr3t"})"),
                            std::string(R"({"username": "bot", "password": 5})"),
                            std::string(R"(["s3cr3t"])"), std::string(R"({"username": "s3cr3t)")}) {
    SCOPED_TRACE(value);
    EXPECT_THROW(credentials_from_json(value), ValueError);
    const std::string message = error_of([&] { credentials_from_json(value); });
    EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
    EXPECT_NE(message.find(R"({"username": "...", "password": "..."})"), std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace ferry::oci
