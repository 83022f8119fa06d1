// ferry::Result: where task results are persisted, so a run that is started again (after
// its agent was lost, say) reads back what its tasks already computed.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "ferry/codec.hpp"

namespace ferry {

class ResultImpl {
 public:
  virtual ~ResultImpl() = default;
  virtual std::string type() const = 0;
  virtual Value serialize() const = 0;
  // The location template, with {flow_run_id}, {flow_name}, {task_name} and {map_index}.
  virtual const std::string& location() const = 0;
  virtual void write(const std::string& location, const Value& value) const = 0;
  virtual std::optional<Value> read(const std::string& location) const = 0;
};

// A handle; copies share one result object. Empty: results are not persisted.
class Result {
 public:
  Result() = default;
  explicit Result(std::shared_ptr<ResultImpl> impl) : impl_(std::move(impl)) {}
  explicit operator bool() const { return impl_ != nullptr; }
  std::string type() const { return impl_ ? impl_->type() : std::string(); }
  Value serialize() const { return impl_ ? impl_->serialize() : Value(); }
  // Rebuilds a result from serialize()'s output (null gives an empty Result).
  static Result deserialize(const Value& json);

  // The location for one task of one run (map_index -1: not a mapped task).
  std::string location_for(const std::string& flow_run_id, const std::string& flow_name,
                           const std::string& task_name, int map_index = -1) const;
  void write(const std::string& location, const Value& value) const;
  std::optional<Value> read(const std::string& location) const;
  ResultImpl* impl() const { return impl_.get(); }

 private:
  std::shared_ptr<ResultImpl> impl_;
};

// Adds a result class to Result::deserialize (each class registers itself).
using ResultFactory = std::shared_ptr<ResultImpl> (*)(const Value& json);
void register_result_type(const std::string& type, ResultFactory factory);

struct LocalResultOptions {
  std::string dir{};           // default $FERRY_HOME/results
  bool validate_dir = true;  // make it absolute and create it
  std::string location = "{flow_run_id}/{task_name}.json";
};

// Results as JSON files under a folder (written atomically).
class LocalResult : public Result {
 public:
  explicit LocalResult(LocalResultOptions options = {});
  const std::string& dir() const;
};

}  // namespace ferry
