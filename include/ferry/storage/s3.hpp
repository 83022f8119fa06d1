// S3 storage: flows as objects in an S3 bucket (AWS, or any S3-compatible service such as
// Ceph RGW or MinIO). See docs/storage/s3.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/result.hpp"
#include "ferry/storage/storage.hpp"

namespace ferry::storage {

// client_options (a JSON object, boto3's names): endpoint_url, region_name, use_ssl,
// verify, addressing_style ("auto", "path" or "virtual"), profile_name, and
// aws_access_key_id / aws_secret_access_key / aws_session_token. Credentials given there
// are used in this process only: they are never serialized, so agents find their own (the
// AWS_CREDENTIALS secret, then the standard chain). AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and
// AWS_REGION / AWS_DEFAULT_REGION are honoured; a localhost or IP endpoint uses path-style.
//
// upload_options: boto3's ExtraArgs (ACL, CacheControl, ContentType, Metadata,
// ServerSideEncryption, SSEKMSKeyId, StorageClass, Tagging, ...), sent with every upload.
struct S3Options {
  std::string bucket;
  std::string key{};  // default "<slug(flow name)>/<slug(timestamp)>" per flow
  bool stored_as_script = false;
  // Script form: the source build() uploads. `ferry register` sets it to the registered
  // file when it is empty. Without it (and with a key), nothing is uploaded.
  std::string local_script_path{};
  Value client_options{};
  Value upload_options{};
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// Frozen by default: build() uploads each flow's package (its SHA-256 recorded);
// get_flow() downloads it, logs its ETag, LastModified and VersionId and records the ETag
// and VersionId on the run. Default result: S3Result in the same bucket.
class S3 : public Storage {
 public:
  explicit S3(S3Options options);
  const std::string& bucket() const;
  const std::string& key() const;
  const std::string& local_script_path() const;
  const Value& client_options() const;  // as given (credentials included)
  const Value& upload_options() const;
};

}  // namespace ferry::storage

namespace ferry {

struct S3ResultOptions {
  std::string bucket;
  Value client_options{};  // as for S3 storage (credentials never serialized)
  std::string location = "{flow_run_id}/{task_name}.json";
};

// Task results as JSON objects in an S3 bucket.
class S3Result : public Result {
 public:
  explicit S3Result(S3ResultOptions options);
};

}  // namespace ferry
