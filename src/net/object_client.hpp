// One interface over the object stores ferry speaks to (S3, Azure Blob, Google Cloud
// Storage), so the storage and result classes share their logic (keys, digests, script
// uploads, results) and differ only in the client. Each cloud implements it over
// net::send (src/net/http_client.hpp) with its own signer.
#pragma once

#include <string>
#include <string_view>

#include "ferry/error.hpp"
#include "net/http_client.hpp"

namespace ferry::net {

// What the service said about an object besides its bytes ("" when it said nothing).
struct ObjectInfo {
  std::string etag{};           // as sent, quotes included ("\"9b2cf5...\"")
  std::string last_modified{};  // ISO-8601 UTC, "2026-12-01T13:05:00Z"
  std::string version_id{};     // S3 VersionId, Azure x-ms-version-id, GCS generation
};

struct ObjectData {
  std::string bytes{};
  ObjectInfo info{};
  // SHA-256 (lowercase hex) of `bytes`, computed while they were received (get() sets it).
  std::string sha256{};
};

struct PutOptions {
  // false: refuse to replace an existing object (ObjectError kind AlreadyExists), with a
  // conditional request (If-None-Match: *), so the old object stays untouched.
  bool overwrite = true;
  std::string content_type = "application/octet-stream";
  // Extra request headers (S3 upload_options mapped to x-amz-* headers, ...).
  Fields headers{};
};

// Why an object request failed. The message names the store's URI of the object (or the
// bucket) and what to do; never a credential, signature or SAS token.
class ObjectError : public Error {
 public:
  enum class Kind {
    NotFound,       // no such object
    NoSuchBucket,   // no such bucket / container
    Auth,           // missing or wrong credentials, bad signature, access denied (401/403)
    AlreadyExists,  // put with overwrite=false and the object exists (409/412)
    Transient,      // still failing after the retries (5xx, 429, connection errors)
    Other,          // anything else (4xx, malformed answer)
  };
  ObjectError(Kind kind, const std::string& message, long status = 0)
      : Error(message), kind_(kind), status_(status) {}
  Kind kind() const { return kind_; }
  long status() const { return status_; }  // HTTP status, 0 when no response came

 private:
  Kind kind_;
  long status_;
};

// A client for one bucket (container). Credentials are resolved when the client is made
// (at run time, on the machine that uses it), never stored in a descriptor.
class ObjectClient {
 public:
  virtual ~ObjectClient() = default;
  // How messages and logs name an object: "s3://bucket/key", "az://container/blob",
  // "gs://bucket/key". Never holds credentials.
  virtual std::string uri(std::string_view key) const = 0;
  // Uploads bytes as the object `key`; returns what the service said (etag, version).
  virtual ObjectInfo put(std::string_view key, std::string_view bytes,
                         const PutOptions& options = {}) = 0;
  // Downloads the object; a missing object is ObjectError NotFound.
  virtual ObjectData get(std::string_view key) = 0;
  // Whether the object exists (a HEAD / metadata request); auth errors still throw.
  virtual bool exists(std::string_view key) = 0;
};

}  // namespace ferry::net
