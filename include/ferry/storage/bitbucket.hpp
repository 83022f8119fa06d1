// Bitbucket storage: a flow source file in a Bitbucket Server (Data Center) or Bitbucket
// Cloud repository, fetched through the REST API when a run starts.
// See docs/storage/bitbucket.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct BitbucketOptions {
  std::string project{};    // project key, required
  std::string repo{};       // repository slug, required
  std::string workspace{};  // Cloud only: setting it selects Bitbucket Cloud
  std::string host{};  // Server: default https://bitbucket.org; Cloud: https://api.bitbucket.org
  std::string path{};  // the flow source in the repository, required
  std::string ref{};   // branch, tag or commit; default the default branch
  std::string access_token_secret{};        // Server: bearer token; default BITBUCKET_ACCESS_TOKEN
  std::string cloud_username_secret{};      // Cloud: default BITBUCKET_CLOUD_USERNAME
  std::string cloud_app_password_secret{};  // Cloud: default BITBUCKET_CLOUD_APP_PASSWORD
  std::vector<std::string> labels{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> secrets{};
};

// Script only. Server: the ref is resolved to a commit (commits API) and the file read raw at
// it. Cloud: a ref that is not a 40-hex SHA is looked up among the branches, then the tags
// (every page), and the file read from the src API at the hash; 429 answers are retried.
// fetched_pin() is {"commit": sha, "ref": ref}.
class Bitbucket : public Storage {
 public:
  // ValueError when project, repo or path is empty, and the reference's error when
  // `workspace` and `access_token_secret` are both set.
  explicit Bitbucket(BitbucketOptions options);
  const BitbucketOptions& options() const;
  bool cloud() const;
};

}  // namespace ferry::storage
