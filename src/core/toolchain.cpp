#include "core/toolchain.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "build_config.hpp"
#include "core/digest.hpp"
#include "core/files.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry {

namespace fs = std::filesystem;

fs::path home_dir() {
  if (const char* home = std::getenv("FERRY_HOME"); home && *home) return fs::path(home);
  const char* user_home = std::getenv("HOME");
  return fs::path(user_home && *user_home ? user_home : "/tmp") / ".ferry";
}

fs::path cache_dir() { return home_dir() / "cache"; }

namespace detail {

fs::path library_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&library_dir), &info) && info.dli_fname) {
    std::error_code ec;
    fs::path p = fs::canonical(info.dli_fname, ec);
    if (!ec) return p.parent_path();
  }
  return {};
}

fs::path include_dir() {
  if (const char* env = std::getenv("FERRY_INCLUDE_DIR"); env && *env) return fs::path(env);
  static const fs::path resolved = [] {
    fs::path installed = (library_dir() / FERRY_LIB_TO_INCLUDE).lexically_normal();
    if (fs::exists(installed / "ferry" / "ferry.hpp")) return installed;
    return fs::path(FERRY_SOURCE_INCLUDE_DIR);
  }();
  return resolved;
}

std::string default_compiler() {
  if (const char* env = std::getenv("FERRY_CXX"); env && *env) return env;
  if (fs::exists(FERRY_BUILD_CXX)) return FERRY_BUILD_CXX;
  return "c++";
}

std::string default_cxxflags() {
  if (const char* env = std::getenv("FERRY_CXXFLAGS")) return env;
  return "-O2";
}

std::string compiler_identity(const std::string& compiler) {
  fs::path found = compiler;
  if (compiler.find('/') == std::string::npos) {
    const char* path_env = std::getenv("PATH");
    std::string path = path_env ? path_env : "/usr/bin:/bin";
    std::size_t start = 0;
    found.clear();
    while (start <= path.size()) {
      std::size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      fs::path candidate = fs::path(path.substr(start, end - start)) / compiler;
      if (::access(candidate.c_str(), X_OK) == 0) {
        found = candidate;
        break;
      }
      start = end + 1;
    }
    if (found.empty()) {
      throw CompileError("The C++ compiler '" + compiler +
                         "' was not found on PATH. Install g++ or set FERRY_CXX to a compiler.");
    }
  }
  std::error_code ec;
  fs::path real = fs::canonical(found, ec);
  struct stat st {};
  if (ec || ::stat(real.c_str(), &st) != 0) {
    throw CompileError("The C++ compiler '" + compiler +
                       "' does not exist. Install g++ or set FERRY_CXX to a compiler.");
  }
  return real.string() + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

const std::string& headers_digest() {
  static const std::string digest = [] {
    fs::path root = include_dir() / "ferry";
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    Sha256 sha;
    for (const fs::path& f : files) {
      sha.field(f.lexically_relative(root).string()).field(read_file(f));
    }
    return sha.hex();
  }();
  return digest;
}

}  // namespace detail
}  // namespace ferry
