#include "net/azure_blob.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>
#include <vector>

#include "core/masking.hpp"
#include "core/text.hpp"
#include "net/sigv4.hpp"

namespace ferry::net {

namespace {

using detail::iequals;
using detail::trim;

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "Tue, 01 Dec 2026 13:05:00 GMT" (x-ms-date), without the locale strftime would consult.
std::string rfc1123_now() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return out;
}

// "Tue, 01 Dec 2026 13:05:00 GMT" -> "2026-12-01T13:05:00Z"; "" when it is not that form.
std::string iso_from_rfc1123(const std::string& text) {
  char day[4] = {}, month[4] = {};
  int mday = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (std::sscanf(text.c_str(), "%3s, %d %3s %d %d:%d:%d", day, &mday, month, &year, &hour, &minute,
                  &second) != 7)
    return "";
  int mon = 0;
  while (mon < 12 && std::string_view(kMonths[mon]) != month) ++mon;
  if (mon == 12) return "";
  char out[32];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, mon + 1, mday, hour,
                minute, second);
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Each segment percent-encoded, the '/' between them kept (blob names use them as folders).
std::string encode_path(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    out += url_encode(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string header_value(const Fields& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

// The SharedKey string to sign (Blob service, version 2015-02-21 and later): the verb, the
// standard headers (Content-Length empty when zero), the x-ms- headers lower-cased and
// sorted, and the resource /account/<path as sent> with the query parameters sorted.
std::string string_to_sign(const Request& request, const std::string& canonical_resource) {
  bool sends_body = request.send_body || request.method != "GET";
  std::string length =
      sends_body && !request.body.empty() ? std::to_string(request.body.size()) : std::string();
  std::string out = request.method + "\n";
  for (const char* name : {"Content-Encoding", "Content-Language"})
    out += header_value(request.headers, name) + "\n";
  out += length + "\n";
  for (const char* name : {"Content-MD5", "Content-Type", "Date", "If-Modified-Since", "If-Match",
                           "If-None-Match", "If-Unmodified-Since", "Range"})
    out += header_value(request.headers, name) + "\n";

  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(trim(name));
    if (key.rfind("x-ms-", 0) != 0) continue;
    auto same = std::find_if(ms.begin(), ms.end(), [&](const auto& p) { return p.first == key; });
    if (same != ms.end()) {
      same->second += "," + trim(value);
    } else {
      ms.emplace_back(key, trim(value));
    }
  }
  std::sort(ms.begin(), ms.end());
  for (const auto& [name, value] : ms) out += name + ":" + value + "\n";

  out += canonical_resource;
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& [name, value] : request.params) params.emplace_back(lower(name), value);
  std::sort(params.begin(), params.end());
  for (const auto& [name, value] : params) out += "\n" + name + ":" + value;
  return out;
}

// The text between <tag> and </tag> in an error body ("" when absent), first line only.
std::string xml_element(const std::string& body, const std::string& tag) {
  std::size_t start = body.find("<" + tag + ">");
  if (start == std::string::npos) return "";
  start += tag.size() + 2;
  std::size_t end = body.find("</" + tag + ">", start);
  if (end == std::string::npos) return "";
  std::string text = body.substr(start, end - start);
  return trim(text.substr(0, text.find('\n')));
}

std::string status_text(long status) {
  std::string reason(reason_phrase(status));
  return "HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + reason);
}

ObjectInfo info_from(const Response& response) {
  return {.etag = response.header("ETag"),
          .last_modified = iso_from_rfc1123(response.header("Last-Modified")),
          .version_id = response.header("x-ms-version-id")};
}

}  // namespace

AzureBlobClient::AzureBlobClient(std::string container, std::string connection_string)
    : container_(std::move(container)),
      connection_(parse_azure_connection_string(connection_string)) {
  detail::register_secret_value(connection_string);
  std::size_t scheme = connection_.blob_endpoint.find("://");
  std::size_t path = connection_.blob_endpoint.find('/', scheme + 3);
  if (path != std::string::npos) endpoint_path_ = connection_.blob_endpoint.substr(path);
}

std::string AzureBlobClient::account_label() const {
  // A SAS connection string may name only the endpoint (the portal's form does).
  if (connection_.account_name.empty()) return "the account at " + connection_.blob_endpoint;
  return "account '" + connection_.account_name + "'";
}

std::string AzureBlobClient::uri(std::string_view key) const {
  return "az://" + container_ + "/" + std::string(key);
}

Response AzureBlobClient::send_request(Request request, std::string_view path,
                                       const std::string& subject) {
  std::string encoded = encode_path(path);
  request.url = connection_.blob_endpoint + encoded;
  request.headers.emplace_back("x-ms-date", rfc1123_now());
  request.headers.emplace_back("x-ms-version", std::string(kAzureBlobApiVersion));
  if (!connection_.account_key.empty()) {
    // Path-style endpoints (azurite's http://host:port/account) sign their path too, so the
    // account appears twice in the resource, as the emulator expects.
    std::string resource = "/" + connection_.account_name + endpoint_path_ + encoded;
    std::string key = detail::base64_decode(connection_.account_key).value_or("");
    std::string signature =
        detail::base64_encode(sigv4::hmac_sha256(key, string_to_sign(request, resource)));
    request.headers.emplace_back("Authorization",
                                 "SharedKey " + connection_.account_name + ":" + signature);
  } else {
    // The SAS is the authorization: no header, the token rides in the query (which
    // redact_url drops from every message).
    request.url += "?" + connection_.sas;
  }
  try {
    return send(request);
  } catch (const HttpError& e) {
    throw ObjectError(ObjectError::Kind::Transient,
                      "No answer from the Azure Blob endpoint " +
                          redact_url(connection_.blob_endpoint) + " for " + subject + ": " +
                          detail::mask_secrets(e.what()) +
                          ". Check that the endpoint in the connection string is reachable.",
                      0);
  }
}

ObjectError AzureBlobClient::error_for(const Response& response, const std::string& subject) const {
  long status = response.status;
  std::string code = response.header("x-ms-error-code");
  if (code.empty()) code = xml_element(response.body, "Code");
  std::string answered = status_text(status) + (code.empty() ? "" : " " + code);
  using Kind = ObjectError::Kind;

  if (code == "ContainerNotFound")
    return ObjectError(Kind::NoSuchBucket,
                       "The Azure container '" + container_ + "' does not exist in " +
                           account_label() + " (asked for " + subject +
                           "): create it, or fix the container name.",
                       status);
  if (code == "BlobNotFound" || (status == 404 && code.empty()))
    return ObjectError(Kind::NotFound, subject + " does not exist (" + answered + ").", status);
  if (status == 401 || status == 403 || code == "AuthenticationFailed") {
    bool key = !connection_.account_key.empty();
    // Never the server's own text: for a bad signature it quotes what was signed.
    return ObjectError(
        Kind::Auth,
        std::string("Azure refused the ") +
            (key ? "account key (AccountKey)" : "SAS token (SharedAccessSignature)") +
            " in the connection string for " + account_label() + ", container '" + container_ +
            "' (" + subject + ": " + answered + "). " +
            (key ? "Check that AccountKey is the current key of that account."
                 : "Check that the SAS is not expired and grants what is needed on this "
                   "container (r to read, c and w to write, d to delete)."),
        status);
  }
  if (status >= 500 || status == 429)
    return ObjectError(
        Kind::Transient,
        subject + ": Azure answered " + answered + " after " + std::to_string(response.attempts) +
            (response.attempts == 1 ? " attempt" : " attempts") + "; try again later.",
        status);
  std::string message = xml_element(response.body, "Message");
  return ObjectError(Kind::Other,
                     detail::mask_secrets(subject + ": Azure answered " + answered +
                                          (message.empty() ? "" : ": " + message)),
                     status);
}

ObjectInfo AzureBlobClient::put(std::string_view key, std::string_view bytes,
                                const PutOptions& options) {
  std::string subject = uri(key);
  Request request;
  request.method = "PUT";
  request.body = std::string(bytes);
  request.send_body = true;
  request.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  if (!options.content_type.empty())
    request.headers.emplace_back("Content-Type", options.content_type);
  for (const auto& header : options.headers) request.headers.push_back(header);
  // Conditional on there being no blob yet, so an existing one is never replaced.
  if (!options.overwrite) request.headers.emplace_back("If-None-Match", "*");

  Response response =
      send_request(std::move(request), "/" + container_ + "/" + std::string(key), subject);
  if (response.ok()) return info_from(response);
  std::string code = response.header("x-ms-error-code");
  if (!options.overwrite &&
      (code == "BlobAlreadyExists" || code == "ConditionNotMet" || response.status == 412))
    throw ObjectError(ObjectError::Kind::AlreadyExists,
                      subject + " already exists; set overwrite=true to replace it",
                      response.status);
  throw error_for(response, subject);
}

ObjectData AzureBlobClient::get(std::string_view key) {
  std::string subject = uri(key);
  Request request;
  request.hash_body = true;
  Response response =
      send_request(std::move(request), "/" + container_ + "/" + std::string(key), subject);
  if (!response.ok()) throw error_for(response, subject);
  return {.bytes = std::move(response.body),
          .info = info_from(response),
          .sha256 = std::move(response.body_sha256)};
}

bool AzureBlobClient::exists(std::string_view key) {
  // net::send cannot make a HEAD request (libcurl waits for a body unless told it is a HEAD),
  // so this asks for the first byte instead: as cheap, and the same answers.
  std::string subject = uri(key);
  Request request;
  request.headers.emplace_back("x-ms-range", "bytes=0-0");
  Response response =
      send_request(std::move(request), "/" + container_ + "/" + std::string(key), subject);
  if (response.ok()) return true;
  if (response.status == 416) return true;  // an empty blob has no byte 0
  std::string code = response.header("x-ms-error-code");
  if (code == "BlobNotFound" || (response.status == 404 && code.empty())) return false;
  throw error_for(response, subject);
}

void AzureBlobClient::create_container() {
  std::string subject = "az://" + container_;
  Request request;
  request.method = "PUT";
  request.send_body = true;
  request.params = {{"restype", "container"}};
  Response response = send_request(std::move(request), "/" + container_, subject);
  if (response.ok() || response.header("x-ms-error-code") == "ContainerAlreadyExists") return;
  throw error_for(response, subject);
}

void AzureBlobClient::remove(std::string_view blob) {
  std::string subject = uri(blob);
  Request request;
  request.method = "DELETE";
  Response response =
      send_request(std::move(request), "/" + container_ + "/" + std::string(blob), subject);
  if (response.ok() || response.header("x-ms-error-code") == "BlobNotFound") return;
  throw error_for(response, subject);
}

}  // namespace ferry::net
