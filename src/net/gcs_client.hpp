// Google Cloud Storage over its JSON API (media uploads, alt=media downloads, object
// metadata), authenticated with OAuth bearer tokens from gcp_credentials.hpp.
//
// The endpoint is https://storage.googleapis.com, or STORAGE_EMULATOR_HOST ("host:port" or a
// URL; http when it has no scheme), as in Google's own libraries. With an emulator and no
// credentials found, requests go unauthenticated, as Google's libraries do.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/gcp_credentials.hpp"
#include "net/object_client.hpp"

namespace ferry::net {

class GcsClient : public ObjectClient {
 public:
  // Resolves the credentials now (see resolve_gcp_credentials). project "" means the
  // credentials' project_id (then GOOGLE_CLOUD_PROJECT); only create_bucket needs one.
  GcsClient(std::string bucket, std::string project);

  std::string uri(std::string_view key) const override;  // "gs://bucket/key"
  ObjectInfo put(std::string_view key, std::string_view bytes,
                 const PutOptions& options = {}) override;
  ObjectData get(std::string_view key) override;
  // A missing bucket is not a missing object: it throws NoSuchBucket.
  bool exists(std::string_view key) override;

  // The object's metadata (etag, updated, generation); NotFound when it is missing.
  ObjectInfo stat(std::string_view key);
  // Deletes the object; NotFound when it is missing.
  void remove(std::string_view key);
  // Creates the bucket in the project; a bucket this project already owns is fine.
  void create_bucket();

  const std::string& bucket() const { return bucket_; }
  // "https://storage.googleapis.com" or the emulator's URL.
  const std::string& endpoint() const { return endpoint_; }
  // Where the credentials came from ("secret GCP_CREDENTIALS", ...), or that there are none.
  std::string credential_source() const;

 private:
  // What a request is about, for messages: the object's URI, or the bucket's.
  struct Target {
    std::string uri;
    std::string key;  // "" for the bucket itself
  };
  Response send_authorized(Request request, const Target& target);
  [[noreturn]] void fail(const Request& request, const Response& response, const Target& target,
                         std::string_view action);
  bool bucket_exists();
  std::string object_url(std::string_view key) const;
  Target object_target(std::string_view key) const;

  std::string bucket_;
  std::string project_;
  std::string endpoint_;
  std::optional<GcpCredentials> credentials_;  // none: anonymous (emulator only)
};

// The JSON API base URL: STORAGE_EMULATOR_HOST (with http:// added when it has no scheme,
// no trailing slash), else https://storage.googleapis.com.
std::string gcs_endpoint();

// GCS times as ObjectInfo has them: RFC 3339 ("2026-12-01T13:05:00.123Z") or an HTTP date
// ("Tue, 01 Dec 2026 13:05:00 GMT") to "2026-12-01T13:05:00Z"; "" when unreadable.
std::string gcs_time_to_iso(std::string_view text);

}  // namespace ferry::net
