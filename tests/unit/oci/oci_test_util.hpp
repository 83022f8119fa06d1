// Helpers for the OCI tests: environment overrides, caught messages, gzip -dc.
#pragma once

#include <cstdlib>
#include <functional>
#include <string>

#include "support/test_support.hpp"

namespace ferry::oci::testing {

// Sets (or unsets, with nullptr) an environment variable for the object's lifetime.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* prev = std::getenv(name_.c_str())) {
      had_ = true;
      previous_ = prev;
    }
    value ? ::setenv(name_.c_str(), value, 1) : ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() { had_ ? ::setenv(name_.c_str(), previous_.c_str(), 1) : ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::string previous_;
  bool had_ = false;
};

// The message of what `f` throws (a ferry::Error or other std::exception), or "<no exception>".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

// gzip's own decompression, to check the builder's diff_ids independently of it.
inline std::string gzip_dc(const std::string& gz) {
  test::TempDir dir;
  test::write_text(dir / "layer.tar.gz", gz);
  test::CommandResult r = test::run_command({"gzip", "-dc", (dir / "layer.tar.gz").string()});
  if (r.exit_code != 0) throw std::runtime_error("gzip -dc failed: " + r.err);
  return r.out;
}

// `tar -tzf` of a layer: its entry names, one a line.
inline std::string tar_listing(const std::string& gz) {
  test::TempDir dir;
  test::write_text(dir / "layer.tar.gz", gz);
  test::CommandResult r = test::run_command({"tar", "-tzf", (dir / "layer.tar.gz").string()});
  if (r.exit_code != 0) throw std::runtime_error("tar -tzf failed: " + r.err);
  return r.out;
}

}  // namespace ferry::oci::testing
