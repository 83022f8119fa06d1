// GitHub storage: a flow source file in a GitHub (or GitHub Enterprise) repository, fetched
// through the REST API when a run starts. See docs/storage/github.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct GitHubOptions {
  std::string repo{};                 // "owner/name", required
  std::string path{};                 // the flow source in the repository, required
  std::string ref{};                  // branch, tag or commit; default the default branch
  std::string access_token_secret{};  // secret holding a token; default GITHUB_ACCESS_TOKEN
  std::string base_url{};             // API root; default https://api.github.com
  std::vector<std::string> labels{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> secrets{};
};

// Script only. add_flow records `path` (a second flow of the same name is a "Name conflict").
// get_flow resolves `ref` (or the repository's default branch) to a commit SHA, fetches the
// file at that SHA, compiles it and picks the flow by name; fetched_pin() is
// {"commit": sha, "ref": ref}. No default labels, no default result.
class GitHub : public Storage {
 public:
  // ValueError when repo or path is empty.
  explicit GitHub(GitHubOptions options);
  const GitHubOptions& options() const;
  // base_url, or https://api.github.com when unset.
  std::string api_url() const;
};

}  // namespace ferry::storage
