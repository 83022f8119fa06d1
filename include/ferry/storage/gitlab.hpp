// GitLab storage: a flow source file in a GitLab repository (gitlab.com or your own
// instance), fetched through the v4 API when a run starts. See docs/storage/gitlab.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct GitLabOptions {
  std::string repo{};                 // "group/project" (any depth) or a numeric project id
  std::string host{};                 // default https://gitlab.com
  std::string path{};                 // the flow source in the repository, required
  std::string ref{};                  // branch, tag or commit; default the default branch
  std::string access_token_secret{};  // secret holding a token; default GITLAB_ACCESS_TOKEN
  std::vector<std::string> labels{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> secrets{};
};

// Script only. get_flow reads the file at `ref` (or the project's default branch: the
// reference used "master") with the files API and compiles it; fetched_pin() is
// {"commit": the ref's commit, "last_commit": the file's last change, "ref": ref}.
class GitLab : public Storage {
 public:
  // ValueError when repo or path is empty.
  explicit GitLab(GitLabOptions options);
  const GitLabOptions& options() const;
  // host, or https://gitlab.com when unset.
  std::string host_url() const;
};

}  // namespace ferry::storage
