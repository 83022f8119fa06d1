#include <filesystem>

#include "core/files.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"
#include "ferry/result.hpp"

namespace ferry {

namespace fs = std::filesystem;

namespace {

class LocalResultImpl : public ResultImpl {
 public:
  explicit LocalResultImpl(LocalResultOptions o) : options_(std::move(o)) {
    if (options_.dir.empty()) options_.dir = (home_dir() / "results").string();
    if (options_.validate_dir) {
      fs::path dir = options_.dir;
      if (options_.dir.rfind("~/", 0) == 0) {
        const char* home = std::getenv("HOME");
        dir = fs::path(home ? home : "") / options_.dir.substr(2);
      }
      dir = fs::absolute(dir).lexically_normal();
      if (!dir.has_filename() && dir.has_relative_path()) dir = dir.parent_path();
      fs::create_directories(dir);
      options_.dir = dir.string();
    }
  }
  std::string type() const override { return "LocalResult"; }
  Value serialize() const override {
    return {{"type", type()}, {"dir", options_.dir}, {"location", options_.location}};
  }
  const std::string& location() const override { return options_.location; }
  void write(const std::string& location, const Value& value) const override {
    // A task's output is data its run needs back on a restart, so it is kept as returned
    // (secrets included, if a task returns one), in a file only its owner can read.
    detail::write_file_atomic(fs::path(options_.dir) / location, value.dump(), 0600);
  }
  std::optional<Value> read(const std::string& location) const override {
    fs::path file = fs::path(options_.dir) / location;
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return std::nullopt;
    Value v = Value::parse(detail::read_file(file), nullptr, false);
    if (v.is_discarded()) {
      throw FlowStorageError("The stored result '" + file.string() + "' is not valid JSON.");
    }
    return v;
  }
  const std::string& dir() const { return options_.dir; }

 private:
  LocalResultOptions options_;
};

const bool registered = [] {
  register_result_type("LocalResult", [](const Value& j) -> std::shared_ptr<ResultImpl> {
    return std::make_shared<LocalResultImpl>(
        LocalResultOptions{j.value("dir", std::string()), false,
                           j.value("location", std::string("{flow_run_id}/{task_name}.json"))});
  });
  return true;
}();

}  // namespace

LocalResult::LocalResult(LocalResultOptions options)
    : Result(std::make_shared<LocalResultImpl>(std::move(options))) {
  (void)registered;
}

const std::string& LocalResult::dir() const {
  return static_cast<const LocalResultImpl*>(impl())->dir();
}

}  // namespace ferry
