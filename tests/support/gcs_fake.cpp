#include "support/gcs_fake.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/text.hpp"
#include "net/gcp_credentials.hpp"
#include "net/http_client.hpp"

namespace ferry::test {

namespace {

using Json = nlohmann::json;

// ---- OpenSSL ----

// A key and a BIO that free themselves.
struct Key {
  EVP_PKEY* p = nullptr;
  ~Key() {
    if (p) EVP_PKEY_free(p);
  }
};
struct Bio {
  BIO* p = nullptr;
  ~Bio() {
    if (p) BIO_free(p);
  }
  std::string text() const {
    char* data = nullptr;
    long n = BIO_ctrl(p, BIO_CTRL_INFO, 0, &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
};

Bio read_bio(const std::string& text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
}

std::string md5_base64(const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, EVP_md5(), nullptr);
  return detail::base64_encode(std::string_view(reinterpret_cast<char*>(out), n));
}

// ---- GCS's wire formats ----

std::string random_hex(std::size_t bytes) {
  static std::mutex m;
  static std::random_device device;
  std::lock_guard lock(m);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = device() & 0xff;
    out += hex[v >> 4];
    out += hex[v & 15];
  }
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339 with milliseconds ("2026-12-01T13:05:00.123Z") and the HTTP date of a time in
// microseconds (generations are microsecond timestamps, as GCS's are).
std::string rfc3339(long long micros) {
  std::time_t t = micros / 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[40];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03lldZ", (micros / 1000) % 1000);
  return std::string(out) + ms;
}

std::string http_date(long long micros) {
  std::time_t t = micros / 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[40];
  std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return out;
}

// GCS's JSON error body.
HttpReply error(int status, const std::string& message, const std::string& reason) {
  Json body = {
      {"error",
       {{"code", status},
        {"message", message},
        {"errors",
         Json::array({{{"message", message}, {"domain", "global"}, {"reason", reason}}})}}}};
  return {status, {{"Content-Type", "application/json; charset=UTF-8"}}, body.dump()};
}

HttpReply json_reply(int status, const Json& body) {
  return {status, {{"Content-Type", "application/json; charset=UTF-8"}}, body.dump()};
}

// Google's token endpoint's refusal.
HttpReply oauth_error(const std::string& error, const std::string& description) {
  return json_reply(400, {{"error", error}, {"error_description", description}});
}

const char* kNoBucket = "The specified bucket does not exist.";

// The raw path split on '/' and each segment percent-decoded, so an object name with '/'
// counts only when the client encoded it as %2F (as the JSON API requires).
std::vector<std::string> path_segments(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(url_decode(std::string_view(path).substr(start, slash - start)));
    start = slash + 1;
  }
  return out;
}

std::map<std::string, std::string> form_fields(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t amp = body.find('&', start);
    if (amp == std::string::npos) amp = body.size();
    std::string pair = body.substr(start, amp - start);
    std::size_t eq = pair.find('=');
    std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
    for (char& c : value) {
      if (c == '+') c = ' ';
    }
    out[url_decode(pair.substr(0, eq))] = url_decode(value);
    start = amp + 1;
  }
  return out;
}

}  // namespace

// ---- OpenSSL helpers ----

std::string generate_rsa_private_key_pem() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
  Key key;
  bool ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) == 1 && EVP_PKEY_keygen(ctx, &key.p) == 1;
  if (ctx) EVP_PKEY_CTX_free(ctx);
  if (!ok) throw std::runtime_error("GcsFake: RSA key generation failed");
  Bio out{BIO_new(BIO_s_mem())};
  PEM_write_bio_PrivateKey(out.p, key.p, nullptr, nullptr, 0, nullptr, nullptr);
  return out.text();
}

std::string rsa_public_key_pem(const std::string& private_key_pem) {
  Bio in = read_bio(private_key_pem);
  Key key{PEM_read_bio_PrivateKey(in.p, nullptr, nullptr, nullptr)};
  if (!key.p) throw std::runtime_error("GcsFake: not a PEM private key");
  Bio out{BIO_new(BIO_s_mem())};
  PEM_write_bio_PUBKEY(out.p, key.p);
  return out.text();
}

bool rs256_verify(const std::string& public_key_pem, std::string_view data,
                  std::string_view signature) {
  Bio in = read_bio(public_key_pem);
  Key key{PEM_read_bio_PUBKEY(in.p, nullptr, nullptr, nullptr)};
  if (!key.p) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.p) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  if (ctx) EVP_MD_CTX_free(ctx);
  return ok;
}

// ---- GcsFake ----

GcsFake::GcsFake(bool anonymous) : anonymous_(anonymous) {
  private_key_pem_ = generate_rsa_private_key_pem();
  public_key_pem_ = rsa_public_key_pem(private_key_pem_);
  private_key_id_ = random_hex(20);
  client_email_ = "ferry-tests@" + project_id_ + ".iam.gserviceaccount.com";
  server_ = std::make_unique<HttpServer>([this](const HttpRequest& r) { return handle(r); });
}

GcsFake::~GcsFake() { server_.reset(); }

GcsFake& GcsFake::shared() {
  static GcsFake fake;
  return fake;
}

std::string GcsFake::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(server_->port());
}
std::string GcsFake::token_uri() const { return endpoint() + "/token"; }

std::string GcsFake::key_file_json(const std::string& private_key_pem) const {
  Json key = {{"type", "service_account"},
              {"project_id", project_id_},
              {"private_key_id", private_key_id_},
              {"private_key", private_key_pem.empty() ? private_key_pem_ : private_key_pem},
              {"client_email", client_email_},
              {"client_id", "100000000000000000001"},
              {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
              {"token_uri", token_uri()},
              {"auth_provider_x509_cert_url", "https://www.googleapis.com/oauth2/v1/certs"},
              {"client_x509_cert_url",
               "https://www.googleapis.com/robot/v1/metadata/x509/" + client_email_}};
  return key.dump(2);
}

void GcsFake::write_key_file(const std::filesystem::path& path,
                             const std::string& private_key_pem) const {
  std::ofstream(path, std::ios::binary) << key_file_json(private_key_pem);
}

void GcsFake::set_anonymous(bool anonymous) {
  std::lock_guard lock(mutex_);
  anonymous_ = anonymous;
}

void GcsFake::revoke_tokens() {
  std::lock_guard lock(mutex_);
  tokens_.clear();
}

void GcsFake::add_bucket(const std::string& bucket) {
  std::lock_guard lock(mutex_);
  buckets_[bucket];
}

bool GcsFake::has_bucket(const std::string& bucket) const {
  std::lock_guard lock(mutex_);
  return buckets_.count(bucket) > 0;
}

bool GcsFake::has_object(const std::string& bucket, const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto b = buckets_.find(bucket);
  return b != buckets_.end() && b->second.count(key) > 0;
}

std::string GcsFake::object(const std::string& bucket, const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return {};
  auto o = b->second.find(key);
  return o == b->second.end() ? std::string() : o->second.bytes;
}

std::vector<HttpRequest> GcsFake::requests() const { return server_->requests(); }
std::size_t GcsFake::request_count() const { return server_->request_count(); }
void GcsFake::clear_requests() { server_->clear_requests(); }
void GcsFake::fail_next(int n, int status) { server_->fail_next(n, status); }
void GcsFake::drop_next(int n) { server_->drop_next(n); }

std::size_t GcsFake::count(std::string_view method, std::string_view prefix) const {
  std::size_t n = 0;
  for (const HttpRequest& r : server_->requests()) {
    if (r.method == method && std::string_view(r.target).substr(0, prefix.size()) == prefix) ++n;
  }
  return n;
}

HttpReply GcsFake::handle(const HttpRequest& r) {
  std::vector<std::string> segments = path_segments(r.target);
  if (r.method == "POST" && segments == std::vector<std::string>{"token"}) return token(r);
  {
    std::lock_guard lock(mutex_);
    if (!anonymous_) {
      std::string auth = r.header("Authorization");
      if (auth.empty()) {
        return error(401,
                     "Anonymous caller does not have storage.objects.get access to the Google "
                     "Cloud Storage object.",
                     "required");
      }
      if (auth.rfind("Bearer ", 0) != 0 || tokens_.count(auth.substr(7)) == 0) {
        HttpReply reply = error(401, "Invalid Credentials", "authError");
        reply.headers.emplace_back("WWW-Authenticate",
                                   "Bearer realm=\"https://accounts.google.com/\"");
        return reply;
      }
    }
  }
  return storage(r, segments);
}

std::string GcsFake::jwt_problem(const std::string& assertion) const {
  std::size_t dot1 = assertion.find('.');
  std::size_t dot2 = dot1 == std::string::npos ? dot1 : assertion.find('.', dot1 + 1);
  if (dot2 == std::string::npos) return "Invalid JWT: not a JWS compact serialization.";
  auto header_text = net::base64url_decode(assertion.substr(0, dot1));
  auto claims_text = net::base64url_decode(assertion.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = net::base64url_decode(assertion.substr(dot2 + 1));
  if (!header_text || !claims_text || !signature) return "Invalid JWT: bad base64url.";
  Json header = Json::parse(*header_text, nullptr, false);
  Json claims = Json::parse(*claims_text, nullptr, false);
  if (!header.is_object() || !claims.is_object()) return "Invalid JWT: bad JSON.";
  if (header.value("alg", "") != "RS256") return "Invalid JWT: alg must be RS256.";
  if (header.value("kid", "") != private_key_id_) return "Invalid JWT Signature.";
  if (!rs256_verify(public_key_pem_, assertion.substr(0, dot2), *signature))
    return "Invalid JWT Signature.";
  if (claims.value("iss", "") != client_email_) return "Invalid grant: account not found";
  if (claims.value("aud", "") != token_uri()) return "Invalid JWT: Failed audience check.";
  if (claims.value("scope", "").find("devstorage") == std::string::npos)
    return "Invalid JWT: no storage scope.";
  std::int64_t iat = claims.value("iat", std::int64_t{0});
  std::int64_t exp = claims.value("exp", std::int64_t{0});
  std::int64_t now = unix_now();
  if (exp <= now || iat > now + 60 || exp - iat > 3600) {
    return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
           "timeframe. Check your iat and exp values in the JWT claim.";
  }
  return {};
}

HttpReply GcsFake::token(const HttpRequest& r) {
  std::map<std::string, std::string> form = form_fields(r.body);
  if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer") {
    return oauth_error("unsupported_grant_type", "Invalid grant_type: " + form["grant_type"]);
  }
  if (std::string problem = jwt_problem(form["assertion"]); !problem.empty()) {
    return oauth_error("invalid_grant", problem);
  }
  std::string token = "ya29.fake-" + random_hex(24);
  {
    std::lock_guard lock(mutex_);
    tokens_.insert(token);
  }
  return json_reply(200, {{"access_token", token}, {"expires_in", 3599}, {"token_type", "Bearer"}});
}

HttpReply GcsFake::storage(const HttpRequest& r, const std::vector<std::string>& s) {
  const bool api = s.size() >= 3 && s[0] == "storage" && s[1] == "v1" && s[2] == "b";
  if (api && s.size() == 3 && r.method == "POST") return insert_bucket(r);
  if (api && s.size() == 4 && r.method == "GET") return get_bucket(s[3]);
  if (api && s.size() == 5 && s[4] == "o" && r.method == "GET") return list(r, s[3]);
  if (api && s.size() == 6 && s[4] == "o" && r.method == "GET") return read_object(r, s[3], s[5]);
  if (api && s.size() == 6 && s[4] == "o" && r.method == "DELETE") return delete_object(s[3], s[5]);
  if (s.size() == 6 && s[0] == "upload" && s[1] == "storage" && s[2] == "v1" && s[3] == "b" &&
      s[5] == "o" && r.method == "POST")
    return upload(r, s[4]);
  return error(404, "Not Found", "notFound");
}

HttpReply GcsFake::insert_bucket(const HttpRequest& r) {
  if (r.param("project").empty()) return error(400, "Required parameter: project", "required");
  Json body = Json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
    return error(400, "Required field: name", "required");
  std::string name = body["name"];
  std::lock_guard lock(mutex_);
  if (buckets_.count(name)) {
    return error(
        409, "Your previous request to create the named bucket succeeded and you already own it.",
        "conflict");
  }
  buckets_[name];
  return json_reply(200, {{"kind", "storage#bucket"},
                          {"id", name},
                          {"name", name},
                          {"location", "US"},
                          {"storageClass", "STANDARD"}});
}

HttpReply GcsFake::get_bucket(const std::string& bucket) const {
  std::lock_guard lock(mutex_);
  if (!buckets_.count(bucket)) return error(404, kNoBucket, "notFound");
  return json_reply(200, {{"kind", "storage#bucket"},
                          {"id", bucket},
                          {"name", bucket},
                          {"location", "US"},
                          {"storageClass", "STANDARD"}});
}

std::string GcsFake::resource(const std::string& bucket, const std::string& key,
                              const Object& o) const {
  std::string generation = std::to_string(o.generation);
  std::string self =
      endpoint() + "/storage/v1/b/" + net::url_encode(bucket) + "/o/" + net::url_encode(key);
  Json j = {{"kind", "storage#object"},
            {"id", bucket + "/" + key + "/" + generation},
            {"selfLink", self},
            {"mediaLink", self + "?generation=" + generation + "&alt=media"},
            {"name", key},
            {"bucket", bucket},
            {"generation", generation},
            {"metageneration", "1"},
            {"contentType", o.content_type},
            {"storageClass", "STANDARD"},
            {"size", std::to_string(o.bytes.size())},
            {"md5Hash", md5_base64(o.bytes)},
            {"etag", detail::base64_encode("etag:" + generation)},
            {"timeCreated", o.updated},
            {"updated", o.updated}};
  return j.dump();
}

HttpReply GcsFake::upload(const HttpRequest& r, const std::string& bucket) {
  if (r.param("uploadType") != "media")
    return error(400, "The fake supports only uploadType=media.", "invalid");
  std::string key = r.param("name");
  if (key.empty()) return error(400, "Required parameter: name", "required");
  std::lock_guard lock(mutex_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return error(404, kNoBucket, "notFound");
  auto existing = b->second.find(key);
  long long current = existing == b->second.end() ? 0 : existing->second.generation;
  if (r.query.count("ifGenerationMatch") &&
      r.param("ifGenerationMatch") != std::to_string(current)) {
    return error(412, "At least one of the pre-conditions you specified did not hold.",
                 "conditionNotMet");
  }
  long long now = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  last_generation_ = std::max(now, last_generation_ + 1);
  std::string type = r.header("Content-Type");
  Object o{r.body, type.empty() ? "application/octet-stream" : type, last_generation_,
           rfc3339(last_generation_), http_date(last_generation_)};
  b->second[key] = o;
  return json_reply(200, Json::parse(resource(bucket, key, o)));
}

HttpReply GcsFake::read_object(const HttpRequest& r, const std::string& bucket,
                               const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return error(404, kNoBucket, "notFound");
  auto o = b->second.find(key);
  if (o == b->second.end()) return error(404, "No such object: " + bucket + "/" + key, "notFound");
  if (r.param("alt") != "media")
    return json_reply(200, Json::parse(resource(bucket, key, o->second)));
  std::string generation = std::to_string(o->second.generation);
  return {200,
          {{"Content-Type", o->second.content_type},
           {"ETag", detail::base64_encode("etag:" + generation)},
           {"Last-Modified", o->second.last_modified},
           {"x-goog-generation", generation},
           {"x-goog-metageneration", "1"},
           {"x-goog-hash", "md5=" + md5_base64(o->second.bytes)},
           {"x-goog-stored-content-length", std::to_string(o->second.bytes.size())}},
          o->second.bytes};
}

HttpReply GcsFake::delete_object(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return error(404, kNoBucket, "notFound");
  if (b->second.erase(key) == 0)
    return error(404, "No such object: " + bucket + "/" + key, "notFound");
  return {204, {}, ""};
}

HttpReply GcsFake::list(const HttpRequest& r, const std::string& bucket) const {
  std::lock_guard lock(mutex_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return error(404, kNoBucket, "notFound");
  std::string prefix = r.param("prefix");
  Json items = Json::array();
  for (const auto& [key, o] : b->second) {  // std::map: sorted by name, as GCS lists
    if (key.rfind(prefix, 0) == 0) items.push_back(Json::parse(resource(bucket, key, o)));
  }
  Json body = {{"kind", "storage#objects"}};
  if (!items.empty()) body["items"] = items;  // GCS leaves "items" out of an empty listing
  return json_reply(200, body);
}

}  // namespace ferry::test
