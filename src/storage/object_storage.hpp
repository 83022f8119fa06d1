// The storage logic S3, Azure and GCS share: a flow is one object in a bucket (container),
// at a key the user gives or `<slug(name)>/<slug(timestamp)>`; frozen packages are uploaded
// by build() with their digest recorded, script sources are uploaded from a local file (S3,
// GCS) or put there by the user (Azure, or any of them with only a key); get_flow downloads
// the object and records its ETag and version for the run. Each cloud only says how to make
// its client (net::ObjectClient) and what its descriptor holds.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "ferry/storage/storage.hpp"
#include "net/object_client.hpp"

namespace ferry::storage {

class ObjectStorageImpl : public StorageImpl {
 public:
  // What differs between the three classes beyond the client.
  struct Traits {
    std::string key_field;  // the option that names the object: "key" or "blob_name"
    // Whether script form uploads local_script_path (S3, GCS) or never uploads (Azure).
    bool uploads_script = true;
    // The reference's error for script form without a key (and, where uploads_script,
    // without local_script_path).
    std::string missing_script_key_error;
  };

  ObjectStorageImpl(Traits traits, std::string key, std::string local_script_path);

  void build() override;
  bool has_stored(const std::string& name) const override;
  void note_source_file(const std::string& path) override;
  Value fetched_pin(const std::string& name) const override;

  const std::string& key() const { return key_; }
  const std::string& local_script_path() const { return local_script_path_; }

 protected:
  // A client for the bucket, with credentials resolved now (on this machine).
  virtual std::unique_ptr<net::ObjectClient> make_client() const = 0;
  virtual net::PutOptions put_options() const { return {}; }
  // The error for a missing object; default: the client's own message.
  virtual std::string not_found_message(const std::string& key,
                                        const net::ObjectError& error) const;

  std::string store_flow(const Flow& flow) override;
  Flow load_flow(const std::string& name, const std::string& location) override;

 private:
  Traits traits_;
  std::string key_;
  std::string local_script_path_;
  std::map<std::string, Value> pins_;  // flow name -> what the last get_flow fetched
};

}  // namespace ferry::storage
