// Task results as JSON objects in a bucket (S3Result, AzureResult, GCSResult): the same
// location template as LocalResult, written and read through the cloud's ObjectClient.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "ferry/result.hpp"
#include "net/object_client.hpp"

namespace ferry::storage {

class ObjectResultImpl : public ResultImpl {
 public:
  explicit ObjectResultImpl(std::string location);
  const std::string& location() const override { return location_; }
  void write(const std::string& location, const Value& value) const override;
  // nullopt when no object is there yet; a stored object that is not JSON is an error.
  std::optional<Value> read(const std::string& location) const override;

 protected:
  virtual std::unique_ptr<net::ObjectClient> make_client() const = 0;

 private:
  std::string location_;
};

}  // namespace ferry::storage
