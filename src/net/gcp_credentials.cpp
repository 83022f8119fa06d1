#include "net/gcp_credentials.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "agent/secrets.hpp"
#include "core/digest.hpp"
#include "core/masking.hpp"
#include "core/text.hpp"
#include "net/http_client.hpp"

namespace ferry::net {

namespace {

using Clock = std::chrono::system_clock;

constexpr const char* kSecretName = "GCP_CREDENTIALS";
constexpr const char* kKeyFileVariable = "GOOGLE_APPLICATION_CREDENTIALS";
constexpr const char* kDefaultMetadataHost = "metadata.google.internal";
constexpr const char* kJwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
// A token is reused while it has at least this long to live, so a request never carries a
// token that expires on its way.
constexpr std::chrono::seconds kExpiryMargin{60};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string text_field(const Value& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

// ---- the process-wide token cache ----

struct CachedToken {
  std::string token;
  Clock::time_point expires;
};

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, CachedToken>& token_cache() {
  static auto* cache = new std::map<std::string, CachedToken>;  // outlives static destructors
  return *cache;
}

// ---- RS256 with OpenSSL ----

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Never prompts for a passphrase (OpenSSL's default callback would read the terminal).
int no_passphrase(char*, int, int, void*) { return 0; }

// The RSA private key of a PEM text, or null (OpenSSL's error queue is cleared: its text
// could quote the input).
Pkey load_rsa_private_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  ERR_clear_error();
  if (key && EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) key.reset();
  return key;
}

std::string rs256_sign(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  auto bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, bytes, data.size()) != 1) {
    ERR_clear_error();
    throw Error("OpenSSL could not sign the service account assertion (RS256).");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, bytes,
                     data.size()) != 1) {
    ERR_clear_error();
    throw Error("OpenSSL could not sign the service account assertion (RS256).");
  }
  signature.resize(length);
  return signature;
}

// Masks the key as a whole and line by line, so a log that prints part of it masks it too.
void register_private_key(const std::string& pem) {
  detail::register_secret_value(pem);
  std::istringstream lines(pem);
  for (std::string line; std::getline(lines, line);) {
    line = detail::trim(line);
    if (line.size() >= 16 && line.rfind("-----", 0) != 0) detail::register_secret_value(line);
  }
}

// ---- token requests ----

struct Token {
  std::string value;
  std::int64_t expires_in = 3600;
};

// "invalid_grant: Invalid JWT Signature." from an OAuth error body, masked and short.
std::string oauth_error_text(const std::string& body) {
  Value v = Value::parse(body, nullptr, false);
  std::string text;
  if (v.is_object()) {
    if (v.contains("error") && v["error"].is_string()) text = v["error"].get<std::string>();
    if (v.contains("error") && v["error"].is_object()) text = text_field(v["error"], "message");
    if (std::string d = text_field(v, "error_description"); !d.empty()) text += ": " + d;
  }
  if (text.size() > 300) text = text.substr(0, 300) + "...";
  return detail::mask_secrets(text);
}

// Sends a token request and reads {"access_token", "expires_in"}; `who` names the
// credential ("service account a@b (from secret GCP_CREDENTIALS)"), `advice` what to check.
Token request_token(const Request& request, const std::string& who, const std::string& advice) {
  std::string endpoint = redact_url(request.url);
  Response r;
  try {
    r = send(request);
  } catch (const HttpError& e) {
    throw GcpAuthError("Could not get an access token for " + who + ": " + e.what(), true, 0);
  }
  if (!r.ok()) {
    bool transient = r.status == 429 || r.status >= 500;
    std::string reason(reason_phrase(r.status));
    std::string detail = oauth_error_text(r.body);
    std::string what = "HTTP " + std::to_string(r.status) + (reason.empty() ? "" : " " + reason) +
                       (detail.empty() ? "" : " (" + detail + ")");
    if (transient) {
      throw GcpAuthError(endpoint + " failed to give an access token for " + who + ": " + what +
                             " after " + std::to_string(r.attempts) + " attempts. Try again later.",
                         true, r.status);
    }
    throw GcpAuthError(
        endpoint + " refused to give an access token for " + who + ": " + what + ". " + advice,
        false, r.status);
  }
  Value v = Value::parse(r.body, nullptr, false);
  if (!v.is_object() || text_field(v, "access_token").empty()) {
    throw GcpAuthError(endpoint + " answered the token request for " + who +
                           " without an access_token (is it a Google token endpoint?).",
                       false, r.status);
  }
  Token t{v["access_token"].get<std::string>(), 3600};
  if (v.contains("expires_in") && v["expires_in"].is_number())
    t.expires_in = v["expires_in"].get<std::int64_t>();
  detail::register_secret_value(t.value);
  return t;
}

Request form_post(const std::string& url, const Fields& fields) {
  Request r;
  r.method = "POST";
  r.url = url;
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
               {"Accept", "application/json"}};
  r.body = form_encode(fields);
  r.timeout_seconds = 60;
  return r;
}

std::string metadata_url(const std::string& host, const std::string& path) {
  bool has_scheme = host.find("://") != std::string::npos;
  return (has_scheme ? host : "http://" + host) + "/computeMetadata/v1/" + path;
}

// Metadata requests fail fast: off Google Cloud there is nobody to wait for.
Request metadata_request(const std::string& host, const std::string& path) {
  Request r;
  r.url = metadata_url(host, path);
  r.headers = {{"Metadata-Flavor", "Google"}};
  r.timeout_seconds = 3;
  r.max_retries = 1;
  r.backoff = std::chrono::milliseconds(100);
  return r;
}

// ---- the chain ----

std::string metadata_host() {
  std::string host = env("GCE_METADATA_HOST");
  return host.empty() ? kDefaultMetadataHost : host;
}

Value parse_key_text(const std::string& text, const std::string& source) {
  // nlohmann's message quotes the input near the error: never shown, it is a key.
  Value v = Value::parse(text, nullptr, false);
  if (v.is_discarded()) {
    throw ValueError("The Google credentials in " + source +
                     " are not valid JSON. Use the content of a service account key file "
                     "(IAM & Admin > Service accounts > Keys > Add key > JSON) as it was "
                     "downloaded.");
  }
  return v;
}

std::optional<GcpCredentials> from_secret() {
  std::optional<std::string> raw = agent::find_secret(kSecretName);
  if (!raw) return std::nullopt;
  std::string source = std::string("secret ") + kSecretName;
  Value value = agent::secret_value_from_raw(*raw);
  // A key stored as a JSON string holding the JSON text (encoded twice) is read too.
  if (value.is_string()) value = parse_key_text(value.get<std::string>(), source);
  return gcp_credentials_from_json(value, source);
}

std::optional<GcpCredentials> from_key_file() {
  std::string path = env(kKeyFileVariable);
  if (path.empty()) return std::nullopt;
  std::string source = "key file " + path + " (" + kKeyFileVariable + ")";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ValueError(std::string(kKeyFileVariable) + " names " + path +
                     ", which does not exist or cannot be read. Point it at a service account "
                     "key file, or unset it.");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return gcp_credentials_from_json(parse_key_text(text.str(), source), source);
}

// The metadata server, if one gives a token; else why not (for the nothing-found message).
std::optional<GcpCredentials> from_metadata_server(std::string& why_not) {
  GcpCredentials c = GcpCredentials::from_metadata_server(metadata_host());
  try {
    c.access_token();  // the probe; the token it gets is cached for the first request
    return c;
  } catch (const GcpAuthError& e) {
    why_not = e.what();
    return std::nullopt;
  }
}

std::optional<GcpCredentials> find_chain(std::string& metadata_why_not) {
  if (auto c = from_secret()) return c;
  if (auto c = from_key_file()) return c;
  return from_metadata_server(metadata_why_not);
}

}  // namespace

// ---- base64url ----

std::string base64url_encode(std::string_view bytes) {
  std::string out = detail::base64_encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string b64(text);
  for (char& c : b64) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '+' || c == '/' || c == '=')
      return std::nullopt;
  }
  while (b64.size() % 4 != 0) b64.push_back('=');
  return detail::base64_decode(b64);
}

// ---- JWT ----

std::string service_account_jwt(const ServiceAccountKey& key, std::int64_t issued_at) {
  Pkey pkey = load_rsa_private_key(key.private_key);
  if (!pkey)
    throw ValueError("The private_key of service account " + key.client_email +
                     " is not a PEM RSA private key.");
  Value header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!key.private_key_id.empty()) header["kid"] = key.private_key_id;
  Value claims = {{"iss", key.client_email},
                  {"scope", kGcsReadWriteScope},
                  {"aud", key.token_uri},
                  {"iat", issued_at},
                  {"exp", issued_at + 3600}};
  std::string signing_input =
      base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  return signing_input + "." + base64url_encode(rs256_sign(pkey.get(), signing_input));
}

// ---- GcpCredentials ----

GcpCredentials GcpCredentials::from_service_account(ServiceAccountKey key, std::string source) {
  GcpCredentials c;
  c.kind_ = Kind::ServiceAccount;
  c.source_ = std::move(source);
  c.service_account_ = std::move(key);
  return c;
}

GcpCredentials GcpCredentials::from_authorized_user(AuthorizedUserKey key, std::string source) {
  GcpCredentials c;
  c.kind_ = Kind::AuthorizedUser;
  c.source_ = std::move(source);
  c.user_ = std::move(key);
  return c;
}

GcpCredentials GcpCredentials::from_metadata_server(std::string host) {
  GcpCredentials c;
  c.kind_ = Kind::MetadataServer;
  c.source_ = "metadata server " + host;
  c.metadata_host_ = std::move(host);
  return c;
}

std::string GcpCredentials::project_id() const {
  switch (kind_) {
    case Kind::ServiceAccount:
      return service_account_.project_id;
    case Kind::AuthorizedUser:
      return user_.quota_project_id;
    case Kind::MetadataServer:
      try {
        Response r = send(metadata_request(metadata_host_, "project/project-id"));
        return r.ok() ? detail::trim(r.body) : std::string();
      } catch (const HttpError&) {
        return {};
      }
  }
  return {};
}

std::string GcpCredentials::cache_key() const {
  detail::Sha256 h;
  h.field(std::to_string(static_cast<int>(kind_)));
  switch (kind_) {
    case Kind::ServiceAccount:
      h.field(service_account_.token_uri)
          .field(service_account_.client_email)
          .field(service_account_.private_key);
      break;
    case Kind::AuthorizedUser:
      h.field(user_.token_uri).field(user_.client_id).field(user_.refresh_token);
      break;
    case Kind::MetadataServer:
      h.field(metadata_host_);
      break;
  }
  return h.hex();
}

std::string GcpCredentials::access_token() const {
  std::string key = cache_key();
  {
    std::lock_guard lock(cache_mutex());
    auto it = token_cache().find(key);
    if (it != token_cache().end() && Clock::now() + kExpiryMargin < it->second.expires)
      return it->second.token;
  }
  Token t;
  switch (kind_) {
    case Kind::ServiceAccount: {
      std::int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
      std::string jwt = service_account_jwt(service_account_, now);
      t = request_token(
          form_post(service_account_.token_uri,
                    {{"grant_type", kJwtBearerGrant}, {"assertion", jwt}}),
          "service account " + service_account_.client_email + " (from " + source_ + ")",
          "Check that the key is current (not deleted or disabled in IAM) and that this "
          "machine's clock is right.");
      break;
    }
    case Kind::AuthorizedUser:
      t = request_token(form_post(user_.token_uri, {{"grant_type", "refresh_token"},
                                                    {"client_id", user_.client_id},
                                                    {"client_secret", user_.client_secret},
                                                    {"refresh_token", user_.refresh_token}}),
                        "the user credentials from " + source_,
                        "Log in again with: gcloud auth application-default login.");
      break;
    case Kind::MetadataServer:
      t = request_token(metadata_request(metadata_host_, "instance/service-accounts/default/token"),
                        "the default service account of " + source_,
                        "Check that the machine has a service account attached.");
      break;
  }
  std::lock_guard lock(cache_mutex());
  token_cache()[key] = {t.value, Clock::now() + std::chrono::seconds(t.expires_in)};
  return t.value;
}

void GcpCredentials::forget_token() const {
  std::lock_guard lock(cache_mutex());
  token_cache().erase(cache_key());
}

GcpCredentials gcp_credentials_from_json(const Value& key, const std::string& source) {
  const std::string expected =
      "Use the content of a service account key file (IAM & Admin > Service accounts > Keys > "
      "Add key > JSON) as it was downloaded.";
  if (!key.is_object()) {
    throw ValueError("The Google credentials in " + source + " are not a JSON object. " + expected);
  }
  std::string type = text_field(key, "type");
  auto require = [&](std::initializer_list<const char*> names) {
    std::string missing;
    for (const char* n : names) {
      if (text_field(key, n).empty()) missing += std::string(missing.empty() ? "" : ", ") + n;
    }
    if (!missing.empty()) {
      throw ValueError("The " + type + " key in " + source + " has no " + missing + ". " +
                       expected);
    }
  };
  if (type == "service_account") {
    require({"client_email", "private_key"});
    ServiceAccountKey k{text_field(key, "project_id"), text_field(key, "private_key_id"),
                        text_field(key, "private_key"), text_field(key, "client_email"),
                        text_field(key, "token_uri")};
    register_private_key(k.private_key);
    if (k.token_uri.empty()) k.token_uri = kGoogleTokenUri;
    if (!load_rsa_private_key(k.private_key)) {
      throw ValueError("The private_key in " + source +
                       " is not a PEM RSA private key (it should start with -----BEGIN PRIVATE "
                       "KEY----- and keep its \\n line breaks). " +
                       expected);
    }
    return GcpCredentials::from_service_account(std::move(k), source);
  }
  if (type == "authorized_user") {
    require({"client_id", "client_secret", "refresh_token"});
    AuthorizedUserKey k{text_field(key, "client_id"), text_field(key, "client_secret"),
                        text_field(key, "refresh_token"), text_field(key, "token_uri"),
                        text_field(key, "quota_project_id")};
    detail::register_secret_value(k.client_secret);
    detail::register_secret_value(k.refresh_token);
    if (k.token_uri.empty()) k.token_uri = kGoogleTokenUri;
    return GcpCredentials::from_authorized_user(std::move(k), source);
  }
  if (type.empty()) {
    throw ValueError("The Google credentials in " + source +
                     " have no \"type\" (expected \"service_account\"). " + expected);
  }
  if (type.size() > 40) type = type.substr(0, 40) + "...";
  throw ValueError(
      "The Google credentials in " + source + " are of type \"" + type +
      "\", which ferry does not support: use a service_account (or authorized_user) key.");
}

std::optional<GcpCredentials> find_gcp_credentials() {
  std::string why_not;
  return find_chain(why_not);
}

GcpCredentials resolve_gcp_credentials() {
  std::string why_not;
  if (auto c = find_chain(why_not)) return *c;
  throw ValueError(
      "No Google Cloud credentials found. Looked in:\n"
      "  1. the secret GCP_CREDENTIALS: not set (set it to a service account key file's JSON "
      "with `ferry secrets set GCP_CREDENTIALS`, or the environment variable GCP_CREDENTIALS);\n"
      "  2. the environment variable GOOGLE_APPLICATION_CREDENTIALS: not set (set it to the "
      "path of a key file);\n"
      "  3. the metadata server " +
      metadata_host() + ": " + (why_not.empty() ? "no answer" : why_not) +
      " (only on Google Cloud machines; GCE_METADATA_HOST names another host).");
}

void clear_gcp_token_cache_for_testing() {
  std::lock_guard lock(cache_mutex());
  token_cache().clear();
}

}  // namespace ferry::net
