#include "ferry/storage/webhook.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>

#include "agent/secrets.hpp"
#include "core/digest.hpp"
#include "core/files.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "net/http_client.hpp"
#include "storage/fetched_flow.hpp"
#include "storage/template.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;

namespace {

const std::set<std::string> kMethods = {"GET", "PATCH", "POST", "PUT"};
const std::set<std::string> kKeys = {"url",  "headers", "params", "data",
                                     "json", "timeout", "verify", "allow_redirects"};

void check_method(const std::string& method) {
  if (!kMethods.count(method)) throw ValueError("HTTP method '" + method + "' not recognized");
}

std::string scalar_text(const Value& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

bool is_scalar(const Value& v) { return v.is_string() || v.is_number() || v.is_boolean(); }

// Structure checks on the unrendered options (rendering keeps the structure).
void check_kwargs(const Value& kw, const std::string& what) {
  std::string where = "Webhook " + what;
  if (!kw.is_object()) throw ValueError(where + " must be a JSON object with at least a \"url\".");
  for (const auto& [key, v] : kw.items()) {
    if (!kKeys.count(key)) {
      throw ValueError(where + " has an unknown option '" + key +
                       "'; known: url, headers, params, data, json, timeout, verify, "
                       "allow_redirects.");
    }
  }
  if (!kw.contains("url") || !kw["url"].is_string() || kw["url"].get<std::string>().empty())
    throw ValueError(where + " needs a \"url\" (a string).");
  if (kw.contains("headers") && !kw["headers"].is_null()) {
    if (!kw["headers"].is_object()) throw ValueError(where + ": \"headers\" must be an object.");
    for (const auto& [name, v] : kw["headers"].items()) {
      if (!is_scalar(v) && !v.is_null())
        throw ValueError(where + ": header '" + name + "' must be a string.");
    }
  }
  if (kw.contains("params") && !kw["params"].is_null()) {
    if (!kw["params"].is_object()) throw ValueError(where + ": \"params\" must be an object.");
    for (const auto& [name, v] : kw["params"].items()) {
      bool ok = is_scalar(v) || v.is_null();
      if (v.is_array()) {
        ok = true;
        for (const Value& item : v) ok = ok && is_scalar(item);
      }
      if (!ok) {
        throw ValueError(where + ": query parameter '" + name +
                         "' must be a string, number, bool or an array of them.");
      }
    }
  }
  if (kw.contains("data") &&
      !(kw["data"].is_string() || kw["data"].is_object() || kw["data"].is_null()))
    throw ValueError(where + ": \"data\" must be a string or an object.");
  if (kw.contains("timeout") && !(kw["timeout"].is_number() || kw["timeout"].is_null()))
    throw ValueError(where + ": \"timeout\" must be a number of seconds (or null).");
  for (const char* flag : {"verify", "allow_redirects"}) {
    if (kw.contains(flag) && !kw[flag].is_boolean())
      throw ValueError(where + ": \"" + std::string(flag) + "\" must be true or false.");
  }
}

TemplateLookup secret_lookup() {
  return [](const std::string& name) { return agent::find_secret(name); };
}

// A request from rendered options; display_url comes from the unrendered url.
net::Request make_request(const std::string& method, const Value& kw, const Value& raw) {
  net::Request r;
  r.method = method;
  r.url = kw.at("url").get<std::string>();
  r.display_url = net::redact_url(raw.at("url").get<std::string>());
  bool has_content_type = false;
  if (kw.contains("headers") && kw["headers"].is_object()) {
    for (const auto& [name, v] : kw["headers"].items()) {
      if (v.is_null()) continue;
      r.headers.emplace_back(name, scalar_text(v));
      std::string lower;
      for (char c : name) lower.push_back(static_cast<char>(std::tolower(c)));
      has_content_type = has_content_type || lower == "content-type";
    }
  }
  if (kw.contains("params") && kw["params"].is_object()) {
    for (const auto& [name, v] : kw["params"].items()) {
      if (v.is_array()) {
        for (const Value& item : v) r.params.emplace_back(name, scalar_text(item));
      } else if (!v.is_null()) {
        r.params.emplace_back(name, scalar_text(v));
      }
    }
  }
  if (kw.contains("data") && kw["data"].is_string()) {
    r.body = kw["data"].get<std::string>();
    r.send_body = true;
  } else if (kw.contains("data") && kw["data"].is_object()) {
    net::Fields form;
    for (const auto& [name, v] : kw["data"].items()) form.emplace_back(name, scalar_text(v));
    r.body = net::form_encode(form);
    r.send_body = true;
    if (!has_content_type)
      r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  } else if (kw.contains("json") && !kw["json"].is_null()) {
    r.body = kw["json"].dump();
    r.send_body = true;
    if (!has_content_type) r.headers.emplace_back("Content-Type", "application/json");
  }
  if (kw.contains("timeout"))
    r.timeout_seconds = kw["timeout"].is_null() ? 0 : kw["timeout"].get<double>();
  if (kw.contains("verify")) r.verify_tls = kw["verify"].get<bool>();
  if (kw.contains("allow_redirects")) r.follow_redirects = kw["allow_redirects"].get<bool>();
  return r;
}

// Sends a request; failures become storage::HttpError with `what` in front.
net::Response send_checked(const net::Request& request, const std::string& what,
                           WebhookResponse* keep = nullptr) {
  net::Response response;
  try {
    response = net::send(request);
  } catch (const net::HttpError& e) {
    throw HttpError(what + " failed: " + e.what(), 0);
  }
  if (keep) *keep = {response.status, response.headers, response.body};
  try {
    net::raise_for_status(request, response);
  } catch (const net::HttpError& e) {
    throw HttpError(what + " failed: " + e.what(), e.status());
  }
  return response;
}

class WebhookImpl : public StorageImpl {
 public:
  explicit WebhookImpl(WebhookOptions o)
      : build_kwargs_(std::move(o.build_request_kwargs)),
        build_method_(std::move(o.build_request_http_method)),
        get_kwargs_(std::move(o.get_flow_request_kwargs)),
        get_method_(std::move(o.get_flow_request_http_method)),
        script_path_(std::move(o.flow_script_path)) {
    check_method(build_method_);
    check_method(get_method_);
    check_kwargs(build_kwargs_, "build_request_kwargs");
    check_kwargs(get_kwargs_, "get_flow_request_kwargs");
    stored_as_script = o.stored_as_script;
    add_default_labels = o.add_default_labels.value_or(true);
    user_labels = std::move(o.labels);
    secrets = std::move(o.secrets);
  }

  std::string type() const override { return "Webhook"; }
  bool replaces_on_add() const override { return true; }
  void note_source_file(const std::string& path) override {
    if (stored_as_script && script_path_.empty()) script_path_ = path;
  }

  void build() override {
    responses_.clear();
    for (const auto& [name, flow] : added_) {
      std::string payload;
      if (stored_as_script) {
        if (script_path_.empty()) {
          throw ValueError("flow_script_path must be provided if stored_as_script=True");
        }
        std::error_code ec;
        if (!fs::is_regular_file(script_path_, ec)) {
          throw ValueError("file '" + script_path_ + "' passed to flow_script_path does not exist");
        }
        payload = detail::read_file(script_path_);
      } else {
        payload = freeze_flow(*flow);
        digests[name] = detail::sha256_hex(payload);
      }
      Value kw = render_templates(build_kwargs_, secret_lookup(), "build_request_kwargs");
      if (kw.contains("data")) {
        std::fprintf(stderr,
                     "Warning: 'data' found in build_request_kwargs. This value is overwritten "
                     "with the flow content and should not be set directly\n");
        kw.erase("data");
      }
      kw.erase("json");
      net::Request request = make_request(build_method_, kw, build_kwargs_);
      request.body = std::move(payload);
      request.send_body = true;
      WebhookResponse& kept = responses_[name];
      send_checked(request, "Webhook build request for flow '" + name + "'", &kept);
    }
  }

  const Value& build_kwargs() const { return build_kwargs_; }
  const std::string& build_method() const { return build_method_; }
  const Value& get_kwargs() const { return get_kwargs_; }
  const std::string& get_method() const { return get_method_; }
  const std::string& script_path() const { return script_path_; }
  const std::map<std::string, WebhookResponse>& responses() const { return responses_; }
  void set_get_kwargs(Value kw) {
    check_kwargs(kw, "get_flow_request_kwargs");
    get_kwargs_ = std::move(kw);
  }

 protected:
  std::string store_flow(const Flow& flow) override { return flow.name(); }

  Flow load_flow(const std::string& name, const std::string&) override {
    Value kw = render_templates(get_kwargs_, secret_lookup(), "get_flow_request_kwargs");
    net::Request request = make_request(get_method_, kw, get_kwargs_);
    request.hash_body = true;  // the digest check and the source cache key, without a 2nd pass
    std::string what = "Webhook get_flow request for flow '" + name + "'";
    net::Response response = send_checked(request, what);
    std::string origin = "the response to " + get_method_ + " " + request.display_url;
    if (stored_as_script) {
      return load_fetched_source(response.body, name, "webhook", response.body_sha256);
    }
    return thaw_fetched_package(response.body, name, digests, origin, response.body_sha256);
  }

  void serialize_fields(Value& out) const override {
    out["build_request_kwargs"] = build_kwargs_;
    out["build_request_http_method"] = build_method_;
    out["get_flow_request_kwargs"] = get_kwargs_;
    out["get_flow_request_http_method"] = get_method_;
    out["stored_as_script"] = stored_as_script;
  }

 private:
  Value build_kwargs_;
  std::string build_method_;
  Value get_kwargs_;
  std::string get_method_;
  std::string script_path_;
  std::map<std::string, WebhookResponse> responses_;
};

const bool registered = [] {
  register_storage_type("Webhook", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    WebhookOptions o;
    o.build_request_kwargs = d.at("build_request_kwargs");
    o.build_request_http_method = d.at("build_request_http_method").get<std::string>();
    o.get_flow_request_kwargs = d.at("get_flow_request_kwargs");
    o.get_flow_request_http_method = d.at("get_flow_request_http_method").get<std::string>();
    o.stored_as_script = d.value("stored_as_script", false);
    return std::make_shared<WebhookImpl>(std::move(o));
  });
  return true;
}();

}  // namespace

Webhook::Webhook(WebhookOptions options)
    : Storage(std::make_shared<WebhookImpl>(std::move(options))) {
  (void)registered;
}

std::optional<WebhookResponse> Webhook::build_response(const std::string& flow_name) const {
  const auto& all = build_responses();
  auto it = all.find(flow_name);
  if (it == all.end()) return std::nullopt;
  return it->second;
}

const std::map<std::string, WebhookResponse>& Webhook::build_responses() const {
  return static_cast<const WebhookImpl&>(checked()).responses();
}

const Value& Webhook::build_request_kwargs() const {
  return static_cast<const WebhookImpl&>(checked()).build_kwargs();
}
const std::string& Webhook::build_request_http_method() const {
  return static_cast<const WebhookImpl&>(checked()).build_method();
}
const Value& Webhook::get_flow_request_kwargs() const {
  return static_cast<const WebhookImpl&>(checked()).get_kwargs();
}
const std::string& Webhook::get_flow_request_http_method() const {
  return static_cast<const WebhookImpl&>(checked()).get_method();
}
void Webhook::set_get_flow_request_kwargs(Value kwargs) {
  static_cast<WebhookImpl&>(checked()).set_get_kwargs(std::move(kwargs));
}
const std::string& Webhook::flow_script_path() const {
  return static_cast<const WebhookImpl&>(checked()).script_path();
}

}  // namespace ferry::storage
