// A FAKE of Google Cloud Storage for the tests: no GCS emulator can run on these machines, so
// this in-process server (on the loopback HttpServer) implements exactly the subset ferry's
// GcsClient speaks, answering as GCS documents it:
//   - JSON API: media upload (POST /upload/storage/v1/b/B/o?uploadType=media&name=K, with
//     ifGenerationMatch), download (GET /storage/v1/b/B/o/K?alt=media), object metadata
//     (the same without alt), list (GET /storage/v1/b/B/o?prefix=P), delete, bucket insert
//     (POST /storage/v1/b?project=P) and get (GET /storage/v1/b/B), with GCS's JSON error
//     bodies ({"error": {"code", "message", "errors": [...]}});
//   - an OAuth token endpoint (POST /token) that takes a service account's JWT assertion,
//     checks its RS256 signature with the test account's public key, its kid, iss, aud,
//     scope, iat and exp, and issues a random bearer token.
// Every storage request must carry a token it issued (else 401), unless it is anonymous.
// The test service account's RSA 2048 key is generated when the fake starts.
//
// Being a fake, it proves ferry follows the documented protocol, not that Google's service
// agrees: keep it to what the documentation says.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_server.hpp"

namespace ferry::test {

class GcsFake {
 public:
  // anonymous: storage requests need no token (as an emulator without auth).
  explicit GcsFake(bool anonymous = false);
  ~GcsFake();
  GcsFake(const GcsFake&) = delete;
  GcsFake& operator=(const GcsFake&) = delete;

  // One authenticated fake shared by the tests of a binary (started on first use; tests that
  // use fail_next or drop_next must consume what they arm).
  static GcsFake& shared();

  // "http://127.0.0.1:PORT": the value for STORAGE_EMULATOR_HOST.
  std::string endpoint() const;
  std::string token_uri() const;  // endpoint() + "/token"
  const std::string& project_id() const { return project_id_; }
  const std::string& client_email() const { return client_email_; }
  const std::string& private_key_id() const { return private_key_id_; }
  const std::string& private_key_pem() const { return private_key_pem_; }  // PKCS#8 PEM
  const std::string& public_key_pem() const { return public_key_pem_; }

  // The test service account's key file, as Google's console downloads it (type
  // service_account, project_id, private_key_id, private_key, client_email, token_uri = the
  // fake's). A private_key given replaces the account's (a key the fake does not know).
  std::string key_file_json(const std::string& private_key_pem = "") const;
  void write_key_file(const std::filesystem::path& path,
                      const std::string& private_key_pem = "") const;

  void set_anonymous(bool anonymous);
  // Tokens issued so far stop being accepted (as if revoked).
  void revoke_tokens();

  void add_bucket(const std::string& bucket);
  bool has_bucket(const std::string& bucket) const;
  bool has_object(const std::string& bucket, const std::string& key) const;
  std::string object(const std::string& bucket, const std::string& key) const;  // "" if none

  // The request log (token requests included), and counts in it.
  std::vector<HttpRequest> requests() const;
  std::size_t request_count() const;
  void clear_requests();
  // Requests of that method whose raw target starts with `prefix`.
  std::size_t count(std::string_view method, std::string_view prefix) const;
  std::size_t token_requests() const { return count("POST", "/token"); }
  // The next n requests get `status` (with Retry-After: 0), or a dropped connection.
  void fail_next(int n, int status = 503);
  void drop_next(int n);

 private:
  struct Object {
    std::string bytes;
    std::string content_type;
    long long generation = 0;
    std::string updated;        // RFC 3339 with milliseconds
    std::string last_modified;  // HTTP date
  };
  using Bucket = std::map<std::string, Object>;

  HttpReply handle(const HttpRequest& request);
  HttpReply token(const HttpRequest& request);
  HttpReply storage(const HttpRequest& request, const std::vector<std::string>& segments);
  HttpReply insert_bucket(const HttpRequest& request);
  HttpReply get_bucket(const std::string& bucket) const;
  HttpReply upload(const HttpRequest& request, const std::string& bucket);
  HttpReply read_object(const HttpRequest& request, const std::string& bucket,
                        const std::string& key) const;
  HttpReply delete_object(const std::string& bucket, const std::string& key);
  HttpReply list(const HttpRequest& request, const std::string& bucket) const;
  std::string resource(const std::string& bucket, const std::string& key,
                       const Object& object) const;
  // Why a JWT assertion is refused ("" if it is good), in Google's words.
  std::string jwt_problem(const std::string& assertion) const;

  std::string project_id_ = "ferry-fake-project";
  std::string client_email_;
  std::string private_key_id_;
  std::string private_key_pem_;
  std::string public_key_pem_;

  mutable std::mutex mutex_;
  bool anonymous_ = false;
  std::set<std::string> tokens_;
  std::map<std::string, Bucket> buckets_;
  long long last_generation_ = 0;

  std::unique_ptr<HttpServer> server_;  // last: its thread calls handle() on the state above
};

// OpenSSL helpers for the tests: a fresh RSA 2048 private key (PKCS#8 PEM), its public key
// (SubjectPublicKeyInfo PEM), and RS256 verification of a signature.
std::string generate_rsa_private_key_pem();
std::string rsa_public_key_pem(const std::string& private_key_pem);
bool rs256_verify(const std::string& public_key_pem, std::string_view data,
                  std::string_view signature);

}  // namespace ferry::test
