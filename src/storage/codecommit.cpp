#include "ferry/storage/codecommit.hpp"

#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "net/aws_credentials.hpp"
#include "net/sigv4.hpp"
#include "storage/repo_file.hpp"

namespace ferry::storage {

namespace {

class CodeCommitImpl : public StorageImpl {
 public:
  explicit CodeCommitImpl(CodeCommitOptions o) : o_(std::move(o)) {
    if (o_.repo.empty()) throw ValueError("CodeCommit storage needs a `repo` (its name).");
    if (o_.path.empty()) {
      throw ValueError(
          "CodeCommit storage needs a `path`: where the flow source is in the repository.");
    }
    if (!o_.client_options.is_null() && !o_.client_options.is_object()) {
      throw ValueError("CodeCommit `client_options` must be a JSON object (or null).");
    }
    stored_as_script = true;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "CodeCommit"; }
  Value fetched_pin(const std::string& name) const override {
    auto it = pins_.find(name);
    return it == pins_.end() ? Value::object() : it->second;
  }
  const CodeCommitOptions& options() const { return o_; }

 protected:
  std::string store_flow(const Flow&) override { return o_.path; }

  Flow load_flow(const std::string& name, const std::string&) override {
    std::string failure = "Error retrieving file contents from " + o_.path + " on repo " + o_.repo +
                          ". Ensure the file exists.";
    Value file;
    try {
      file = get_file();
    } catch (const std::exception& e) {
      logger().error(failure);
      throw FlowStorageError(failure + " (" + e.what() + ")");
    }
    std::string content = repo::base64_decode(file.value("fileContent", ""));
    Flow flow = repo::load_fetched_source("codecommit", o_.path, content, name);
    pins_[name] = Value{{"commit", file.value("commitId", "")}};
    return flow;
  }

  void serialize_fields(Value& out) const override {
    out["repo"] = o_.repo;
    out["path"] = o_.path;
    out["commit"] = o_.commit.empty() ? Value(nullptr) : Value(o_.commit);
    // Never a secret in a descriptor: keys given here serve this process only (registration's
    // load check); agents find theirs through the rest of the chain.
    Value options = o_.client_options;
    if (options.is_object()) {
      for (const char* key : {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"})
        options.erase(key);
    }
    out["client_options"] = options;
  }

 private:
  // POST / with the JSON 1.1 protocol: X-Amz-Target names the operation.
  Value get_file() const {
    net::AwsCredentials credentials = net::resolve_aws_credentials(o_.client_options);
    std::string region = net::resolve_aws_region(o_.client_options);
    if (region.empty()) {
      throw ValueError(
          "No AWS region: set client_options region_name, AWS_REGION or AWS_DEFAULT_REGION.");
    }
    std::string endpoint = net::resolve_aws_endpoint(o_.client_options);
    if (endpoint.empty()) endpoint = "https://codecommit." + region + ".amazonaws.com";
    while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();

    Value body = {{"repositoryName", o_.repo}, {"filePath", o_.path}};
    if (!o_.commit.empty()) body["commitSpecifier"] = o_.commit;  // else the default branch
    net::Request req;
    req.method = "POST";
    req.url = endpoint + "/";
    req.body = body.dump();
    req.send_body = true;
    req.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                   {"X-Amz-Target", "CodeCommit_20150413.GetFile"}};
    net::sigv4::sign_request(req, credentials, {.region = region, .service = "codecommit"});
    net::Response res = repo::send(req, "CodeCommit GetFile");
    if (!res.ok()) {
      // JSON 1.1 errors: {"__type": "...#FileDoesNotExistException", "message": "..."}.
      std::string detail = repo::status_text(req, res);
      Value err = Value::parse(res.body, nullptr, false);
      if (err.is_object()) {
        std::string type = err.value("__type", "");
        if (std::size_t hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
        std::string message =
            err.contains("message") ? err.value("message", "") : err.value("Message", "");
        if (!type.empty()) detail += ": " + type;
        if (!message.empty()) detail += ": " + message;
      }
      throw FlowStorageError(detail);
    }
    return repo::json_body(res, "CodeCommit GetFile");
  }

  CodeCommitOptions o_;
  std::map<std::string, Value> pins_;
};

const bool registered = [] {
  register_storage_type("CodeCommit", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    CodeCommitOptions o;
    o.repo = d.at("repo").get<std::string>();
    o.path = d.contains("path") && d["path"].is_string() ? d["path"].get<std::string>() : "";
    o.commit =
        d.contains("commit") && d["commit"].is_string() ? d["commit"].get<std::string>() : "";
    o.client_options = d.value("client_options", Value(nullptr));
    return std::make_shared<CodeCommitImpl>(std::move(o));
  });
  return true;
}();

}  // namespace

CodeCommit::CodeCommit(CodeCommitOptions options)
    : Storage(std::make_shared<CodeCommitImpl>(std::move(options))) {
  (void)registered;
}

const CodeCommitOptions& CodeCommit::options() const {
  return static_cast<const CodeCommitImpl&>(checked()).options();
}

}  // namespace ferry::storage
