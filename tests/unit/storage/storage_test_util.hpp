// Helpers shared by the storage tests (header only: tests/CMakeLists.txt globs .cpp files).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "support/test_support.hpp"

namespace ferry::storage_test {

namespace fs = std::filesystem;

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Compiles into the binary's shared module cache, so each fixture compiles once per run.
inline CompileOptions shared_cache() {
  CompileOptions o;
  o.cache = test::shared_module_cache();
  return o;
}

inline Flow fixture_flow(const std::string& fixture_name, const std::string& flow_name) {
  return load_flow_from_source(test::fixture(fixture_name), flow_name, shared_cache());
}

// The compiled shared object of a fixture source.
inline fs::path compiled_fixture(const std::string& fixture_name) {
  return compile_flow_source(test::fixture(fixture_name), shared_cache()).path;
}

// Code that loads a flow source with default CompileOptions compiles into
// $FERRY_HOME/cache/modules; point that at the shared cache so it is a hit there too.
inline void share_module_cache(const fs::path& ferry_home) {
  fs::create_directories(ferry_home / "cache");
  fs::create_directory_symlink(test::shared_module_cache(), ferry_home / "cache" / "modules");
}

// The message of the exception of type E that f throws; a marker string when f throws
// nothing or something else, so assertions on the text fail visibly.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<wrong exception type: ") + e.what() + ">";
  } catch (...) {
    return "<non-std exception>";
  }
  return "<no exception>";
}

// Sets (or unsets, with nullptr) an environment variable for the object's lifetime.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* prev = std::getenv(name_.c_str())) {
      had_ = true;
      previous_ = prev;
    }
    if (value) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_.c_str(), previous_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::string previous_;
  bool had_ = false;
};

// Changes the working directory for the object's lifetime.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : previous_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() {
    std::error_code ec;
    fs::current_path(previous_, ec);
  }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  fs::path previous_;
};

// Every regular file below dir (recursively).
inline std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

// Every entry (file, folder, link) directly in dir.
inline std::vector<fs::path> entries_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

inline std::string current_utc_year() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return std::to_string(tm.tm_year + 1900);
}

inline std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) throw std::runtime_error("gethostname failed");
  return name;
}

inline bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Log records go nowhere, to keep test output readable.
inline RunOptions quiet_run() {
  RunOptions o;
  o.on_log = [](const LogRecord&) {};
  return o;
}

// Runs a parameterless flow quietly; a failed run fails the test (its result is returned).
inline Value run_result(const Flow& flow) {
  RunResult r = flow.run(Value::object(), quiet_run());
  EXPECT_TRUE(r.ok()) << r.message;
  return r.result;
}

}  // namespace ferry::storage_test
