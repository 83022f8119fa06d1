#include "net/s3_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/text.hpp"
#include "net/sigv4.hpp"

namespace ferry::net {

namespace {

using detail::iequals;

// boto3's ExtraArgs names (the ones that map to one header) and their headers.
constexpr std::array<std::pair<const char*, const char*>, 14> kUploadHeaders{{
    {"ACL", "x-amz-acl"},
    {"CacheControl", "Cache-Control"},
    {"ContentDisposition", "Content-Disposition"},
    {"ContentEncoding", "Content-Encoding"},
    {"ContentLanguage", "Content-Language"},
    {"ContentType", "Content-Type"},
    {"Expires", "Expires"},
    {"ServerSideEncryption", "x-amz-server-side-encryption"},
    {"SSEKMSKeyId", "x-amz-server-side-encryption-aws-kms-key-id"},
    {"StorageClass", "x-amz-storage-class"},
    {"Tagging", "x-amz-tagging"},
    {"WebsiteRedirectLocation", "x-amz-website-redirect-location"},
    {"GrantRead", "x-amz-grant-read"},
    {"GrantFullControl", "x-amz-grant-full-control"},
}};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

void set_header(Fields& headers, const std::string& name, const std::string& value) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
  headers.emplace_back(name, value);
}

// The text of the first <tag>...</tag> in an S3 XML error body ("" if none).
std::string xml_element(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  std::size_t start = xml.find(open);
  if (start == xml.npos) return {};
  start += open.size();
  std::size_t end = xml.find(close, start);
  return end == xml.npos ? std::string() : detail::trim(xml.substr(start, end - start));
}

// "host[:port]" of an endpoint, and the host alone.
std::string authority_of(std::string_view url) {
  std::size_t start = url.find("://");
  start = start == url.npos ? 0 : start + 3;
  std::size_t end = url.find_first_of("/?#", start);
  std::string_view a = url.substr(start, end == url.npos ? url.npos : end - start);
  if (std::size_t at = a.rfind('@'); at != a.npos) a.remove_prefix(at + 1);
  return std::string(a);
}

std::string host_of(const std::string& authority) {
  if (!authority.empty() && authority.front() == '[')
    return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

bool is_ip_or_localhost(const std::string& host) {
  if (host.empty() || host.front() == '[' || iequals(host, "localhost")) return true;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

// Whether the bucket can be the first label of a host name that TLS wildcards match (as
// boto3 decides virtual-hosted addressing): lower-case letters, digits and '-', no dot.
bool is_dns_label(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  auto alnum = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) return false;
  return std::all_of(bucket.begin(), bucket.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// Each '/'-separated segment percent-encoded once: what S3 (and its signer) expect.
std::string encode_key(std::string_view key) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = key.find('/', start);
    out += url_encode(key.substr(start, slash == key.npos ? key.npos : slash - start));
    if (slash == key.npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

const Value* option(const Value& options, const char* name) {
  if (!options.is_object()) return nullptr;
  auto it = options.find(name);
  return it == options.end() || it->is_null() ? nullptr : &*it;
}

std::string string_option(const Value& options, const char* name) {
  const Value* v = option(options, name);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

bool bool_option(const Value& options, const char* name, bool fallback) {
  const Value* v = option(options, name);
  return v && v->is_boolean() ? v->get<bool>() : fallback;
}

std::string known_upload_names() {
  std::string out;
  for (const auto& [name, header] : kUploadHeaders) out += std::string(name) + ", ";
  return out + "Metadata";
}

bool is_auth_code(const std::string& code) {
  for (const char* c :
       {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "RequestTimeTooSkewed",
        "InvalidToken", "ExpiredToken", "InvalidSecurity", "AllAccessDisabled"})
    if (code == c) return true;
  return false;
}

// What to do about an Auth error, by its code.
std::string auth_hint(const std::string& code) {
  if (code == "SignatureDoesNotMatch")
    return "The secret access key does not match the access key id: check the secret.";
  if (code == "InvalidAccessKeyId")
    return "This endpoint does not know the access key id: check the key id and the "
           "endpoint_url.";
  if (code == "RequestTimeTooSkewed")
    return "This machine's clock is too far from the server's: synchronize it.";
  if (code == "ExpiredToken" || code == "InvalidToken")
    return "The session token is expired or invalid: refresh the temporary credentials.";
  return "The credentials lack permission for this request: check the IAM or bucket policy.";
}

}  // namespace

Fields s3_upload_headers(const Value& upload_options) {
  Fields headers;
  if (upload_options.is_null()) return headers;
  if (!upload_options.is_object())
    throw ValueError("S3 upload_options must be a JSON object (boto3 ExtraArgs) or null.");
  for (const auto& [name, value] : upload_options.items()) {
    if (name == "Metadata") {
      if (!value.is_object())
        throw ValueError("S3 upload_options Metadata must be an object of strings.");
      for (const auto& [meta, text] : value.items()) {
        if (!text.is_string())
          throw ValueError("S3 upload_options Metadata '" + meta + "' must be a string.");
        headers.emplace_back("x-amz-meta-" + meta, text.get<std::string>());
      }
      continue;
    }
    const std::string& option = name;  // clang 14 cannot capture a structured binding
    auto it = std::find_if(kUploadHeaders.begin(), kUploadHeaders.end(),
                           [&](const auto& p) { return option == p.first; });
    if (it == kUploadHeaders.end())
      throw ValueError("Unknown S3 upload_options name '" + name +
                       "'. Known names: " + known_upload_names() + ".");
    if (!value.is_string()) throw ValueError("S3 upload_options " + name + " must be a string.");
    headers.emplace_back(it->second, value.get<std::string>());
  }
  return headers;
}

std::string http_date_to_iso8601(std::string_view http_date) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string text(http_date);
  char weekday[4] = {}, month[4] = {}, zone[4] = {};
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  // RFC 7231's IMF-fixdate, the only form S3 sends.
  if (std::sscanf(text.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", weekday, &day, month, &year, &hour,
                  &minute, &second, zone) != 8 ||
      std::strcmp(zone, "GMT") != 0)
    return {};
  auto m = std::find_if(std::begin(kMonths), std::end(kMonths),
                        [&](const char* name) { return std::strcmp(name, month) == 0; });
  if (m == std::end(kMonths)) return {};
  char out[32];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02dZ", year,
                int(m - std::begin(kMonths)) + 1, day, hour, minute, second);
  return out;
}

S3Client::S3Client(std::string bucket, Value client_options, Value upload_options)
    : bucket_(std::move(bucket)), upload_headers_(s3_upload_headers(upload_options)) {
  if (bucket_.empty()) throw ValueError("S3 needs a bucket name.");
  if (!client_options.is_null() && !client_options.is_object())
    throw ValueError("S3 client_options must be a JSON object (boto3 client kwargs) or null.");
  credentials_ = resolve_aws_credentials(client_options);
  region_ = resolve_aws_region(client_options);
  if (region_.empty()) region_ = "us-east-1";

  endpoint_ = string_option(client_options, "endpoint_url");
  for (const char* name : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}) {
    if (endpoint_.empty()) endpoint_ = env(name);
  }
  if (endpoint_.empty()) {
    std::string scheme = bool_option(client_options, "use_ssl", true) ? "https" : "http";
    endpoint_ = scheme + "://s3." + region_ + ".amazonaws.com";
  }
  if (endpoint_.find("://") == std::string::npos)
    throw ValueError("S3 endpoint_url '" + redact_url(endpoint_) +
                     "' needs a scheme (http:// or https://).");
  while (endpoint_.ends_with('/')) endpoint_.pop_back();
  verify_tls_ = bool_option(client_options, "verify", true);

  std::string style = string_option(client_options, "addressing_style");
  if (style.empty() || style == "auto") {
    path_style_ = is_ip_or_localhost(host_of(authority_of(endpoint_))) || !is_dns_label(bucket_);
  } else if (style == "path" || style == "virtual") {
    path_style_ = style == "path";
  } else {
    throw ValueError(
        "S3 client_options addressing_style must be \"auto\", \"path\" or "
        "\"virtual\", not \"" +
        style + "\".");
  }
}

std::string S3Client::uri(std::string_view key) const {
  return "s3://" + bucket_ + "/" + std::string(key);
}

std::string S3Client::object_url(std::string_view key) const {
  std::string path = "/" + encode_key(key);
  if (path_style_) return endpoint_ + "/" + url_encode(bucket_) + path;
  // Virtual-hosted: the bucket becomes the first label of the endpoint's host.
  std::size_t host_start = endpoint_.find("://") + 3;
  return endpoint_.substr(0, host_start) + bucket_ + "." + endpoint_.substr(host_start) + path;
}

Response S3Client::send_signed(Request request, std::string_view key,
                               std::string_view action) const {
  request.verify_tls = verify_tls_;
  // A redirect would carry the signed headers to another host; S3's redirects are region
  // hints, reported as errors instead.
  request.follow_redirects = false;
  sigv4::sign_request(request, credentials_, {.region = region_, .service = "s3", .s3 = true});
  try {
    return send(request);
  } catch (const HttpError& e) {
    throw ObjectError(ObjectError::Kind::Transient,
                      "Could not reach the S3 endpoint " + redact_url(endpoint_) + " to " +
                          std::string(action) + " " + (key.empty() ? "s3://" + bucket_ : uri(key)) +
                          ": " + e.what() +
                          ". Check endpoint_url (or AWS_ENDPOINT_URL_S3) and the network.");
  }
}

void S3Client::fail(const Response& r, std::string_view key, std::string_view action) const {
  std::string code = xml_element(r.body, "Code");
  std::string said = xml_element(r.body, "Message");
  std::string target = key.empty() ? "s3://" + bucket_ : uri(key);
  std::string status = "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code);
  std::string detail = "(" + status + (said.empty() ? "" : ": " + said) + ")";
  using Kind = ObjectError::Kind;
  if (code == "NoSuchBucket")
    throw ObjectError(Kind::NoSuchBucket,
                      "The S3 bucket '" + bucket_ + "' does not exist at " + redact_url(endpoint_) +
                          " " + detail + ", so " + target + " cannot be read or written. " +
                          "Create the bucket, or check the bucket name, region and endpoint_url.",
                      r.status);
  if (code == "NoSuchKey" || (r.status == 404 && code.empty() && !key.empty()))
    throw ObjectError(Kind::NotFound,
                      "No object at " + target + " " + detail + ". Check the key and the bucket.",
                      r.status);
  if (r.status == 401 || r.status == 403 || is_auth_code(code))
    throw ObjectError(Kind::Auth,
                      "S3 refused to " + std::string(action) + " " + target + " " + detail +
                          " with the AWS credentials from " + credentials_.source + ". " +
                          auth_hint(code) +
                          " Credentials are looked up in the secret AWS_CREDENTIALS, "
                          "client_options (aws_access_key_id, aws_secret_access_key), "
                          "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, then the AWS profile.",
                      r.status);
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" ||
      code == "IllegalLocationConstraintException" || r.status == 301 || r.status == 307) {
    std::string bucket_region = r.header("x-amz-bucket-region");
    throw ObjectError(Kind::Other,
                      "S3 could not " + std::string(action) + " " + target + " " + detail +
                          ": the bucket is in another region than '" + region_ + "'" +
                          (bucket_region.empty() ? "" : " (it is in '" + bucket_region + "')") +
                          ". Set region_name in client_options (or AWS_REGION).",
                      r.status);
  }
  if (r.status >= 500 || r.status == 429)
    throw ObjectError(Kind::Transient,
                      "S3 could not " + std::string(action) + " " + target + " " + detail +
                          " after " + std::to_string(r.attempts) +
                          (r.attempts == 1 ? " attempt" : " attempts") + ". Try again later.",
                      r.status);
  throw ObjectError(Kind::Other,
                    "S3 could not " + std::string(action) + " " + target + " " + detail + ".",
                    r.status);
}

ObjectInfo S3Client::put(std::string_view key, std::string_view bytes, const PutOptions& options) {
  if (key.empty()) throw ValueError("An S3 object key cannot be empty (bucket " + bucket_ + ").");
  Request req;
  req.method = "PUT";
  req.url = object_url(key);
  req.body = std::string(bytes);
  req.send_body = true;
  set_header(req.headers, "Content-Type", options.content_type);
  for (const auto& [name, value] : upload_headers_) set_header(req.headers, name, value);
  for (const auto& [name, value] : options.headers) set_header(req.headers, name, value);
  // Ceph RGW and S3 (since 2024) both honour If-None-Match on PUT: the service refuses the
  // write atomically, so no check-then-write race.
  if (!options.overwrite) set_header(req.headers, "If-None-Match", "*");
  Response r = send_signed(std::move(req), key, "upload");
  if (!options.overwrite &&
      (r.status == 412 ||
       (r.status == 409 && xml_element(r.body, "Code") == "ConditionalRequestConflict")))
    throw ObjectError(ObjectError::Kind::AlreadyExists,
                      uri(key) +
                          " already exists and overwrite is off: the upload was refused "
                          "and the stored object left as it was.",
                      r.status);
  if (!r.ok()) fail(r, key, "upload");
  return {r.header("ETag"), http_date_to_iso8601(r.header("Last-Modified")),
          r.header("x-amz-version-id")};
}

ObjectData S3Client::get(std::string_view key) {
  if (key.empty()) throw ValueError("An S3 object key cannot be empty (bucket " + bucket_ + ").");
  Request req;
  req.url = object_url(key);
  req.hash_body = true;
  Response r = send_signed(std::move(req), key, "download");
  if (!r.ok()) fail(r, key, "download");
  ObjectData data;
  data.info = {r.header("ETag"), http_date_to_iso8601(r.header("Last-Modified")),
               r.header("x-amz-version-id")};
  data.bytes = std::move(r.body);
  data.sha256 = std::move(r.body_sha256);
  return data;
}

bool S3Client::exists(std::string_view key) {
  if (key.empty()) return false;
  // A one-byte ranged GET rather than HEAD: as cheap, and its 404 carries the XML error that
  // tells a missing key from a missing bucket (a HEAD answer has no body to say which).
  Request req;
  req.url = object_url(key);
  req.headers.emplace_back("Range", "bytes=0-0");
  Response r = send_signed(std::move(req), key, "look up");
  if (r.ok()) return true;
  if (r.status == 416) return true;  // an empty object: no first byte, but it exists
  if (r.status == 404 && xml_element(r.body, "Code") != "NoSuchBucket") return false;
  fail(r, key, "look up");
}

void S3Client::create_bucket() {
  Request req;
  req.method = "PUT";
  req.url = object_url("");
  req.send_body = true;
  // us-east-1 is the default location and refuses to be named.
  if (region_ != "us-east-1") {
    req.body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        region_ + "</LocationConstraint></CreateBucketConfiguration>";
    req.headers.emplace_back("Content-Type", "application/xml");
  }
  Response r = send_signed(std::move(req), "", "create");
  if (r.ok() || xml_element(r.body, "Code") == "BucketAlreadyOwnedByYou") return;
  fail(r, "", "create");
}

void S3Client::remove(std::string_view key) {
  if (key.empty()) throw ValueError("An S3 object key cannot be empty (bucket " + bucket_ + ").");
  Request req;
  req.method = "DELETE";
  req.url = object_url(key);
  Response r = send_signed(std::move(req), key, "delete");
  if (!r.ok()) fail(r, key, "delete");
}

}  // namespace ferry::net
