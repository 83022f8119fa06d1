// Google Cloud credentials, found the way Google's client libraries find them (Application
// Default Credentials), for Google Cloud Storage: the GCP_CREDENTIALS secret, then the key
// file named by GOOGLE_APPLICATION_CREDENTIALS, then the metadata server of a Google Cloud
// machine. Access tokens are OAuth 2 bearer tokens, cached in the process until shortly
// before they expire.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ferry/codec.hpp"
#include "ferry/error.hpp"

namespace ferry::net {

// The scope every token is asked for: read and write objects and buckets.
inline constexpr const char* kGcsReadWriteScope =
    "https://www.googleapis.com/auth/devstorage.read_write";
inline constexpr const char* kGoogleTokenUri = "https://oauth2.googleapis.com/token";

// The fields of a service account key file (type "service_account") that ferry uses.
struct ServiceAccountKey {
  std::string project_id{};
  std::string private_key_id{};
  std::string private_key{};  // PEM
  std::string client_email{};
  std::string token_uri{};
};

// The fields of a user's key file (type "authorized_user", as `gcloud auth
// application-default login` writes it).
struct AuthorizedUserKey {
  std::string client_id{};
  std::string client_secret{};
  std::string refresh_token{};
  std::string token_uri{};
  std::string quota_project_id{};
};

// A token endpoint or metadata server refused or failed to give an access token. The message
// names the credential source and the endpoint, never a key or token.
class GcpAuthError : public Error {
 public:
  GcpAuthError(const std::string& message, bool transient, long status)
      : Error(message), transient_(transient), status_(status) {}
  // No answer, or 429/5xx after the retries: worth trying again later.
  bool transient() const { return transient_; }
  long status() const { return status_; }

 private:
  bool transient_;
  long status_;
};

class GcpCredentials {
 public:
  enum class Kind { ServiceAccount, AuthorizedUser, MetadataServer };

  static GcpCredentials from_service_account(ServiceAccountKey key, std::string source);
  static GcpCredentials from_authorized_user(AuthorizedUserKey key, std::string source);
  // host: "metadata.google.internal" or GCE_METADATA_HOST's "127.0.0.1:8080".
  static GcpCredentials from_metadata_server(std::string host);

  Kind kind() const { return kind_; }
  // Where they came from, for messages (never a value): "secret GCP_CREDENTIALS", "key file
  // /path (GOOGLE_APPLICATION_CREDENTIALS)", "metadata server metadata.google.internal".
  const std::string& source() const { return source_; }
  // The key file's project_id (quota_project_id for a user), the metadata server's project;
  // "" when it has none.
  std::string project_id() const;

  // A bearer token valid for at least 60 more seconds: from the process-wide cache, else
  // fetched (JWT exchange, refresh token or metadata server) and cached. Throws GcpAuthError.
  std::string access_token() const;
  // Drops this credential's cached token (the service answered 401 to it).
  void forget_token() const;

 private:
  GcpCredentials() = default;
  // Identifies the credential in the token cache without holding a secret (a digest).
  std::string cache_key() const;

  Kind kind_ = Kind::ServiceAccount;
  std::string source_{};
  ServiceAccountKey service_account_{};
  AuthorizedUserKey user_{};
  std::string metadata_host_{};
};

// Reads a key file's JSON (service_account or authorized_user) into credentials. `source`
// names it in messages; a malformed key is a ValueError naming the source and the missing or
// wrong field, never a value. Registers its secrets for masking.
GcpCredentials gcp_credentials_from_json(const Value& key, const std::string& source);

// The chain, first found wins:
//  1. the secret GCP_CREDENTIALS (environment, FERRY__CONTEXT__SECRETS__, store): a key
//     file's JSON, as an object or as text;
//  2. the key file named by GOOGLE_APPLICATION_CREDENTIALS;
//  3. the metadata server (GCE_METADATA_HOST, else metadata.google.internal), asked for a
//     token with a short timeout.
// A malformed secret or file is a ValueError; nothing found is nullopt.
std::optional<GcpCredentials> find_gcp_credentials();
// The same, but nothing found is a ValueError listing the three places and how to set each.
GcpCredentials resolve_gcp_credentials();

// The signed assertion a service account exchanges for a token: header {"alg":"RS256",
// "typ":"JWT","kid":private_key_id}, claims iss, scope, aud = token_uri, iat, exp = iat + 3600,
// base64url, RS256 (OpenSSL). Throws ValueError if the private key is not a PEM RSA key.
std::string service_account_jwt(const ServiceAccountKey& key, std::int64_t issued_at);

// base64url without padding (RFC 7515), and back (nullopt if malformed).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// Empties the process-wide token cache (tests only).
void clear_gcp_token_cache_for_testing();

}  // namespace ferry::net
