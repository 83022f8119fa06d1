// Resolving a ref to a commit and fetching one commit into a folder, with the git command
// line. Transient failures are retried (3 times, backoff from git.retry_backoff seconds,
// doubling); others become one GitError naming the repository and the ref.
#pragma once

#include <filesystem>
#include <string>

#include "storage/git_command.hpp"

namespace ferry::storage::git_detail {

// What the storage asks for: a branch, a tag, a commit, or the default branch.
struct GitRefSpec {
  enum class Kind { Default, Branch, Tag, Commit } kind = Kind::Default;
  std::string name;  // branch or tag name, or the commit SHA
  // "branch 'main'", "tag 'v1'", "commit 0123...", "the default branch".
  std::string describe() const;
  // The full ref name ("refs/heads/main", "refs/tags/v1", "HEAD"); "" for a commit.
  std::string ref_name() const;
};

// The commit the ref points at now (`git ls-remote`). Tags are peeled to their commit.
std::string resolve_ref(const GitRemote& remote, const GitRefSpec& ref);

// Fetches `commit` (shallow: depth commits, 0 for all) into the empty folder `dir` and
// checks it out, only `sparse_dir` and the root's files when it is not empty ("" for the
// whole tree; "." for only the root's files). Returns the commit checked out: `commit`, or,
// when the server refuses to hand out commits by SHA, what `ref` points at then.
std::string fetch_commit(const GitRemote& remote, const std::string& commit, const GitRefSpec& ref,
                         int depth, const std::string& sparse_dir,
                         const std::filesystem::path& dir);

// Fetches what `ref` (a branch, a tag or the default branch) points at now into the empty
// folder `dir` and checks it out, as fetch_commit does; returns that commit. One request to
// the server instead of resolve_ref's plus fetch_commit's: for a repository with nothing
// cached, where the resolved commit could not be found locally anyway.
std::string fetch_ref(const GitRemote& remote, const GitRefSpec& ref, int depth,
                      const std::string& sparse_dir, const std::filesystem::path& dir);

}  // namespace ferry::storage::git_detail
