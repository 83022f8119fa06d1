#include "ferry/storage/bitbucket.hpp"

#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/repo_file.hpp"

namespace ferry::storage {

namespace {

const char kServerHost[] = "https://bitbucket.org";  // the reference's default
const char kCloudApi[] = "https://api.bitbucket.org";
const char kAccessDenied[] = "Access denied to repository. Please check credentials.";

std::string without_trailing_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// The server's own words, from Server's {"errors": [{"message"}]} or Cloud's
// {"error": {"message"}}, for the end of an error message.
std::string server_message(const net::Response& res) {
  Value body = Value::parse(res.body, nullptr, false);
  if (!body.is_object()) return {};
  if (body.contains("errors") && body["errors"].is_array() && !body["errors"].empty() &&
      body["errors"][0].is_object() && body["errors"][0].contains("message"))
    return body["errors"][0]["message"].is_string()
               ? body["errors"][0]["message"].get<std::string>()
               : std::string();
  if (body.contains("error") && body["error"].is_object() && body["error"].contains("message") &&
      body["error"]["message"].is_string())
    return body["error"]["message"].get<std::string>();
  return {};
}

class BitbucketImpl : public StorageImpl {
 public:
  explicit BitbucketImpl(BitbucketOptions o) : o_(std::move(o)) {
    if (!o_.workspace.empty() && !o_.access_token_secret.empty()) {
      throw ValueError(
          "`access_token_secret` and `workspace` are both set. Setting `workspace` is only for "
          "use with Bitbucket Cloud which uses `cloud_username_secret` and "
          "`cloud_app_password_secret` to provide authentication.");
    }
    if (o_.project.empty()) throw ValueError("Bitbucket storage needs a `project`.");
    if (o_.repo.empty()) throw ValueError("Bitbucket storage needs a `repo`.");
    if (o_.path.empty()) {
      throw ValueError(
          "Bitbucket storage needs a `path`: where the flow source is in the repository.");
    }
    stored_as_script = true;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "Bitbucket"; }
  Value fetched_pin(const std::string& name) const override {
    auto it = pins_.find(name);
    return it == pins_.end() ? Value::object() : it->second;
  }
  const BitbucketOptions& options() const { return o_; }
  bool cloud() const { return !o_.workspace.empty(); }

 protected:
  std::string store_flow(const Flow&) override { return o_.path; }

  Flow load_flow(const std::string& name, const std::string&) override {
    auto [sha, ref, content] = cloud() ? fetch_cloud() : fetch_server();
    Flow flow = repo::load_fetched_source("bitbucket", o_.path, content, name);
    pins_[name] = Value{{"commit", sha}, {"ref", ref}};
    return flow;
  }

  void serialize_fields(Value& out) const override {
    out["project"] = o_.project;
    out["repo"] = o_.repo;
    out["workspace"] = nullable(o_.workspace);
    out["host"] = nullable(o_.host);
    out["path"] = o_.path;
    out["ref"] = nullable(o_.ref);
    out["access_token_secret"] = nullable(o_.access_token_secret);
    out["cloud_username_secret"] = nullable(o_.cloud_username_secret);
    out["cloud_app_password_secret"] = nullable(o_.cloud_app_password_secret);
  }

 private:
  struct Fetched {
    std::string sha, ref, content;
  };

  // ---- Server (Data Center): REST 1.0, bearer token ----------------------------------

  Fetched fetch_server() const {
    std::optional<std::string> token =
        repo::token(o_.access_token_secret, "BITBUCKET_ACCESS_TOKEN");
    std::string base = without_trailing_slash(o_.host.empty() ? kServerHost : o_.host) +
                       "/rest/api/1.0/projects/" + net::url_encode(o_.project) + "/repos/" +
                       net::url_encode(o_.repo);
    std::string ref = o_.ref.empty() ? "the default branch" : o_.ref;
    // `until` takes a ref or a commit; without it the default branch's tip is meant.
    net::Request req = server_request(base + "/commits", token);
    req.params.emplace_back("limit", "1");
    if (!o_.ref.empty()) req.params.emplace_back("until", o_.ref);
    net::Response res = repo::send(req, "Bitbucket request for " + o_.repo + "@" + ref);
    if (!res.ok()) server_fail(req, res, ref);
    Value page = repo::json_body(res, "Bitbucket");
    if (!page.contains("values") || !page["values"].is_array() || page["values"].empty() ||
        !page["values"][0].contains("id")) {
      throw FlowStorageError("Bitbucket found no commit for " + o_.repo + "@" + ref + ".");
    }
    std::string sha = page["values"][0]["id"].get<std::string>();

    req = server_request(base + "/raw/" + repo::encode_path(o_.path), token);
    req.params.emplace_back("at", sha);
    res = repo::send(req, "Bitbucket request for " + o_.path);
    if (!res.ok()) server_fail(req, res, ref);
    return {sha, o_.ref, res.body};
  }

  static net::Request server_request(const std::string& url,
                                     const std::optional<std::string>& token) {
    net::Request r;
    r.url = url;
    r.headers = {{"Authorization", "Bearer " + token.value_or("")}};  // as the reference
    return r;
  }

  [[noreturn]] void server_fail(const net::Request& req, const net::Response& res,
                                const std::string& ref) const {
    std::string message = res.status == 401 ? std::string(kAccessDenied)
                          : res.status == 404
                              ? "Invalid address. Check that host, project, and repository are "
                                "correct."
                              : "Error retrieving contents at " + o_.path + " in " + o_.repo + "@" +
                                    ref +
                                    ". Please check arguments passed to Bitbucket storage and "
                                    "verify project exists.";
    raise(message, req, res);
  }

  // ---- Cloud: API 2.0, app password ---------------------------------------------------

  Fetched fetch_cloud() const {
    std::optional<std::string> user =
        repo::token(o_.cloud_username_secret, "BITBUCKET_CLOUD_USERNAME");
    std::optional<std::string> password =
        repo::token(o_.cloud_app_password_secret, "BITBUCKET_CLOUD_APP_PASSWORD");
    std::string auth;
    if (user || password) {
      auth = "Basic " + repo::base64_encode(user.value_or("") + ":" + password.value_or(""));
    }
    std::string api = without_trailing_slash(o_.host.empty() ? kCloudApi : o_.host);
    std::string base =
        api + "/2.0/repositories/" + net::url_encode(o_.workspace) + "/" + net::url_encode(o_.repo);
    std::string ref = o_.ref;
    if (ref.empty()) {
      net::Request req = cloud_request(base, auth);
      net::Response res = repo::send(req, "Bitbucket request for " + o_.workspace + "/" + o_.repo);
      if (!res.ok()) cloud_fail(req, res, "the default branch");
      Value r = repo::json_body(res, "Bitbucket");
      if (!r.contains("mainbranch") || !r["mainbranch"].is_object() ||
          !r["mainbranch"].contains("name")) {
        throw FlowStorageError("Bitbucket did not name the main branch of '" + o_.workspace + "/" +
                               o_.repo + "'; set `ref`.");
      }
      ref = r["mainbranch"]["name"].get<std::string>();
    }
    std::string sha = repo::is_commit_sha(ref) ? ref : std::string();
    if (sha.empty()) sha = find_ref(api, base + "/refs/branches", auth, ref);
    if (sha.empty()) sha = find_ref(api, base + "/refs/tags", auth, ref);
    if (sha.empty()) {
      throw ValueError("ref '" + ref + "' not found in '" + o_.workspace + "/" + o_.repo + "'");
    }
    net::Request req = cloud_request(base + "/src/" + sha + "/" + repo::encode_path(o_.path), auth);
    net::Response res = repo::send(req, "Bitbucket request for " + o_.path);
    if (!res.ok()) cloud_fail(req, res, ref);
    return {sha, ref, res.body};
  }

  // The hash a branch or tag names, reading every page (the reference read only the first).
  std::string find_ref(const std::string& api, const std::string& list_url, const std::string& auth,
                       const std::string& ref) const {
    net::Request req = cloud_request(list_url, auth);
    req.params = {{"pagelen", "100"}};
    for (int pages = 0; pages < 1000; ++pages) {
      net::Response res = repo::send(req, "Bitbucket request for the refs of " + o_.repo);
      if (!res.ok()) cloud_fail(req, res, ref);
      Value page = repo::json_body(res, "Bitbucket");
      if (page.contains("values") && page["values"].is_array()) {
        for (const Value& v : page["values"]) {
          if (v.is_object() && v.value("name", "") == ref && v.contains("target") &&
              v["target"].is_object() && v["target"].contains("hash"))
            return v["target"]["hash"].get<std::string>();
        }
      }
      if (!page.contains("next") || !page["next"].is_string()) break;
      std::string next = page["next"];
      // Credentials go only where the first request went.
      if (next.compare(0, api.size() + 1, api + "/") != 0) {
        throw FlowStorageError("Bitbucket's next page is on another host (" +
                               net::redact_url(next) + "); refusing to send credentials there.");
      }
      req.url = next;
      req.params.clear();  // `next` carries the query
    }
    return {};
  }

  static net::Request cloud_request(const std::string& url, const std::string& auth) {
    net::Request r;
    r.url = url;
    if (!auth.empty()) r.headers.emplace_back("Authorization", auth);
    // The reference retried 429 up to 10 times; net::send honours Retry-After.
    r.max_retries = 10;
    r.backoff = std::chrono::milliseconds(500);
    return r;
  }

  [[noreturn]] void cloud_fail(const net::Request& req, const net::Response& res,
                               const std::string& ref) const {
    std::string message = res.status == 401 || res.status == 403
                              ? std::string(kAccessDenied)
                              : "Error retrieving contents at " + o_.path + " in " + o_.workspace +
                                    "/" + o_.project + "/" + o_.repo + "@" + ref +
                                    ". Please check arguments passed to Bitbucket storage.";
    raise(message, req, res);
  }

  [[noreturn]] static void raise(const std::string& message, const net::Request& req,
                                 const net::Response& res) {
    logger().error(message);
    std::string detail = repo::status_text(req, res);
    if (std::string said = server_message(res); !said.empty()) detail += ": " + said;
    throw FlowStorageError(message + " (" + detail + ")");
  }

  BitbucketOptions o_;
  std::map<std::string, Value> pins_;
};

const bool registered = [] {
  register_storage_type("Bitbucket", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    auto text = [&](const char* key) {
      return d.contains(key) && d[key].is_string() ? d[key].get<std::string>() : std::string();
    };
    BitbucketOptions o;
    o.project = d.at("project").get<std::string>();
    o.repo = d.at("repo").get<std::string>();
    o.workspace = text("workspace");
    o.host = text("host");
    o.path = text("path");
    o.ref = text("ref");
    o.access_token_secret = text("access_token_secret");
    o.cloud_username_secret = text("cloud_username_secret");
    o.cloud_app_password_secret = text("cloud_app_password_secret");
    return std::make_shared<BitbucketImpl>(std::move(o));
  });
  return true;
}();

}  // namespace

Bitbucket::Bitbucket(BitbucketOptions options)
    : Storage(std::make_shared<BitbucketImpl>(std::move(options))) {
  (void)registered;
}

const BitbucketOptions& Bitbucket::options() const {
  return static_cast<const BitbucketImpl&>(checked()).options();
}

bool Bitbucket::cloud() const { return static_cast<const BitbucketImpl&>(checked()).cloud(); }

}  // namespace ferry::storage
