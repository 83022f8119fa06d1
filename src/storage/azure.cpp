#include "ferry/storage/azure.hpp"

#include "agent/secrets.hpp"
#include "ferry/error.hpp"
#include "net/azure_blob.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/object_result.hpp"
#include "storage/object_storage.hpp"

namespace ferry::storage {

namespace {

const char kDefaultSecret[] = "AZURE_STORAGE_CONNECTION_STRING";

// Looked up at each use, on the machine that uses it (as the reference does), and never
// kept in the descriptor: the named secret, else AZURE_STORAGE_CONNECTION_STRING (whose
// environment variable find_secret reads first). AzureBlobClient registers it for masking.
std::string connection_string(const std::string& secret_name) {
  if (!secret_name.empty()) {
    std::optional<std::string> value = agent::find_secret(secret_name);
    if (!value) {
      throw ValueError("The secret '" + secret_name +
                       "' (connection_string_secret of Azure storage) is not set on this "
                       "machine: set the environment variable " +
                       secret_name + " or run `ferry secrets set " + secret_name + "`.");
    }
    return *value;
  }
  if (std::optional<std::string> value = agent::find_secret(kDefaultSecret)) {
    return *value;
  }
  throw ValueError(
      "Azure connection string not provided. Set `AZURE_STORAGE_CONNECTION_STRING` "
      "environment variable or save connection string as a ferry secret "
      "(`ferry secrets set AZURE_STORAGE_CONNECTION_STRING`).");
}

class AzureImpl : public ObjectStorageImpl {
 public:
  explicit AzureImpl(AzureOptions o)
      : ObjectStorageImpl({.key_field = "blob_name",
                           .uploads_script = false,
                           .missing_script_key_error =
                               "A `blob_name` must be provided to show where the flow source "
                               "file is stored in Azure."},
                          o.blob_name, ""),
        o_(std::move(o)) {
    if (o_.container.empty()) throw ValueError("Azure storage needs a `container`.");
    stored_as_script = o_.stored_as_script;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "Azure"; }
  Result default_result() const override {
    return AzureResult(
        {.container = o_.container, .connection_string_secret = o_.connection_string_secret});
  }
  const AzureOptions& options() const { return o_; }

 protected:
  std::unique_ptr<net::ObjectClient> make_client() const override {
    return std::make_unique<net::AzureBlobClient>(o_.container,
                                                  connection_string(o_.connection_string_secret));
  }
  net::PutOptions put_options() const override {
    net::PutOptions p;
    p.overwrite = o_.overwrite;
    return p;
  }
  void serialize_fields(Value& out) const override {
    out["container"] = o_.container;
    out["connection_string_secret"] = nullable(o_.connection_string_secret);
    out["blob_name"] = nullable(key());
    out["overwrite"] = o_.overwrite;
    out["stored_as_script"] = stored_as_script;
  }

 private:
  AzureOptions o_;
};

class AzureResultImpl : public ObjectResultImpl {
 public:
  explicit AzureResultImpl(AzureResultOptions o) : ObjectResultImpl(o.location), o_(std::move(o)) {
    if (o_.container.empty()) throw ValueError("AzureResult needs a `container`.");
  }
  std::string type() const override { return "AzureResult"; }
  Value serialize() const override {
    return {{"type", type()},
            {"container", o_.container},
            {"connection_string_secret", nullable(o_.connection_string_secret)},
            {"location", location()}};
  }

 protected:
  std::unique_ptr<net::ObjectClient> make_client() const override {
    return std::make_unique<net::AzureBlobClient>(o_.container,
                                                  connection_string(o_.connection_string_secret));
  }

 private:
  AzureResultOptions o_;
};

const bool registered = [] {
  register_storage_type("Azure", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    AzureOptions o;
    o.container = string_field(d, "container");
    o.connection_string_secret = string_field(d, "connection_string_secret");
    o.blob_name = string_field(d, "blob_name");
    o.overwrite = d.value("overwrite", false);
    o.stored_as_script = d.value("stored_as_script", false);
    return std::make_shared<AzureImpl>(std::move(o));
  });
  register_result_type("AzureResult", [](const Value& j) -> std::shared_ptr<ResultImpl> {
    AzureResultOptions o;
    o.container = string_field(j, "container");
    o.connection_string_secret = string_field(j, "connection_string_secret");
    o.location = j.value("location", o.location);
    return std::make_shared<AzureResultImpl>(std::move(o));
  });
  return true;
}();

const AzureImpl& impl_of(const Storage& s) { return static_cast<const AzureImpl&>(*s.impl()); }

}  // namespace

Azure::Azure(AzureOptions options) : Storage(std::make_shared<AzureImpl>(std::move(options))) {
  (void)registered;
}
const std::string& Azure::container() const { return impl_of(*this).options().container; }
const std::string& Azure::blob_name() const { return impl_of(*this).key(); }
const std::string& Azure::connection_string_secret() const {
  return impl_of(*this).options().connection_string_secret;
}
bool Azure::overwrite() const { return impl_of(*this).options().overwrite; }

}  // namespace ferry::storage

namespace ferry {

AzureResult::AzureResult(AzureResultOptions options)
    : Result(std::make_shared<storage::AzureResultImpl>(std::move(options))) {
  (void)storage::registered;
}

}  // namespace ferry
