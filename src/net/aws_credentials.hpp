// AWS credentials, region and endpoint, found the way boto3 finds them (for CodeCommit now,
// S3 later): the AWS_CREDENTIALS secret, then client_options, then the environment, then the
// shared credentials and config files.
#pragma once

#include <string>

#include "ferry/codec.hpp"

namespace ferry::net {

struct AwsCredentials {
  std::string access_key_id{};
  std::string secret_access_key{};
  std::string session_token{};  // empty unless temporary credentials
  // Where they came from, for messages (never a value): "secret AWS_CREDENTIALS",
  // "client_options", "environment", "profile 'dev' in ~/.aws/credentials".
  std::string source{};
};

// client_options is a JSON object (or null) with the reference's boto3 names:
// aws_access_key_id, aws_secret_access_key, aws_session_token, region_name, endpoint_url,
// profile_name. Unknown keys are ignored.

// The chain, first complete one wins:
//  1. the secret AWS_CREDENTIALS (environment, FERRY__CONTEXT__SECRETS__, store): a JSON
//     object {"ACCESS_KEY", "SECRET_ACCESS_KEY", "SESSION_TOKEN" (optional)};
//  2. client_options aws_access_key_id / aws_secret_access_key / aws_session_token;
//  3. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN;
//  4. the profile (client_options profile_name, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default")
//     in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), then in AWS_CONFIG_FILE
//     (~/.aws/config, section "profile NAME").
// A half-set source (a key id without its secret) is a ValueError naming it; nothing found
// is a ValueError listing where it looked. Every value found is registered for masking.
AwsCredentials resolve_aws_credentials(const Value& client_options);

// client_options region_name, AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region` in
// the config file; "" when none.
std::string resolve_aws_region(const Value& client_options);

// client_options endpoint_url, then AWS_ENDPOINT_URL; "" when none (use the service's).
std::string resolve_aws_endpoint(const Value& client_options);

}  // namespace ferry::net
