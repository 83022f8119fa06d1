// Helpers shared by the S3, Azure and GCS storage tests (header only: tests/CMakeLists.txt
// globs .cpp files): one fixture source for all of them, a per-test FERRY_HOME whose module
// cache is the binary's shared one, and names for buckets.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"
#include "support/test_support.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace ferry::object_storage_test {

// One fixture source for every test here, so the binary compiles a single module (script
// form uploads this very file, so compiling the fetched copy is a cache hit too).
constexpr const char* kFixture = "storage/named_flows.cpp";

inline Flow test_flow() { return storage_test::fixture_flow(kFixture, "test"); }       // runs to 43
inline Flow uber_flow() { return storage_test::fixture_flow(kFixture, "Über flow"); }  // 42
inline std::string fixture_path() { return test::fixture(kFixture).string(); }

// The flow's result (the fixture's flows have one terminal task), or -1 when it failed.
inline int run_answer(const Flow& flow) {
  RunResult r = flow.run(Value::object(), storage_test::quiet_run());
  EXPECT_TRUE(r.ok()) << r.message;
  return r.ok() && r.result.is_number_integer() ? r.result.get<int>() : -1;
}

// A bucket / container name of 3-63 lower-case letters, digits and '-', unique per call:
// "<prefix><test name>-<random>".
inline std::string unique_bucket(const std::string& prefix) {
  std::string name = prefix;
  for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    if (std::isalnum(static_cast<unsigned char>(c)) && name.size() < 48) {
      name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  std::random_device device;
  std::mt19937_64 engine(device());
  name += "-";
  for (int i = 0; i < 8; ++i) name += "abcdefghijklmnopqrstuvwxyz0123456789"[engine() % 36];
  return name;
}

// Environment variables set (or unset, with nullptr) for the object's lifetime; restored in
// reverse order, so setting one variable twice restores its original value.
class ScopedEnvs {
 public:
  ScopedEnvs() = default;
  ScopedEnvs(const ScopedEnvs&) = delete;
  ScopedEnvs& operator=(const ScopedEnvs&) = delete;
  ~ScopedEnvs() {
    while (!vars_.empty()) vars_.pop_back();
  }
  void set(const std::string& name, const char* value) {
    vars_.push_back(std::make_unique<storage_test::ScopedEnv>(name, value));
  }
  void set(const std::string& name, const std::string& value) { set(name, value.c_str()); }

 private:
  std::vector<std::unique_ptr<storage_test::ScopedEnv>> vars_;
};

// Every test gets its own FERRY_HOME (secret store, caches) whose module cache is the
// binary's shared one; the fixture is compiled once, before the first test of the suite.
class ObjectStorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { storage_test::compiled_fixture(kFixture); }
  void SetUp() override { storage_test::share_module_cache(home_.path()); }

  test::ScopedFerryHome home_;
  ScopedEnvs env_;
};

}  // namespace ferry::object_storage_test
