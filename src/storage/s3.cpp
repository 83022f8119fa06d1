#include "ferry/storage/s3.hpp"

#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "net/s3_client.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/object_result.hpp"
#include "storage/object_storage.hpp"

namespace ferry::storage {

namespace {

const char* const kCredentialOptions[] = {"aws_access_key_id", "aws_secret_access_key",
                                          "aws_session_token"};

// client_options as the descriptor keeps them: without credentials, which would otherwise
// end up in the backend. Agents find their own (AWS_CREDENTIALS secret, standard chain).
Value serializable_options(const Value& options) {
  if (!options.is_object()) return options;
  Value out = options;
  for (const char* name : kCredentialOptions) out.erase(name);
  return out;
}

void check_client_options(const Value& options, const std::string& where) {
  if (!options.is_null() && !options.is_object()) {
    throw ValueError(where +
                     ": client_options must be a JSON object (boto3's names, such as "
                     "endpoint_url and region_name).");
  }
  if (!options.is_object()) return;
  for (const char* name : kCredentialOptions) {
    if (options.contains(name)) {
      logger().warning(where +
                       ": credentials in client_options are used by this process only "
                       "and are not stored with the flow; agents use the "
                       "AWS_CREDENTIALS secret or their own AWS credentials.");
      return;
    }
  }
}

class S3Impl : public ObjectStorageImpl {
 public:
  explicit S3Impl(S3Options o)
      : ObjectStorageImpl(
            {.key_field = "key",
             .uploads_script = true,
             .missing_script_key_error =
                 "A `key` must be provided to show where the flow source file is stored in S3 "
                 "or provide a `local_script_path` pointing to a local source file that "
                 "contains the flow."},
            o.key, o.local_script_path),
        o_(std::move(o)) {
    if (o_.bucket.empty()) throw ValueError("S3 storage needs a `bucket`.");
    check_client_options(o_.client_options, "S3 storage");
    if (!o_.upload_options.is_null() && !o_.upload_options.is_object()) {
      throw ValueError("S3 storage: upload_options must be a JSON object (boto3's ExtraArgs).");
    }
    stored_as_script = o_.stored_as_script;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "S3"; }
  Result default_result() const override {
    return S3Result({.bucket = o_.bucket, .client_options = o_.client_options});
  }
  const S3Options& options() const { return o_; }

 protected:
  std::unique_ptr<net::ObjectClient> make_client() const override {
    return std::make_unique<net::S3Client>(o_.bucket, o_.client_options, o_.upload_options);
  }
  void serialize_fields(Value& out) const override {
    out["bucket"] = o_.bucket;
    out["key"] = nullable(key());
    out["stored_as_script"] = stored_as_script;
    out["client_options"] = serializable_options(o_.client_options);
    out["upload_options"] = o_.upload_options;
  }

 private:
  S3Options o_;
};

class S3ResultImpl : public ObjectResultImpl {
 public:
  explicit S3ResultImpl(S3ResultOptions o) : ObjectResultImpl(o.location), o_(std::move(o)) {
    if (o_.bucket.empty()) throw ValueError("S3Result needs a `bucket`.");
    check_client_options(o_.client_options, "S3Result");
  }
  std::string type() const override { return "S3Result"; }
  Value serialize() const override {
    return {{"type", type()},
            {"bucket", o_.bucket},
            {"client_options", serializable_options(o_.client_options)},
            {"location", location()}};
  }

 protected:
  std::unique_ptr<net::ObjectClient> make_client() const override {
    return std::make_unique<net::S3Client>(o_.bucket, o_.client_options, Value());
  }

 private:
  S3ResultOptions o_;
};

const bool registered = [] {
  register_storage_type("S3", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    S3Options o;
    o.bucket = d.value("bucket", std::string());
    if (d.contains("key") && d["key"].is_string()) o.key = d["key"];
    o.stored_as_script = d.value("stored_as_script", false);
    if (d.contains("client_options")) o.client_options = d["client_options"];
    if (d.contains("upload_options")) o.upload_options = d["upload_options"];
    return std::make_shared<S3Impl>(std::move(o));
  });
  register_result_type("S3Result", [](const Value& j) -> std::shared_ptr<ResultImpl> {
    S3ResultOptions o;
    o.bucket = j.value("bucket", std::string());
    if (j.contains("client_options")) o.client_options = j["client_options"];
    o.location = j.value("location", o.location);
    return std::make_shared<S3ResultImpl>(std::move(o));
  });
  return true;
}();

const S3Impl& impl_of(const Storage& s) { return static_cast<const S3Impl&>(*s.impl()); }

}  // namespace

S3::S3(S3Options options) : Storage(std::make_shared<S3Impl>(std::move(options))) {
  (void)registered;
}
const std::string& S3::bucket() const { return impl_of(*this).options().bucket; }
const std::string& S3::key() const { return impl_of(*this).key(); }
const std::string& S3::local_script_path() const { return impl_of(*this).local_script_path(); }
const Value& S3::client_options() const { return impl_of(*this).options().client_options; }
const Value& S3::upload_options() const { return impl_of(*this).options().upload_options; }

}  // namespace ferry::storage

namespace ferry {

S3Result::S3Result(S3ResultOptions options)
    : Result(std::make_shared<storage::S3ResultImpl>(std::move(options))) {
  (void)storage::registered;
}

}  // namespace ferry
