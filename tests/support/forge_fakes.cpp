#include "support/forge_fakes.hpp"

#include <algorithm>

#include "core/digest.hpp"
#include "core/text.hpp"
#include "ferry/codec.hpp"
#include "net/http_client.hpp"
#include "net/sigv4.hpp"
#include "storage/repo_file.hpp"
#include "support/test_support.hpp"

namespace ferry::test {

namespace {

using ferry::Value;

HttpReply json(int status, const Value& body) {
  return {status, {{"Content-Type", "application/json; charset=utf-8"}}, body.dump()};
}

HttpReply raw(const std::string& body) {
  return {200, {{"Content-Type", "text/plain; charset=utf-8"}}, body};
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// parts[from..] joined with '/'.
std::string join_from(const std::vector<std::string>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) out += (i > from ? "/" : "") + parts[i];
  return out;
}

std::string fake_commit_id(const std::string& seed) {
  return detail::sha256_hex(seed).substr(0, 40);
}

std::string blob_id(const std::string& content) {
  return detail::sha256_hex("blob " + content).substr(0, 40);
}

// GitHub wraps base64 content at 60 columns.
std::string wrapped_base64(const std::string& content) {
  std::string b64 = storage::repo::base64_encode(content), out;
  for (std::size_t i = 0; i < b64.size(); i += 60) out += b64.substr(i, 60) + "\n";
  return out;
}

}  // namespace

std::string forge_flow_source(const std::string& word, const std::string& fixture_name) {
  std::string text = read_text(fixture(fixture_name));
  const std::string original = "first-word";
  for (std::size_t at = text.find(original); at != std::string::npos;
       at = text.find(original, at + word.size()))
    text.replace(at, original.size(), word);
  return text;
}

// ---- FakeRepos --------------------------------------------------------------------------

void FakeRepos::create(const std::string& repo, const std::string& default_branch) {
  std::lock_guard lock(mutex_);
  if (!repos_.count(repo)) repos_[repo].default_branch = default_branch;
}

std::string FakeRepos::commit_locked(Repo& r, const std::string& branch,
                                     std::map<std::string, std::string> tree) {
  std::string parent = r.branches.count(branch) ? r.branches[branch] : std::string();
  std::string seed = parent + "|" + branch + "|" + std::to_string(++counter_);
  for (const auto& [p, c] : tree) seed += "|" + p + "=" + c;
  std::string id = fake_commit_id(seed);
  r.commits[id] = {parent, std::move(tree)};
  r.branches[branch] = id;
  return id;
}

std::string FakeRepos::push(const std::string& repo, const std::string& branch,
                            const std::string& path, const std::string& content) {
  std::lock_guard lock(mutex_);
  Repo& r = repos_[repo];
  if (r.default_branch.empty()) r.default_branch = "main";
  std::map<std::string, std::string> tree;
  std::string from = r.branches.count(branch) ? branch : r.default_branch;
  if (r.branches.count(from)) tree = r.commits[r.branches[from]].tree;
  tree[path] = content;
  return commit_locked(r, branch, std::move(tree));
}

std::string FakeRepos::remove(const std::string& repo, const std::string& branch,
                              const std::string& path) {
  std::lock_guard lock(mutex_);
  Repo& r = repos_.at(repo);
  std::map<std::string, std::string> tree = r.commits[r.branches.at(branch)].tree;
  tree.erase(path);
  return commit_locked(r, branch, std::move(tree));
}

void FakeRepos::tag(const std::string& repo, const std::string& tag, const std::string& commit) {
  std::lock_guard lock(mutex_);
  repos_.at(repo).tags[tag] = commit;
}

bool FakeRepos::exists(const std::string& repo) const {
  std::lock_guard lock(mutex_);
  return repos_.count(repo) > 0;
}

std::string FakeRepos::default_branch(const std::string& repo) const {
  std::lock_guard lock(mutex_);
  return repos_.at(repo).default_branch;
}

std::optional<std::string> FakeRepos::resolve(const std::string& repo,
                                              const std::string& ref) const {
  std::lock_guard lock(mutex_);
  auto it = repos_.find(repo);
  if (it == repos_.end()) return std::nullopt;
  const Repo& r = it->second;
  std::string name = ref;
  if (name.rfind("refs/heads/", 0) == 0) name = name.substr(11);
  if (auto b = r.branches.find(name); b != r.branches.end()) return b->second;
  if (name.rfind("refs/tags/", 0) == 0) name = name.substr(10);
  if (auto t = r.tags.find(name); t != r.tags.end()) return t->second;
  if (r.commits.count(ref)) return ref;
  return std::nullopt;
}

std::optional<std::string> FakeRepos::file(const std::string& repo, const std::string& commit,
                                           const std::string& path) const {
  std::lock_guard lock(mutex_);
  auto it = repos_.find(repo);
  if (it == repos_.end()) return std::nullopt;
  auto c = it->second.commits.find(commit);
  if (c == it->second.commits.end()) return std::nullopt;
  auto f = c->second.tree.find(path);
  if (f == c->second.tree.end()) return std::nullopt;
  return f->second;
}

std::string FakeRepos::last_change(const std::string& repo, const std::string& commit,
                                   const std::string& path) const {
  std::lock_guard lock(mutex_);
  const Repo& r = repos_.at(repo);
  std::string at = commit;
  const std::string& content = r.commits.at(commit).tree.at(path);
  while (true) {
    const Commit& c = r.commits.at(at);
    if (c.parent.empty()) return at;
    const auto& ptree = r.commits.at(c.parent).tree;
    auto f = ptree.find(path);
    if (f == ptree.end() || f->second != content) return at;
    at = c.parent;
  }
}

std::vector<std::pair<std::string, std::string>> FakeRepos::branches(
    const std::string& repo) const {
  std::lock_guard lock(mutex_);
  const auto& b = repos_.at(repo).branches;
  return {b.begin(), b.end()};
}

std::vector<std::pair<std::string, std::string>> FakeRepos::tags(const std::string& repo) const {
  std::lock_guard lock(mutex_);
  const auto& t = repos_.at(repo).tags;
  return {t.begin(), t.end()};
}

// ---- GitHub -----------------------------------------------------------------------------

GitHubFake::GitHubFake(std::string token)
    : token_(std::move(token)), server([this](const HttpRequest& r) { return handle(r); }) {}

HttpReply GitHubFake::handle(const HttpRequest& r) {
  const Value not_found = {{"message", "Not Found"},
                           {"documentation_url", "https://docs.github.com/rest"}};
  if (r.header("User-Agent").empty()) {
    return json(403, {{"message",
                       "Request forbidden by administrative rules. Please make sure "
                       "your request has a User-Agent header"}});
  }
  if (r.method != "GET") return json(404, not_found);
  std::string auth = r.header("Authorization");
  if (!token_.empty()) {
    if (auth.empty()) return json(404, not_found);  // private repositories hide
    if (auth != "Bearer " + token_ && auth != "token " + token_)
      return json(401, {{"message", "Bad credentials"}});
  }
  std::vector<std::string> p = split_path(r.path);
  if (p.size() < 3 || p[0] != "repos") return json(404, not_found);
  std::string repo = p[1] + "/" + p[2];
  if (!repos.exists(repo)) return json(404, not_found);
  if (p.size() == 3) {
    return json(200, {{"full_name", repo},
                      {"private", !token_.empty()},
                      {"default_branch", repos.default_branch(repo)}});
  }
  if (p.size() >= 5 && p[3] == "commits") {
    std::string ref = join_from(p, 4);
    auto sha = repos.resolve(repo, ref);
    if (!sha) return json(422, {{"message", "No commit found for SHA: " + ref}});
    return json(200, {{"sha", *sha}, {"commit", {{"message", "commit " + *sha}}}});
  }
  if (p.size() >= 5 && p[3] == "contents") {
    std::string path = join_from(p, 4);
    std::string ref = r.param("ref");
    auto sha = repos.resolve(repo, ref.empty() ? repos.default_branch(repo) : ref);
    if (!sha) return json(404, {{"message", "No commit found for the ref " + ref}});
    auto content = repos.file(repo, *sha, path);
    if (!content) return json(404, not_found);
    if (r.header("Accept").rfind("application/vnd.github.raw", 0) == 0) return raw(*content);
    std::string name = path.substr(path.rfind('/') + 1);
    bool big = content->size() > base64_limit;
    return json(200, {{"type", "file"},
                      {"encoding", big ? "none" : "base64"},
                      {"size", content->size()},
                      {"name", name},
                      {"path", path},
                      {"content", big ? "" : wrapped_base64(*content)},
                      {"sha", blob_id(*content)}});
  }
  return json(404, not_found);
}

// ---- GitLab -----------------------------------------------------------------------------

GitLabFake::GitLabFake(std::string token)
    : token_(std::move(token)), server([this](const HttpRequest& r) { return handle(r); }) {}

int GitLabFake::project_id(const std::string& repo) {
  std::lock_guard lock(ids_mutex_);
  for (const auto& [id, name] : ids_) {
    if (name == repo) return id;
  }
  int id = static_cast<int>(ids_.size()) + 1;
  ids_[id] = repo;
  return id;
}

HttpReply GitLabFake::handle(const HttpRequest& r) {
  const Value project_missing = {{"message", "404 Project Not Found"}};
  if (!token_.empty()) {
    if (!r.has_header("PRIVATE-TOKEN")) return json(404, project_missing);
    if (r.header("PRIVATE-TOKEN") != token_) return json(401, {{"message", "401 Unauthorized"}});
  }
  // Route on the raw target: the project and the file path are each one encoded segment.
  std::string target = r.target.substr(0, r.target.find('?'));
  std::vector<std::string> p = split_path(target);
  if (r.method != "GET" || p.size() < 4 || p[0] != "api" || p[1] != "v4" || p[2] != "projects")
    return json(404, {{"error", "404 Not Found"}});
  std::string id = url_decode(p[3]);
  std::string repo = id;
  if (!id.empty() && std::all_of(id.begin(), id.end(), ::isdigit)) {
    std::lock_guard lock(ids_mutex_);
    auto it = ids_.find(std::stoi(id));
    repo = it == ids_.end() ? "" : it->second;
  }
  if (repo.empty() || !repos.exists(repo)) return json(404, project_missing);
  if (p.size() == 4) {
    return json(200, {{"id", project_id(repo)},
                      {"path_with_namespace", repo},
                      {"default_branch", repos.default_branch(repo)}});
  }
  if (p.size() != 7 || p[4] != "repository" || p[5] != "files")
    return json(404, {{"error", "404 Not Found"}});
  std::string path = url_decode(p[6]);
  std::string ref = r.param("ref");
  if (ref.empty()) return json(400, {{"error", "ref is missing, ref is empty"}});
  auto sha = repos.resolve(repo, ref);
  if (!sha) return json(404, {{"message", "404 Commit Not Found"}});
  auto content = repos.file(repo, *sha, path);
  if (!content) return json(404, {{"message", "404 File Not Found"}});
  return json(200, {{"file_name", path.substr(path.rfind('/') + 1)},
                    {"file_path", path},
                    {"size", content->size()},
                    {"encoding", "base64"},
                    {"content", storage::repo::base64_encode(*content)},
                    {"content_sha256", detail::sha256_hex(*content)},
                    {"ref", ref},
                    {"blob_id", blob_id(*content)},
                    {"commit_id", *sha},
                    {"last_commit_id", repos.last_change(repo, *sha, path)}});
}

// ---- Bitbucket Server -------------------------------------------------------------------

BitbucketServerFake::BitbucketServerFake(std::string token)
    : token_(std::move(token)), server([this](const HttpRequest& r) { return handle(r); }) {}

HttpReply BitbucketServerFake::handle(const HttpRequest& r) {
  auto errors = [](int status, const std::string& message) {
    return json(status, {{"errors", Value::array({{{"context", nullptr}, {"message", message}}})}});
  };
  if (!token_.empty() && r.header("Authorization") != "Bearer " + token_) {
    return errors(401, "Authentication failed. Please check your credentials and try again.");
  }
  std::vector<std::string> p = split_path(r.path);
  if (r.method != "GET" || p.size() < 7 || p[0] != "rest" || p[1] != "api" || p[2] != "1.0" ||
      p[3] != "projects" || p[5] != "repos")
    return errors(404, "No such resource.");
  std::string repo = p[4] + "/" + p[6];
  if (!repos.exists(repo)) return errors(404, "Repository " + repo + " does not exist.");
  if (p.size() == 8 && p[7] == "commits") {
    std::string until = r.param("until");
    auto sha = repos.resolve(repo, until.empty() ? repos.default_branch(repo) : until);
    if (!sha) {
      return errors(404, "Commit '" + until + "' does not exist in repository '" + p[6] + "'.");
    }
    return json(200,
                {{"size", 1},
                 {"limit", 1},
                 {"isLastPage", false},
                 {"start", 0},
                 {"values", Value::array({{{"id", *sha}, {"displayId", sha->substr(0, 11)}}})}});
  }
  if (p.size() >= 9 && p[7] == "raw") {
    std::string path = join_from(p, 8);
    std::string at = r.param("at");
    auto sha = repos.resolve(repo, at.empty() ? repos.default_branch(repo) : at);
    if (!sha)
      return errors(404, "Commit '" + at + "' does not exist in repository '" + p[6] + "'.");
    auto content = repos.file(repo, *sha, path);
    if (!content) {
      return errors(404, "The path \"" + path + "\" does not exist at revision \"" + at + "\"");
    }
    return raw(*content);
  }
  return errors(404, "No such resource.");
}

// ---- Bitbucket Cloud --------------------------------------------------------------------

BitbucketCloudFake::BitbucketCloudFake(std::string username, std::string app_password,
                                       int page_size)
    : username_(std::move(username)),
      password_(std::move(app_password)),
      page_size_(page_size),
      server([this](const HttpRequest& r) { return handle(r); }) {}

HttpReply BitbucketCloudFake::page(const HttpRequest& r,
                                   const std::vector<std::pair<std::string, std::string>>& refs,
                                   const char* type) {
  int pagelen = r.param("pagelen").empty() ? 10 : std::stoi(r.param("pagelen"));
  pagelen = std::max(1, std::min(pagelen, page_size_));
  int number = r.param("page").empty() ? 1 : std::stoi(r.param("page"));
  Value values = Value::array();
  for (std::size_t i = std::size_t(number - 1) * pagelen;
       i < refs.size() && i < std::size_t(number) * pagelen; ++i) {
    values.push_back({{"name", refs[i].first},
                      {"type", type},
                      {"target", {{"hash", refs[i].second}, {"type", "commit"}}}});
  }
  Value body = {{"pagelen", pagelen}, {"page", number}, {"size", refs.size()}, {"values", values}};
  if (std::size_t(number) * pagelen < refs.size()) {
    body["next"] = server.url(r.path) + "?page=" + std::to_string(number + 1) +
                   "&pagelen=" + std::to_string(pagelen);
  }
  return json(200, body);
}

HttpReply BitbucketCloudFake::handle(const HttpRequest& r) {
  auto error = [](int status, const std::string& message) {
    return json(status, {{"type", "error"}, {"error", {{"message", message}}}});
  };
  if (!username_.empty() || !password_.empty()) {
    std::string expected = "Basic " + storage::repo::base64_encode(username_ + ":" + password_);
    if (r.header("Authorization") != expected) return error(401, "Unauthorized");
  }
  std::vector<std::string> p = split_path(r.path);
  if (r.method != "GET" || p.size() < 4 || p[0] != "2.0" || p[1] != "repositories")
    return error(404, "Resource not found");
  std::string repo = p[2] + "/" + p[3];
  if (!repos.exists(repo)) return error(404, "Repository " + repo + " not found");
  if (p.size() == 4) {
    return json(200, {{"full_name", repo},
                      {"mainbranch", {{"name", repos.default_branch(repo)}, {"type", "branch"}}}});
  }
  if (p.size() == 6 && p[4] == "refs" && p[5] == "branches")
    return page(r, repos.branches(repo), "branch");
  if (p.size() == 6 && p[4] == "refs" && p[5] == "tags") return page(r, repos.tags(repo), "tag");
  if (p.size() >= 7 && p[4] == "src") {
    auto sha = repos.resolve(repo, p[5]);
    if (!sha) return error(404, "Commit not found");
    std::string path = join_from(p, 6);
    auto content = repos.file(repo, *sha, path);
    if (!content) return error(404, "No such file or directory: " + path);
    return raw(*content);
  }
  return error(404, "Resource not found");
}

// ---- CodeCommit -------------------------------------------------------------------------

CodeCommitFake::CodeCommitFake(std::string access_key_id, std::string secret_access_key,
                               std::string region, std::string session_token)
    : key_id_(std::move(access_key_id)),
      secret_(std::move(secret_access_key)),
      region_(std::move(region)),
      token_(std::move(session_token)),
      server([this](const HttpRequest& r) { return handle(r); }) {}

HttpReply CodeCommitFake::handle(const HttpRequest& r) {
  auto error = [](int status, const std::string& type, const std::string& message) {
    return HttpReply{status,
                     {{"Content-Type", "application/x-amz-json-1.1"}},
                     Value{{"__type", type}, {"message", message}}.dump()};
  };
  auto auth = net::sigv4::parse_authorization(r.header("Authorization"));
  if (!auth)
    return error(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  if (auth->access_key_id != key_id_) {
    return error(403, "UnrecognizedClientException",
                 "The security token included in the request is invalid.");
  }
  std::string date = r.header("X-Amz-Date");
  const auto& signed_headers = auth->signed_headers;
  auto is_signed = [&](const char* h) {
    return std::find(signed_headers.begin(), signed_headers.end(), h) != signed_headers.end();
  };
  if (date.size() != 16 || auth->date != date.substr(0, 8) || !is_signed("host") ||
      !is_signed("x-amz-date")) {
    return error(400, "IncompleteSignatureException",
                 "Authorization header requires existence of a signed host and x-amz-date, and "
                 "a credential scope matching the date.");
  }
  if (auth->region != region_ || auth->service != "codecommit") {
    return error(403, "InvalidSignatureException",
                 "Credential should be scoped to a valid region and service codecommit.");
  }
  if (!token_.empty() &&
      (!is_signed("x-amz-security-token") || r.header("X-Amz-Security-Token") != token_)) {
    return error(403, "UnrecognizedClientException",
                 "The security token included in the request is invalid.");
  }
  // Recompute the signature over what arrived.
  net::sigv4::Message m;
  m.method = r.method;
  m.path = r.target.substr(0, r.target.find('?'));
  if (std::size_t q = r.target.find('?'); q != std::string::npos) m.query = r.target.substr(q + 1);
  for (const std::string& name : signed_headers) {
    for (const auto& [n, v] : r.headers) {
      if (ferry::detail::iequals(n, name)) m.headers.emplace_back(n, v);
    }
  }
  m.body = r.body;
  net::AwsCredentials creds{key_id_, secret_, token_, "fake"};
  net::sigv4::Signature expected =
      net::sigv4::sign_message(m, creds, {.region = region_, .service = "codecommit"});
  if (expected.signature != auth->signature) {
    return error(403, "InvalidSignatureException",
                 "The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method.");
  }
  if (r.method != "POST" || m.path != "/") return error(404, "UnknownOperationException", "");
  if (r.header("X-Amz-Target") != "CodeCommit_20150413.GetFile")
    return error(400, "UnknownOperationException", "Unknown operation " + r.header("X-Amz-Target"));
  if (r.header("Content-Type") != "application/x-amz-json-1.1")
    return error(400, "SerializationException", "Unexpected content type");
  Value body = Value::parse(r.body, nullptr, false);
  if (!body.is_object()) return error(400, "SerializationException", "Bad JSON");
  std::string repo = body.value("repositoryName", "");
  std::string path = body.value("filePath", "");
  if (repo.empty())
    return error(400, "RepositoryNameRequiredException", "A repository name is required.");
  if (path.empty())
    return error(400, "PathRequiredException", "The filePath for a location cannot be empty.");
  if (!repos.exists(repo)) {
    return error(400, "RepositoryDoesNotExistException", repo + " does not exist");
  }
  std::string spec = body.value("commitSpecifier", repos.default_branch(repo));
  auto sha = repos.resolve(repo, spec);
  if (!sha) return error(400, "CommitDoesNotExistException", "Could not find commit " + spec);
  auto content = repos.file(repo, *sha, path);
  if (!content) {
    return error(400, "FileDoesNotExistException",
                 "The specified file does not exist. Verify the path " + path + ".");
  }
  Value out = {{"blobId", blob_id(*content)},
               {"commitId", *sha},
               {"fileContent", storage::repo::base64_encode(*content)},
               {"fileMode", "NORMAL"},
               {"filePath", path},
               {"fileSize", content->size()}};
  return {200, {{"Content-Type", "application/x-amz-json-1.1"}}, out.dump()};
}

}  // namespace ferry::test
