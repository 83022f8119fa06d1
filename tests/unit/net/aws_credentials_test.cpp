// The AWS credential chain, region and endpoint (src/net/aws_credentials.hpp): each source
// in order, profiles from the shared files, incomplete sources and nothing found.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ferry/error.hpp"
#include "net/aws_credentials.hpp"
#include "support/test_support.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace {

using ferry::Value;
using ferry::net::AwsCredentials;
using ferry::net::resolve_aws_credentials;
using ferry::net::resolve_aws_endpoint;
using ferry::net::resolve_aws_region;
using ferry::storage_test::error_of;
using ferry::storage_test::has;
using ferry::storage_test::ScopedEnv;
using ferry::test::write_text;

// No AWS variable from the machine, an empty FERRY_HOME (no secret store) and shared files
// in a temporary folder that the test may write.
struct CleanAws {
  ferry::test::ScopedFerryHome home;
  ferry::test::TempDir dir;
  std::vector<std::unique_ptr<ScopedEnv>> vars;
  CleanAws() {
    for (const char* name :
         {"AWS_CREDENTIALS", "FERRY__CONTEXT__SECRETS__AWS_CREDENTIALS", "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
          "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"})
      vars.push_back(std::make_unique<ScopedEnv>(name, nullptr));
    vars.push_back(
        std::make_unique<ScopedEnv>("AWS_SHARED_CREDENTIALS_FILE", credentials_file().c_str()));
    vars.push_back(std::make_unique<ScopedEnv>("AWS_CONFIG_FILE", config_file().c_str()));
  }
  std::string credentials_file() const { return (dir / "credentials").string(); }
  std::string config_file() const { return (dir / "config").string(); }
};

bool same(const AwsCredentials& c, const std::string& id, const std::string& secret,
          const std::string& token) {
  return c.access_key_id == id && c.secret_access_key == secret && c.session_token == token;
}

const Value kOptionKeys = {{"aws_access_key_id", "OPT_ID"},
                           {"aws_secret_access_key", "OPT_SECRET"},
                           {"aws_session_token", "OPT_TOKEN"}};

}  // namespace

TEST(AwsCredentials, TheSecretComesFirstThenClientOptionsThenTheEnvironment) {
  CleanAws clean;
  ScopedEnv id("AWS_ACCESS_KEY_ID", "ENV_ID");
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "ENV_SECRET");
  AwsCredentials env = resolve_aws_credentials(nullptr);
  EXPECT_TRUE(same(env, "ENV_ID", "ENV_SECRET", "")) << env.source;
  EXPECT_EQ(env.source, "environment");

  AwsCredentials options = resolve_aws_credentials(kOptionKeys);
  EXPECT_TRUE(same(options, "OPT_ID", "OPT_SECRET", "OPT_TOKEN"));
  EXPECT_EQ(options.source, "client_options");

  ScopedEnv aws_secret(
      "AWS_CREDENTIALS",
      R"({"ACCESS_KEY": "S_ID", "SECRET_ACCESS_KEY": "S_SECRET", "SESSION_TOKEN": "S_TOKEN"})");
  AwsCredentials from_secret = resolve_aws_credentials(kOptionKeys);
  EXPECT_TRUE(same(from_secret, "S_ID", "S_SECRET", "S_TOKEN"));
  EXPECT_EQ(from_secret.source, "secret AWS_CREDENTIALS");
}

TEST(AwsCredentials, ProfilesFromTheSharedCredentialsAndConfigFiles) {
  CleanAws clean;
  write_text(clean.credentials_file(),
             "[default]\naws_access_key_id = DEF_ID\naws_secret_access_key = DEF_SECRET\n\n"
             "# a comment\n[dev]\naws_access_key_id=DEV_ID\naws_secret_access_key=DEV_SECRET\n"
             "aws_session_token = DEV_TOKEN\n");
  write_text(clean.config_file(),
             "[default]\nregion = us-west-2\n[profile dev]\nregion = eu-central-1\n"
             "[profile cfgonly]\naws_access_key_id = CFG_ID\naws_secret_access_key = CFG_SECRET\n");
  EXPECT_TRUE(same(resolve_aws_credentials(nullptr), "DEF_ID", "DEF_SECRET", ""));
  EXPECT_EQ(resolve_aws_region(nullptr), "us-west-2");
  {
    ScopedEnv profile("AWS_PROFILE", "dev");
    AwsCredentials dev = resolve_aws_credentials(nullptr);
    EXPECT_TRUE(same(dev, "DEV_ID", "DEV_SECRET", "DEV_TOKEN"));
    EXPECT_TRUE(has(dev.source, "profile 'dev'")) << dev.source;
    EXPECT_EQ(resolve_aws_region(nullptr), "eu-central-1");
  }
  EXPECT_TRUE(
      same(resolve_aws_credentials({{"profile_name", "cfgonly"}}), "CFG_ID", "CFG_SECRET", ""));
}

TEST(AwsCredentials, IncompleteAndMissingCredentialsAreErrorsWithoutValues) {
  CleanAws clean;
  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", "LONE_ID_VALUE");
    std::string e = error_of<ferry::ValueError>([] { resolve_aws_credentials(nullptr); });
    EXPECT_TRUE(has(e, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")) << e;
    EXPECT_FALSE(has(e, "LONE_ID_VALUE"));
  }
  {
    ScopedEnv bad("AWS_CREDENTIALS", "not json");
    EXPECT_TRUE(has(error_of<ferry::ValueError>([] { resolve_aws_credentials(nullptr); }),
                    "must be a JSON object"));
  }
  std::string none = error_of<ferry::ValueError>([] { resolve_aws_credentials(nullptr); });
  EXPECT_TRUE(has(none, "No AWS credentials found")) << none;
  EXPECT_TRUE(has(none, clean.credentials_file())) << none;
}

TEST(AwsCredentials, RegionAndEndpointOrder) {
  CleanAws clean;
  EXPECT_EQ(resolve_aws_region(nullptr), "");
  EXPECT_EQ(resolve_aws_endpoint(nullptr), "");
  ScopedEnv def("AWS_DEFAULT_REGION", "eu-west-3");
  EXPECT_EQ(resolve_aws_region(nullptr), "eu-west-3");
  ScopedEnv region("AWS_REGION", "ap-south-1");
  EXPECT_EQ(resolve_aws_region(nullptr), "ap-south-1");
  EXPECT_EQ(resolve_aws_region({{"region_name", "us-east-2"}}), "us-east-2");
  ScopedEnv endpoint("AWS_ENDPOINT_URL", "http://env.example");
  EXPECT_EQ(resolve_aws_endpoint(nullptr), "http://env.example");
  EXPECT_EQ(resolve_aws_endpoint({{"endpoint_url", "http://opt.example"}}), "http://opt.example");
}
