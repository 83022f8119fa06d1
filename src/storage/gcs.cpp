#include "ferry/storage/gcs.hpp"

#include "ferry/error.hpp"
#include "net/gcs_client.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/object_result.hpp"
#include "storage/object_storage.hpp"

namespace ferry::storage {

namespace {

class GCSImpl : public ObjectStorageImpl {
 public:
  explicit GCSImpl(GCSOptions o)
      : ObjectStorageImpl(
            {.key_field = "key",
             .uploads_script = true,
             .missing_script_key_error =
                 "A `key` must be provided to show where the flow source file is stored in GCS "
                 "or provide a `local_script_path` pointing to a local source file that "
                 "contains the flow."},
            o.key, o.local_script_path),
        o_(std::move(o)) {
    if (o_.bucket.empty()) throw ValueError("GCS storage needs a `bucket`.");
    stored_as_script = o_.stored_as_script;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "GCS"; }
  Result default_result() const override {
    return GCSResult({.bucket = o_.bucket, .project = o_.project});
  }
  const GCSOptions& options() const { return o_; }

 protected:
  std::unique_ptr<net::ObjectClient> make_client() const override {
    return std::make_unique<net::GcsClient>(o_.bucket, o_.project);
  }
  // The reference's text.
  std::string not_found_message(const std::string& key, const net::ObjectError&) const override {
    return "Flow not found in bucket: flow=" + key + " bucket=" + o_.bucket;
  }
  void serialize_fields(Value& out) const override {
    out["bucket"] = o_.bucket;
    out["key"] = nullable(key());
    out["project"] = nullable(o_.project);
    out["stored_as_script"] = stored_as_script;
  }

 private:
  GCSOptions o_;
};

class GCSResultImpl : public ObjectResultImpl {
 public:
  explicit GCSResultImpl(GCSResultOptions o) : ObjectResultImpl(o.location), o_(std::move(o)) {
    if (o_.bucket.empty()) throw ValueError("GCSResult needs a `bucket`.");
  }
  std::string type() const override { return "GCSResult"; }
  Value serialize() const override {
    return {{"type", type()},
            {"bucket", o_.bucket},
            {"project", nullable(o_.project)},
            {"location", location()}};
  }

 protected:
  std::unique_ptr<net::ObjectClient> make_client() const override {
    return std::make_unique<net::GcsClient>(o_.bucket, o_.project);
  }

 private:
  GCSResultOptions o_;
};

const bool registered = [] {
  register_storage_type("GCS", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    GCSOptions o;
    o.bucket = string_field(d, "bucket");
    o.key = string_field(d, "key");
    o.project = string_field(d, "project");
    o.stored_as_script = d.value("stored_as_script", false);
    return std::make_shared<GCSImpl>(std::move(o));
  });
  register_result_type("GCSResult", [](const Value& j) -> std::shared_ptr<ResultImpl> {
    GCSResultOptions o;
    o.bucket = string_field(j, "bucket");
    o.project = string_field(j, "project");
    o.location = j.value("location", o.location);
    return std::make_shared<GCSResultImpl>(std::move(o));
  });
  return true;
}();

const GCSImpl& impl_of(const Storage& s) { return static_cast<const GCSImpl&>(*s.impl()); }

}  // namespace

GCS::GCS(GCSOptions options) : Storage(std::make_shared<GCSImpl>(std::move(options))) {
  (void)registered;
}
const std::string& GCS::bucket() const { return impl_of(*this).options().bucket; }
const std::string& GCS::key() const { return impl_of(*this).key(); }
const std::string& GCS::project() const { return impl_of(*this).options().project; }
const std::string& GCS::local_script_path() const { return impl_of(*this).local_script_path(); }

}  // namespace ferry::storage

namespace ferry {

GCSResult::GCSResult(GCSResultOptions options)
    : Result(std::make_shared<storage::GCSResultImpl>(std::move(options))) {
  (void)storage::registered;
}

}  // namespace ferry
