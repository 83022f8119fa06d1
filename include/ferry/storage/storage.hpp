// ferry::storage::Storage: where a flow lives. A Storage is a handle: copies share one
// storage object (as flows sharing a storage do in the reference), so build() runs once per
// object however many flows use it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferry/codec.hpp"

namespace ferry {
class Flow;
}

namespace ferry::storage {

// The interface every backend implements (see docs/architecture.md).
class StorageImpl {
 public:
  virtual ~StorageImpl() = default;
  virtual std::string type() const = 0;
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

 protected:
  std::shared_ptr<StorageImpl> impl_;
};

}  // namespace ferry::storage
