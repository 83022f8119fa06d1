// ferry::storage::Storage: where a flow lives. The backend keeps only the serialized
// descriptor (a reference: type, locations, digests, secret names), never the code.
//
// A Storage is a handle: copies share one storage object (as flows sharing a storage do in
// the reference), so build() runs once per object however many flows use it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/result.hpp"

namespace ferry {
class Flow;
}

namespace ferry::storage {

// The interface every storage class implements. Members mirror the reference's.
class StorageImpl {
 public:
  virtual ~StorageImpl() = default;
  virtual std::string type() const = 0;

  // Records flow and returns its location; a second flow of the same name is refused:
  // `Name conflict: Flow with the name "X" is already present in this storage.`
  // (unless replaces_on_add(): then the storage forgets every earlier flow first).
  std::string add_flow(const Flow& flow);
  // Fetches and loads a flow recorded in `flows`, verifying its digest first where one was
  // recorded; an unknown name: `Flow is not contained in this storage`.
  Flow get_flow(const std::string& name);
  // Persists or uploads what add_flow recorded (a no-op where add_flow already wrote).
  virtual void build() {}
  // Whether the stored form of a recorded flow is still where the descriptor says, as far
  // as a cheap check can tell (registration re-stores an unchanged flow that went missing).
  virtual bool has_stored(const std::string& name) const { return contains(name); }
  // Whether build() itself proved every flow loads (Docker: inside the image, with the
  // image's own ferry), so registration does not load it back here, where it may not be.
  virtual bool load_checked_by_build() const { return false; }
  bool contains(std::string_view name) const { return flows.count(std::string(name)) > 0; }

  // `ferry register` tells the storage which source file the flow came from, before
  // add_flow. Script storages that upload the source use it when the user gave no path of
  // their own (Webhook's flow_script_path, S3's local_script_path, ...).
  virtual void note_source_file(const std::string& /*path*/) {}
  // Whether add_flow replaces whatever the storage held (Webhook) instead of refusing a
  // second flow of the same name.
  virtual bool replaces_on_add() const { return false; }
  // What the last get_flow(name) actually fetched, for the run's record (a commit SHA, an
  // ETag or version id, an image digest): merged into the run's pinned fields. Empty when
  // the descriptor's digest already pins it.
  virtual Value fetched_pin(const std::string& /*name*/) const { return Value::object(); }

  virtual std::vector<std::string> default_labels() const { return {}; }
  // The user's labels, plus default_labels() (deduplicated, sorted) unless
  // add_default_labels is false, in which case exactly the user's list.
  std::vector<std::string> labels() const;
  virtual Result default_result() const { return {}; }

  // The descriptor: type, flows, digests, secrets, ferry_version, and the class's fields.
  Value serialize() const;

  std::map<std::string, std::string> flows;    // flow name -> location (persisted)
  std::map<std::string, std::string> digests;  // flow name -> SHA-256 of what is stored
  std::vector<std::string> secrets;            // secret names resolved before get_flow
  std::vector<std::string> user_labels;
  bool add_default_labels = true;
  bool stored_as_script = false;

 protected:
  virtual std::string store_flow(const Flow& flow) = 0;
  virtual Flow load_flow(const std::string& name, const std::string& location) = 0;
  virtual void serialize_fields(Value& out) const = 0;
  // Flows given to add_flow in this process (never persisted; empty after deserialize).
  std::map<std::string, std::shared_ptr<Flow>> added_;
};

class Storage {
 public:
  Storage() = default;
  explicit Storage(std::shared_ptr<StorageImpl> impl) : impl_(std::move(impl)) {}

  explicit operator bool() const { return impl_ != nullptr; }
  // The class name ("Local", "S3", ...), or "" for an empty handle.
  std::string type() const { return impl_ ? impl_->type() : std::string(); }
  StorageImpl* impl() const { return impl_.get(); }
  // Whether two handles name the same storage object.
  bool same_as(const Storage& other) const { return impl_ == other.impl_; }

  std::string add_flow(const Flow& flow) { return checked().add_flow(flow); }
  Flow get_flow(const std::string& name);
  void build() { checked().build(); }
  // Whether build() itself proved every flow loads (Docker: inside the image, with the
  // image's own ferry), so registration does not load it back here, where it may not be.
  virtual bool load_checked_by_build() const { return false; }
  bool contains(std::string_view name) const { return impl_ && impl_->contains(name); }
  const std::map<std::string, std::string>& flows() const { return checked().flows; }
  std::vector<std::string> labels() const { return checked().labels(); }
  std::vector<std::string> default_labels() const { return checked().default_labels(); }
  Result default_result() const { return checked().default_result(); }
  const std::vector<std::string>& secrets() const { return checked().secrets; }
  bool stored_as_script() const { return checked().stored_as_script; }
  Value serialize() const { return checked().serialize(); }

  // Rebuilds a storage from its descriptor: `type` selects the class, unknown fields are
  // ignored, descriptors from older ferry versions load, an unknown type is a ValueError.
  static Storage deserialize(const Value& descriptor);

 protected:
  StorageImpl& checked() const;
  std::shared_ptr<StorageImpl> impl_;
};

// Adds a storage class to Storage::deserialize (each class registers itself).
using StorageFactory = std::function<std::shared_ptr<StorageImpl>(const Value& descriptor)>;
void register_storage_type(const std::string& type, StorageFactory factory);
std::vector<std::string> storage_types();

// The reference's slug: ASCII-transliterated, lower case, runs of anything but [a-z0-9]
// become one "-", no leading or trailing "-". "Über flow" -> "uber-flow".
std::string slugify(std::string_view text);
// slugify of the UTC time in ISO-8601 (microseconds only when non-zero):
// 2023-01-05T12:34:56.123456+00:00 -> "2023-01-05t12-34-56-123456-00-00".
std::string timestamp_slug(std::chrono::system_clock::time_point time);
// "<slug(name)>/<timestamp_slug(now)>".
std::string generated_location(std::string_view flow_name);

}  // namespace ferry::storage
