#include "ferry/storage/github.hpp"

#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/repo_file.hpp"

namespace ferry::storage {

namespace {

const char kDefaultApi[] = "https://api.github.com";

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

class GitHubImpl : public StorageImpl {
 public:
  explicit GitHubImpl(GitHubOptions o) : o_(std::move(o)) {
    if (o_.repo.empty()) throw ValueError("GitHub storage needs a `repo` (\"owner/name\").");
    if (o_.path.empty()) {
      throw ValueError(
          "GitHub storage needs a `path`: where the flow source is in the repository.");
    }
    stored_as_script = true;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "GitHub"; }
  Value fetched_pin(const std::string& name) const override {
    auto it = pins_.find(name);
    return it == pins_.end() ? Value::object() : it->second;
  }
  const GitHubOptions& options() const { return o_; }
  std::string api_url() const {
    std::string url = o_.base_url.empty() ? kDefaultApi : o_.base_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }

 protected:
  std::string store_flow(const Flow&) override { return o_.path; }

  Flow load_flow(const std::string& name, const std::string&) override {
    std::string line = "Downloading flow from GitHub storage - repo: " + in_quotes(o_.repo) +
                       ", path: " + in_quotes(o_.path);
    if (!o_.ref.empty()) line += ", ref: " + in_quotes(o_.ref);
    logger().info(line);
    std::optional<std::string> token = repo::token(o_.access_token_secret, "GITHUB_ACCESS_TOKEN");
    std::string base = api_url() + "/repos/" + repo::encode_path(o_.repo);

    // The repository first, so a missing one is told apart from a missing ref.
    net::Request req = request(base, token);
    net::Response res = repo::send(req, "GitHub request for repo " + in_quotes(o_.repo));
    if (res.status == 404) {
      fail("Repo " + in_quotes(o_.repo) +
               " not found. Check that it exists (and is spelled correctly), and that you have "
               "configured the proper credentials for accessing it.",
           req, res);
    }
    check(req, res);
    std::string ref = o_.ref;
    if (ref.empty()) {
      Value repo_json = repo::json_body(res, "GitHub");
      if (!repo_json.contains("default_branch") || !repo_json["default_branch"].is_string()) {
        throw FlowStorageError("GitHub did not name the default branch of repo " +
                               in_quotes(o_.repo) + "; set `ref`.");
      }
      ref = repo_json["default_branch"].get<std::string>();
    }

    // The ref to a commit SHA, so the file read and the pin recorded are the same commit.
    req = request(base + "/commits/" + repo::encode_path(ref), token);
    res = repo::send(req, "GitHub request for ref " + in_quotes(ref));
    // GitHub answers 422 "No commit found for SHA" for an unknown name, 404 for some others.
    if (res.status == 404 || res.status == 422) {
      fail("Ref " + in_quotes(ref) + " not found in repo " + in_quotes(o_.repo) + ".", req, res);
    }
    check(req, res);
    Value commit = repo::json_body(res, "GitHub");
    if (!commit.contains("sha") || !commit["sha"].is_string()) {
      throw FlowStorageError("GitHub did not return a commit SHA for ref " + in_quotes(ref) + ".");
    }
    std::string sha = commit["sha"];

    req = request(base + "/contents/" + repo::encode_path(o_.path), token);
    req.params.emplace_back("ref", sha);
    res = repo::send(req, "GitHub request for file " + in_quotes(o_.path));
    if (res.status == 404) {
      fail("File " + in_quotes(o_.path) + " not found in repo " + in_quotes(o_.repo) + ", ref " +
               in_quotes(ref),
           req, res);
    }
    check(req, res);
    std::string content = file_content(repo::json_body(res, "GitHub"), req);
    logger().info("Flow successfully downloaded. Using commit: " + sha);
    Flow flow = repo::load_fetched_source("github", o_.path, content, name);
    pins_[name] = Value{{"commit", sha}, {"ref", ref}};
    return flow;
  }

  void serialize_fields(Value& out) const override {
    out["repo"] = o_.repo;
    out["path"] = o_.path;
    out["ref"] = nullable(o_.ref);
    out["access_token_secret"] = nullable(o_.access_token_secret);
    out["base_url"] = nullable(o_.base_url);
  }

 private:
  static net::Request request(const std::string& url, const std::optional<std::string>& token) {
    net::Request r;
    r.url = url;
    r.headers = {{"Accept", "application/vnd.github+json"},
                 {"X-GitHub-Api-Version", "2022-11-28"},
                 {"User-Agent", "ferry"}};  // GitHub refuses requests without one
    if (token && !token->empty()) r.headers.emplace_back("Authorization", "Bearer " + *token);
    return r;
  }

  // Logs the reference's line, then throws it with the HTTP status (never a header value).
  [[noreturn]] static void fail(const std::string& message, const net::Request& req,
                                const net::Response& res) {
    logger().error(message);
    throw FlowStorageError(message + " (" + repo::status_text(req, res) + ")");
  }

  static void check(const net::Request& req, const net::Response& res) {
    if (res.ok()) return;
    std::string hint = res.status == 401 ? " Check the access token." : "";
    throw FlowStorageError("GitHub storage: " + repo::status_text(req, res) + "." + hint);
  }

  // The contents API answers base64 up to 1 MB; bigger files come with encoding "none" and
  // are fetched again raw.
  std::string file_content(const Value& file, net::Request req) const {
    if (file.value("type", "file") != "file") {
      throw FlowStorageError("Path " + in_quotes(o_.path) + " in repo " + in_quotes(o_.repo) +
                             " is a " + file.value("type", std::string("?")) + ", not a file.");
    }
    if (file.value("encoding", "") == "base64" && file.contains("content")) {
      return repo::base64_decode(file["content"].get<std::string>());
    }
    for (auto& [name, value] : req.headers) {
      if (name == "Accept") value = "application/vnd.github.raw+json";
    }
    net::Response raw = repo::send(req, "GitHub request for file " + in_quotes(o_.path));
    check(req, raw);
    return raw.body;
  }

  GitHubOptions o_;
  std::map<std::string, Value> pins_;
};

const bool registered = [] {
  register_storage_type("GitHub", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    auto text = [&](const char* key) {
      return d.contains(key) && d[key].is_string() ? d[key].get<std::string>() : std::string();
    };
    GitHubOptions o;
    o.repo = d.at("repo").get<std::string>();
    o.path = d.at("path").get<std::string>();
    o.ref = text("ref");
    o.access_token_secret = text("access_token_secret");
    o.base_url = text("base_url");
    return std::make_shared<GitHubImpl>(std::move(o));
  });
  return true;
}();

}  // namespace

GitHub::GitHub(GitHubOptions options) : Storage(std::make_shared<GitHubImpl>(std::move(options))) {
  (void)registered;
}

const GitHubOptions& GitHub::options() const {
  return static_cast<const GitHubImpl&>(checked()).options();
}

std::string GitHub::api_url() const { return static_cast<const GitHubImpl&>(checked()).api_url(); }

}  // namespace ferry::storage
