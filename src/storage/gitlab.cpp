#include "ferry/storage/gitlab.hpp"

#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/repo_file.hpp"

namespace ferry::storage {

namespace {

const char kDefaultHost[] = "https://gitlab.com";

class GitLabImpl : public StorageImpl {
 public:
  explicit GitLabImpl(GitLabOptions o) : o_(std::move(o)) {
    if (o_.repo.empty()) {
      throw ValueError("GitLab storage needs a `repo` (\"group/project\" or a project id).");
    }
    if (o_.path.empty()) {
      throw ValueError(
          "GitLab storage needs a `path`: where the flow source is in the repository.");
    }
    stored_as_script = true;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "GitLab"; }
  Value fetched_pin(const std::string& name) const override {
    auto it = pins_.find(name);
    return it == pins_.end() ? Value::object() : it->second;
  }
  const GitLabOptions& options() const { return o_; }
  std::string host_url() const {
    std::string url = o_.host.empty() ? kDefaultHost : o_.host;
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }

 protected:
  std::string store_flow(const Flow&) override { return o_.path; }

  Flow load_flow(const std::string& name, const std::string&) override {
    std::optional<std::string> token = repo::token(o_.access_token_secret, "GITLAB_ACCESS_TOKEN");
    // The whole "group/project" is one URL-encoded path segment (the slash becomes %2F).
    std::string project = host_url() + "/api/v4/projects/" + net::url_encode(o_.repo);
    std::string ref = o_.ref;
    if (ref.empty()) {
      net::Request req = request(project, token);
      net::Response res = repo::send(req, "GitLab request for project '" + o_.repo + "'");
      if (!res.ok()) fail(req, res, "the default branch");
      Value p = repo::json_body(res, "GitLab");
      if (!p.contains("default_branch") || !p["default_branch"].is_string()) {
        throw FlowStorageError("GitLab did not name the default branch of project '" + o_.repo +
                               "' (an empty repository?); set `ref`.");
      }
      ref = p["default_branch"].get<std::string>();
    }
    net::Request req = request(project + "/repository/files/" + net::url_encode(o_.path), token);
    req.params.emplace_back("ref", ref);
    net::Response res = repo::send(req, "GitLab request for file '" + o_.path + "'");
    if (!res.ok()) fail(req, res, ref);
    Value file = repo::json_body(res, "GitLab");
    std::string content = file.value("encoding", "base64") == "base64"
                              ? repo::base64_decode(file.value("content", ""))
                              : file.value("content", "");
    Value pin = {{"ref", ref}};
    if (file.contains("commit_id") && file["commit_id"].is_string())
      pin["commit"] = file["commit_id"];
    if (file.contains("last_commit_id") && file["last_commit_id"].is_string())
      pin["last_commit"] = file["last_commit_id"];
    Flow flow = repo::load_fetched_source("gitlab", o_.path, content, name);
    pins_[name] = std::move(pin);
    return flow;
  }

  void serialize_fields(Value& out) const override {
    out["repo"] = o_.repo;
    out["path"] = o_.path;
    out["host"] = nullable(o_.host);
    out["ref"] = nullable(o_.ref);
    out["access_token_secret"] = nullable(o_.access_token_secret);
  }

 private:
  static net::Request request(const std::string& url, const std::optional<std::string>& token) {
    net::Request r;
    r.url = url;
    r.headers = {{"Accept", "application/json"}};
    if (token && !token->empty()) r.headers.emplace_back("PRIVATE-TOKEN", *token);
    return r;
  }

  // The reference's log lines, then the error with the HTTP status (never the token).
  [[noreturn]] void fail(const net::Request& req, const net::Response& res,
                         const std::string& ref) const {
    std::string message =
        res.status == 401 ? "Unable to authenticate GitLab account. Please check your credentials."
                          : "Error retrieving file contents at " + o_.path + " in " + o_.repo +
                                "@" + ref + ". Ensure the project and file exist.";
    logger().error(message);
    std::string detail = repo::status_text(req, res);
    Value body = Value::parse(res.body, nullptr, false);
    if (body.is_object() && body.contains("message") && body["message"].is_string())
      detail += ": " + body["message"].get<std::string>();
    throw FlowStorageError(message + " (" + detail + ")");
  }

  GitLabOptions o_;
  std::map<std::string, Value> pins_;
};

const bool registered = [] {
  register_storage_type("GitLab", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    auto text = [&](const char* key) {
      return d.contains(key) && d[key].is_string() ? d[key].get<std::string>() : std::string();
    };
    GitLabOptions o;
    // A numeric project id may have been stored as a number.
    o.repo = d.at("repo").is_number() ? d["repo"].dump() : d.at("repo").get<std::string>();
    o.path = text("path");
    o.host = text("host");
    o.ref = text("ref");
    o.access_token_secret = text("access_token_secret");
    return std::make_shared<GitLabImpl>(std::move(o));
  });
  return true;
}();

}  // namespace

GitLab::GitLab(GitLabOptions options) : Storage(std::make_shared<GitLabImpl>(std::move(options))) {
  (void)registered;
}

const GitLabOptions& GitLab::options() const {
  return static_cast<const GitLabImpl&>(checked()).options();
}

std::string GitLab::host_url() const {
  return static_cast<const GitLabImpl&>(checked()).host_url();
}

}  // namespace ferry::storage
