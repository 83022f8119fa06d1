#include "net/gcs_client.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "core/masking.hpp"
#include "core/text.hpp"

namespace ferry::net {

namespace {

constexpr const char* kGoogleStorageEndpoint = "https://storage.googleapis.com";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string text_field(const Value& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return {};
  const Value& v = object[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return {};
}

// GCS's JSON error body {"error": {"code": 404, "message": "No such object: b/k", ...}}:
// the message, masked and kept short (it is quoted in our messages).
std::string service_message(const std::string& body) {
  Value v = Value::parse(body, nullptr, false);
  std::string text;
  if (v.is_object() && v.contains("error")) {
    text = v["error"].is_object() ? text_field(v["error"], "message") : text_field(v, "error");
  }
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  return detail::mask_secrets(text);
}

std::string status_text(const Response& r) {
  std::string reason(reason_phrase(r.status));
  std::string message = service_message(r.body);
  return "HTTP " + std::to_string(r.status) + (reason.empty() ? "" : " " + reason) +
         (message.empty() ? "" : ": " + message);
}

ObjectInfo info_from_resource(const std::string& body) {
  Value v = Value::parse(body, nullptr, false);
  return {text_field(v, "etag"), gcs_time_to_iso(text_field(v, "updated")),
          text_field(v, "generation")};
}

std::string format_utc(std::tm tm) {
  std::time_t t = timegm(&tm);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

}  // namespace

std::string gcs_endpoint() {
  std::string host = env("STORAGE_EMULATOR_HOST");
  if (host.empty()) return kGoogleStorageEndpoint;
  if (!contains(host, "://")) host = "http://" + host;
  while (!host.empty() && host.back() == '/') host.pop_back();
  return host;
}

std::string gcs_time_to_iso(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  int year, month, day, hour, minute, second;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &year, &month, &day, &hour, &minute,
                  &second) == 6) {
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    // After the seconds: optional fraction, then Z or an offset (+hh:mm) to subtract.
    std::size_t zone = s.find_first_of("Z+-", 19);
    if (zone != std::string::npos && s[zone] != 'Z') {
      int oh = 0, om = 0;
      if (std::sscanf(s.c_str() + zone + 1, "%2d:%2d", &oh, &om) == 2) {
        int sign = s[zone] == '+' ? 1 : -1;
        tm.tm_min -= sign * (oh * 60 + om);
      }
    }
    return format_utc(tm);
  }
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) != nullptr) return format_utc(tm);
  return {};
}

GcsClient::GcsClient(std::string bucket, std::string project)
    : bucket_(std::move(bucket)), project_(std::move(project)), endpoint_(gcs_endpoint()) {
  if (bucket_.empty()) throw ValueError("A GCS bucket name is required.");
  // An emulator may take anonymous requests; Google itself never does.
  if (env("STORAGE_EMULATOR_HOST").empty()) {
    credentials_ = resolve_gcp_credentials();
  } else {
    credentials_ = find_gcp_credentials();
  }
}

std::string GcsClient::uri(std::string_view key) const {
  return "gs://" + bucket_ + "/" + std::string(key);
}

std::string GcsClient::credential_source() const {
  return credentials_
             ? credentials_->source()
             : "no credentials (anonymous requests to STORAGE_EMULATOR_HOST " + endpoint_ + ")";
}

std::string GcsClient::object_url(std::string_view key) const {
  return endpoint_ + "/storage/v1/b/" + url_encode(bucket_) + "/o/" + url_encode(key);
}

GcsClient::Target GcsClient::object_target(std::string_view key) const {
  return {uri(key), std::string(key)};
}

Response GcsClient::send_authorized(Request request, const Target& target) {
  for (int attempt = 0;; ++attempt) {
    Request r = request;
    if (credentials_) {
      std::string token;
      try {
        token = credentials_->access_token();
      } catch (const GcpAuthError& e) {
        throw ObjectError(
            e.transient() ? ObjectError::Kind::Transient : ObjectError::Kind::Auth,
            "Could not authenticate to Google Cloud Storage for " + target.uri + ": " + e.what(),
            e.status());
      }
      r.headers.emplace_back("Authorization", "Bearer " + token);
    }
    Response response;
    try {
      response = send(r);
    } catch (const HttpError& e) {
      throw ObjectError(ObjectError::Kind::Transient,
                        "No answer from Google Cloud Storage at " + endpoint_ + " for " +
                            target.uri + ": " + e.what() +
                            ". Check the network (or STORAGE_EMULATOR_HOST) and try again.",
                        0);
    }
    // A 401 to a cached token means it was revoked or expired early: fetch a new one, once.
    if (response.status == 401 && credentials_ && attempt == 0) {
      credentials_->forget_token();
      continue;
    }
    return response;
  }
}

bool GcsClient::bucket_exists() {
  Request r;
  r.url = endpoint_ + "/storage/v1/b/" + url_encode(bucket_);
  Response response = send_authorized(r, {"gs://" + bucket_, ""});
  return response.status != 404;
}

void GcsClient::fail(const Request& request, const Response& response, const Target& target,
                     std::string_view action) {
  using Kind = ObjectError::Kind;
  const long status = response.status;
  const std::string what = status_text(response);
  const std::string bucket_uri = "gs://" + bucket_;
  if (status == 404) {
    std::string message = service_message(response.body);
    bool no_bucket =
        contains(message, "bucket does not exist") ||
        (!contains(message, "No such object") && (target.key.empty() || !bucket_exists()));
    if (no_bucket) {
      throw ObjectError(Kind::NoSuchBucket,
                        "The bucket " + bucket_uri + " does not exist (" + std::string(action) +
                            " " + target.uri + " failed: " + what +
                            "). Create it, or check the bucket name and project.",
                        status);
    }
    throw ObjectError(Kind::NotFound, "No such object: " + target.uri + " (HTTP 404 Not Found).",
                      status);
  }
  if (status == 401 || status == 403) {
    throw ObjectError(Kind::Auth,
                      std::string(action) + " " + target.uri + " was refused (" + what +
                          ") for the credentials from " + credential_source() +
                          ". Check that they are valid and grant access to the bucket " +
                          bucket_uri + " (roles/storage.objectAdmin).",
                      status);
  }
  if (status == 412 || status == 409) {
    throw ObjectError(Kind::AlreadyExists,
                      target.uri + " already exists and overwriting was not allowed (" + what +
                          "); the stored object was left as it was.",
                      status);
  }
  if (status == 429 || status >= 500) {
    throw ObjectError(Kind::Transient,
                      std::string(action) + " " + target.uri + " failed: " + what + " after " +
                          std::to_string(response.attempts) +
                          (response.attempts == 1 ? " attempt" : " attempts") +
                          ". Google Cloud Storage is unavailable or throttling; try again later.",
                      status);
  }
  throw ObjectError(Kind::Other,
                    std::string(action) + " " + target.uri + " failed: " + what + " (" +
                        request.method + " " + redact_url(request.url) + ").",
                    status);
}

ObjectInfo GcsClient::put(std::string_view key, std::string_view bytes, const PutOptions& options) {
  Request r;
  r.method = "POST";
  r.url = endpoint_ + "/upload/storage/v1/b/" + url_encode(bucket_) + "/o";
  r.params = {{"uploadType", "media"}, {"name", std::string(key)}};
  // Generation 0 matches only a missing object: the service refuses (412) atomically.
  if (!options.overwrite) r.params.emplace_back("ifGenerationMatch", "0");
  r.headers = options.headers;
  r.headers.emplace_back("Content-Type", options.content_type);
  r.body = std::string(bytes);
  r.send_body = true;
  Target target = object_target(key);
  Response response = send_authorized(r, target);
  if (!response.ok()) fail(r, response, target, "Uploading");
  return info_from_resource(response.body);
}

ObjectData GcsClient::get(std::string_view key) {
  Request r;
  r.url = object_url(key);
  r.params = {{"alt", "media"}};
  r.hash_body = true;
  Target target = object_target(key);
  Response response = send_authorized(r, target);
  if (!response.ok()) fail(r, response, target, "Downloading");
  ObjectData data;
  data.info = {response.header("ETag"), gcs_time_to_iso(response.header("Last-Modified")),
               response.header("x-goog-generation")};
  data.bytes = std::move(response.body);
  data.sha256 = std::move(response.body_sha256);
  return data;
}

ObjectInfo GcsClient::stat(std::string_view key) {
  Request r;
  r.url = object_url(key);
  Target target = object_target(key);
  Response response = send_authorized(r, target);
  if (!response.ok()) fail(r, response, target, "Reading the metadata of");
  return info_from_resource(response.body);
}

bool GcsClient::exists(std::string_view key) {
  try {
    stat(key);
    return true;
  } catch (const ObjectError& e) {
    if (e.kind() == ObjectError::Kind::NotFound) return false;
    throw;
  }
}

void GcsClient::remove(std::string_view key) {
  Request r;
  r.method = "DELETE";
  r.url = object_url(key);
  Target target = object_target(key);
  Response response = send_authorized(r, target);
  if (!response.ok()) fail(r, response, target, "Deleting");
}

void GcsClient::create_bucket() {
  std::string project = project_;
  if (project.empty() && credentials_) project = credentials_->project_id();
  if (project.empty()) project = env("GOOGLE_CLOUD_PROJECT");
  if (project.empty()) {
    throw ValueError("Creating the bucket gs://" + bucket_ +
                     " needs a project: give one, or use credentials with a project_id, or set "
                     "GOOGLE_CLOUD_PROJECT.");
  }
  Request r;
  r.method = "POST";
  r.url = endpoint_ + "/storage/v1/b";
  r.params = {{"project", project}};
  r.headers = {{"Content-Type", "application/json"}};
  r.body = Value{{"name", bucket_}}.dump();
  Target target{"gs://" + bucket_, ""};
  Response response = send_authorized(r, target);
  if (response.ok()) return;
  // 409 also answers a bucket this project already owns: that one is ours to use.
  if (response.status == 409 && contains(service_message(response.body), "already own")) return;
  if (response.status == 409) {
    throw ObjectError(ObjectError::Kind::AlreadyExists,
                      "The bucket name gs://" + bucket_ + " is taken (" + status_text(response) +
                          "). Bucket names are global: choose another one.",
                      409);
  }
  fail(r, response, target, "Creating the bucket");
}

}  // namespace ferry::net
