// Compiling a flow source into a cached flow module.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/digest.hpp"
#include "core/files.hpp"
#include "core/process.hpp"
#include "core/toolchain.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_flags(const std::string& flags) {
  std::vector<std::string> out;
  std::istringstream in(flags);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

// Hashes the headers a file includes with quotes from beside it, recursively: editing a
// sibling header must give a new module.
void hash_local_includes(const fs::path& file, const std::string& text, detail::Sha256& sha,
                         std::set<fs::path>& seen) {
  static const std::regex include_re(R"(^\s*#\s*include\s*\"([^\"]+)\")");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, include_re)) continue;
    fs::path header = (file.parent_path() / m[1].str()).lexically_normal();
    std::error_code ec;
    if (!fs::is_regular_file(header, ec) || !seen.insert(header).second) continue;
    std::string body = detail::read_file(header);
    sha.field(m[1].str()).field(body);
    hash_local_includes(header, body, sha, seen);
  }
}

}  // namespace

CompiledModule compile_flow_source(const fs::path& source, const CompileOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(source, ec)) {
    throw ValueError("Flow source '" + source.string() + "' does not exist or is not a file.");
  }
  fs::path abs_source = fs::absolute(source).lexically_normal();
  std::string cxx = options.cxx.empty() ? detail::default_compiler() : options.cxx;
  std::string flags = options.cxxflags.empty() ? detail::default_cxxflags() : options.cxxflags;
  fs::path cache = options.cache.empty() ? cache_dir() / "modules" : options.cache;
  fs::path include = detail::include_dir();
  fs::path libdir = detail::library_dir();

  std::string text = detail::read_file(abs_source);
  detail::Sha256 sha;
  sha.field("ferry-module-v1").field(FERRY_VERSION).field(std::to_string(FERRY_MODULE_ABI));
  sha.field(detail::compiler_identity(cxx)).field(flags);
  sha.field(include.string()).field(libdir.string()).field(detail::headers_digest());
  sha.field(text);
  std::set<fs::path> seen;
  hash_local_includes(abs_source, text, sha, seen);

  CompiledModule out;
  out.key = sha.hex();
  out.path = cache / (out.key + ".so");
  if (fs::exists(out.path, ec)) {
    out.cache_hit = true;
    return out;
  }

  // Two processes compiling the same source: the second waits, then finds the module.
  detail::FileLock lock(cache / (out.key + ".lock"));
  if (fs::exists(out.path, ec)) {
    out.cache_hit = true;
    return out;
  }
  fs::path tmp = out.path;
  tmp += ".tmp." + std::to_string(::getpid());
  std::vector<std::string> argv{cxx, "-std=c++20", "-fPIC", "-shared"};
  for (std::string& f : split_flags(flags)) argv.push_back(std::move(f));
  argv.insert(argv.end(), {"-I" + include.string(), "-o", tmp.string(), abs_source.string(),
                           "-L" + libdir.string(), "-Wl,-rpath," + libdir.string(), "-lferry"});
  if (options.progress) std::fprintf(stderr, "Compiling %s ...\n", source.c_str());
  detail::ProcessResult result = detail::run_process(argv);
  if (result.exit_code != 0) {
    fs::remove(tmp, ec);
    throw CompileError("Failed to compile flow source '" + source.string() + "' (" + cxx +
                       " exited with " + std::to_string(result.exit_code) + "):\n" + result.output);
  }
  fs::rename(tmp, out.path);
  return out;
}

}  // namespace ferry
