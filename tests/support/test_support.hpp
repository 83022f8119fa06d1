// Helpers shared by the unit and end-to-end tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::test {

// A fresh temporary folder, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Sets FERRY_HOME to a fresh temporary folder for the object's lifetime.
class ScopedFerryHome {
 public:
  ScopedFerryHome();
  ~ScopedFerryHome();
  const std::filesystem::path& path() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string previous_;
  bool had_previous_ = false;
};

void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);

// A path under tests/fixtures.
std::filesystem::path fixture(const std::string& name);

// A flow module cache shared by the tests of one test binary, so each fixture source is
// compiled once per test run rather than once per test.
std::filesystem::path shared_module_cache();

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a program with arguments (no shell); extra_env entries are NAME=VALUE.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env = {});

}  // namespace ferry::test
