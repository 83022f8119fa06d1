// Fakes of the forge APIs the single-file repository storages call (no real GitHub, GitLab,
// Bitbucket or CodeCommit can run here): small servers on support/http_server.hpp that
// implement the documented requests and responses the storages use, check credentials the
// way the real services do, and serve repositories held in memory.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/http_server.hpp"

namespace ferry::test {

// Repositories in memory: commits (each a whole tree), branches and tags. Thread-safe, so a
// test can push while a fake serves.
class FakeRepos {
 public:
  // Creates an empty repository (a no-op if it exists).
  void create(const std::string& repo, const std::string& default_branch = "main");
  // Commits `path` = `content` on `branch` (created from nothing, or from the default
  // branch's tree when it does not exist yet); returns the new commit's 40-hex id.
  std::string push(const std::string& repo, const std::string& branch, const std::string& path,
                   const std::string& content);
  // Commits the removal of a file; returns the new commit's id.
  std::string remove(const std::string& repo, const std::string& branch, const std::string& path);
  void tag(const std::string& repo, const std::string& tag, const std::string& commit);

  bool exists(const std::string& repo) const;
  std::string default_branch(const std::string& repo) const;
  // A branch, tag, refs/heads/x, refs/tags/x or a full commit id, to a commit id.
  std::optional<std::string> resolve(const std::string& repo, const std::string& ref) const;
  std::optional<std::string> file(const std::string& repo, const std::string& commit,
                                  const std::string& path) const;
  // The last commit at or before `commit` that changed `path`.
  std::string last_change(const std::string& repo, const std::string& commit,
                          const std::string& path) const;
  // Names and commits, sorted by name.
  std::vector<std::pair<std::string, std::string>> branches(const std::string& repo) const;
  std::vector<std::pair<std::string, std::string>> tags(const std::string& repo) const;

 private:
  struct Commit {
    std::string parent;
    std::map<std::string, std::string> tree;
  };
  struct Repo {
    std::string default_branch;
    std::map<std::string, std::string> branches, tags;
    std::map<std::string, Commit> commits;
  };
  std::string commit_locked(Repo& r, const std::string& branch,
                            std::map<std::string, std::string> tree);

  mutable std::mutex mutex_;
  std::map<std::string, Repo> repos_;
  int counter_ = 0;
};

// GitHub REST v3: GET /repos/{owner}/{repo}, /repos/{o}/{r}/commits/{ref} (422 for an unknown
// ref), /repos/{o}/{r}/contents/{path}?ref= (base64 JSON, or the raw file for Accept
// application/vnd.github.raw*). A token (when set) is required as "Bearer T" or "token T":
// none hides the repository (404), a wrong one is 401 Bad credentials. Requests without a
// User-Agent are refused (403), as GitHub does. Files over `base64_limit` bytes come as
// GitHub sends files of 1-100 MB: encoding "none" and no content, only readable raw.
class GitHubFake {
  // Declared first: the server (last) stops before they go.
  std::string token_;

 public:
  explicit GitHubFake(std::string token = "");
  std::string base_url() const { return server.url(""); }
  std::atomic<std::size_t> base64_limit{1 << 20};
  FakeRepos repos;
  HttpServer server;

 private:
  HttpReply handle(const HttpRequest& r);
};

// GitLab v4: GET /api/v4/projects/{id} and /api/v4/projects/{id}/repository/files/{path}?ref=,
// where {id} is a numeric id or the URL-encoded "group/project" and {path} is URL-encoded
// (an unencoded slash matches no route: 404). PRIVATE-TOKEN when a token is set (none: 404,
// wrong: 401).
class GitLabFake {
  // Declared first: the server (last) stops before they go.
  std::string token_;
  std::mutex ids_mutex_;
  std::map<int, std::string> ids_;

 public:
  explicit GitLabFake(std::string token = "");
  std::string host_url() const { return server.url(""); }
  // The numeric id of a repository created through `repos` (1, 2, ... in creation order of
  // first use).
  int project_id(const std::string& repo);
  FakeRepos repos;
  HttpServer server;

 private:
  HttpReply handle(const HttpRequest& r);
};

// Bitbucket Server (Data Center) REST 1.0: GET
// /rest/api/1.0/projects/{P}/repos/{r}/commits?until=&limit= and .../raw/{path}?at=.
// Repositories are named "P/r" in `repos`. Bearer token when set (else 401).
class BitbucketServerFake {
  // Declared first: the server (last) stops before they go.
  std::string token_;

 public:
  explicit BitbucketServerFake(std::string token = "");
  std::string host_url() const { return server.url(""); }
  FakeRepos repos;
  HttpServer server;

 private:
  HttpReply handle(const HttpRequest& r);
};

// Bitbucket Cloud API 2.0: GET /2.0/repositories/{ws}/{r} (mainbranch),
// .../refs/branches and .../refs/tags (paged: page, pagelen at most page_size, `next`), and
// .../src/{commit}/{path} (raw). Repositories are named "ws/r" in `repos`. Basic auth with
// the username and app password when set (else 401).
class BitbucketCloudFake {
  // Declared first: the server (last) stops before they go.
  std::string username_, password_;
  int page_size_;

 public:
  BitbucketCloudFake(std::string username = "", std::string app_password = "", int page_size = 10);
  std::string api_url() const { return server.url(""); }
  FakeRepos repos;
  HttpServer server;

 private:
  HttpReply handle(const HttpRequest& r);
  HttpReply page(const HttpRequest& r, const std::vector<std::pair<std::string, std::string>>& refs,
                 const char* type);
};

// CodeCommit JSON 1.1: POST / with X-Amz-Target CodeCommit_20150413.GetFile and a SigV4
// signature it verifies by recomputing it with the secret key (service "codecommit", its
// region; a session token, when set, must be signed). Errors as AWS sends them:
// {"__type": "...Exception", "message": ...}.
class CodeCommitFake {
  // Declared first: the server (last) stops before they go.
  std::string key_id_, secret_, region_, token_;

 public:
  CodeCommitFake(std::string access_key_id, std::string secret_access_key,
                 std::string region = "us-east-1", std::string session_token = "");
  std::string endpoint_url() const { return server.url(""); }
  FakeRepos repos;
  HttpServer server;

 private:
  HttpReply handle(const HttpRequest& r);
};

// A flow file under tests/fixtures (default forge/repo_flow.cpp) with the word its task
// returns replaced, as a repository would hold it after an edit.
std::string forge_flow_source(const std::string& word = "first-word",
                              const std::string& fixture_name = "forge/repo_flow.cpp");

}  // namespace ferry::test
