#include "image/runtime_image.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "core/process.hpp"
#include "core/toolchain.hpp"
#include "ferry/error.hpp"
#include "ferry/version.hpp"
#include "image/debian_packages.hpp"
#include "oci/image_reference.hpp"
#include "oci/registry_client.hpp"
#include "storage/docker_credentials.hpp"

namespace ferry::image {

namespace fs = std::filesystem;

namespace {

// The shared libraries `ldd` resolves for `binary`, plus its ELF interpreter.
std::vector<std::string> shared_libraries(const std::string& binary) {
  detail::ProcessResult r = detail::run_process({"ldd", binary});
  if (r.exit_code != 0) {
    throw Error("`ldd " + binary + "` failed (exit code " + std::to_string(r.exit_code) +
                "): cannot list the libraries the runtime image needs. " + r.output);
  }
  std::vector<std::string> libs;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    auto arrow = line.find("=> ");
    std::string path;
    if (arrow != std::string::npos) {
      path = line.substr(arrow + 3);
    } else {
      auto start = line.find_first_not_of(" \t");
      if (start == std::string::npos) continue;
      path = line.substr(start);
    }
    path = path.substr(0, path.find(" ("));
    if (!path.empty() && path.front() == '/') libs.push_back(path);
  }
  return libs;
}

// The path the loader opened the library under (its soname's link, not the file it points
// to): the name its users need.
std::string loaded_path_of(const void* symbol) {
  Dl_info info{};
  if (::dladdr(symbol, &info) == 0 || !info.dli_fname) return {};
  return fs::absolute(info.dli_fname).string();
}

std::string libcurl_path() {
  // libcurl is loaded on demand (net/curl_api): find it the way the dynamic loader will.
  void* handle = ::dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
  if (!handle) throw Error("libcurl.so.4 is not installed: apt-get install libcurl4");
  void* symbol = ::dlsym(handle, "curl_easy_init");
  std::string path = loaded_path_of(symbol);
  ::dlclose(handle);
  return path;
}

// Collects layer entries, the first one for a path winning, and the libraries their
// executables need.
class LayerFiles {
 public:
  void add(oci::LayerEntry entry) {
    std::string path = fs::path(entry.path_in_image).lexically_normal().string();
    if (paths_.insert(path).second) entries_.push_back(std::move(entry));
  }
  // `binary` at `path_in_image`, and every library ldd resolves for it (at their own paths).
  void add_executable(const std::string& path_in_image, const std::string& binary) {
    add({path_in_image, "", binary, 0755});
    for (const std::string& lib : shared_libraries(binary)) libs_.insert(lib);
  }
  std::set<std::string>& libraries() { return libs_; }
  std::vector<oci::LayerEntry> take() { return std::move(entries_); }

 private:
  std::vector<oci::LayerEntry> entries_;
  std::set<std::string> paths_;
  std::set<std::string> libs_;
};

const char* const kCompiler = "/usr/bin/g++";
const char* const kIncludeDir = "/usr/local/include";

// g++ and what it needs, from this machine's Debian packages, plus ferry's headers.
void add_compiler(LayerFiles& files, const std::string& libferry_in_image) {
  // nlohmann-json: ferry's public headers include it.
  for (const std::string& package : installed_dependency_closure({"g++", "nlohmann-json3-dev"})) {
    for (const std::string& path : package_files(package)) files.add({path, "", path, 0644});
  }
  fs::path headers = detail::include_dir() / "ferry";
  if (!fs::exists(headers / "ferry.hpp")) {
    throw Error("ferry's headers are not at " + headers.string() +
                ": set FERRY_INCLUDE_DIR to the folder that holds ferry/ferry.hpp.");
  }
  files.add({std::string(kIncludeDir) + "/ferry", "", headers.string(), 0644});
  // The link name `-lferry` looks for, beside the library itself.
  fs::path lib(libferry_in_image);
  files.add({(lib.parent_path() / "libferry.so").string(), "", "", 0644, lib.filename().string()});
}

}  // namespace

std::vector<oci::LayerEntry> runtime_files(const RuntimeImageOptions& options) {
  std::string self = fs::canonical("/proc/self/exe").string();
  std::string libferry = loaded_path_of(reinterpret_cast<const void*>(&runtime_files));
  std::string curl = libcurl_path();

  LayerFiles files;
  files.add_executable("/usr/local/bin/ferry", self);
  files.add_executable("/bin/sh", fs::canonical("/bin/sh").string());
  for (const std::string& lib : shared_libraries(libferry)) files.libraries().insert(lib);
  for (const std::string& lib : shared_libraries(curl)) files.libraries().insert(lib);
  files.libraries().insert(curl);
  // The few tools Dockerfile steps (RUN mkdir -p ...) and users at a shell in the image expect.
  for (const char* tool : {"mkdir", "cat", "ls", "cp", "mv", "rm", "ln", "chmod", "env", "echo"}) {
    fs::path path = fs::path("/bin") / tool;
    std::error_code ec;
    if (fs::exists(path, ec)) files.add_executable(path.string(), fs::canonical(path).string());
  }
  for (const std::string& binary : options.binaries) {
    std::error_code ec;
    if (!fs::is_regular_file(binary, ec) || ::access(binary.c_str(), X_OK) != 0) {
      throw ValueError("Cannot add '" + binary + "' to the image: it is not an executable file " +
                       "on this machine. Give the absolute path of an installed program.");
    }
    files.add_executable(fs::absolute(binary).lexically_normal().string(),
                         fs::canonical(binary).string());
  }
  // libferry goes beside libc, a folder the loader searches by default: the build's RUNPATH
  // means nothing in the image.
  std::string lib_dir = "/lib";
  for (const std::string& lib : files.libraries()) {
    if (fs::path(lib).filename() == "libc.so.6") lib_dir = fs::path(lib).parent_path().string();
  }
  std::string libferry_in_image = lib_dir + "/" + fs::path(libferry).filename().string();
  files.add({libferry_in_image, "", fs::canonical(libferry).string(), 0755});
  for (const std::string& lib : files.libraries()) {
    if (fs::canonical(lib) != fs::canonical(libferry)) {
      files.add({lib, "", fs::canonical(lib).string(), 0755});
    }
  }
  if (options.with_compiler) add_compiler(files, libferry_in_image);
  if (fs::exists("/etc/ssl/certs/ca-certificates.crt")) {
    files.add(
        {"/etc/ssl/certs/ca-certificates.crt", "", "/etc/ssl/certs/ca-certificates.crt", 0644});
  }
  // Who root is: ssh (Git storage over ssh) finds ~/.ssh through the password database.
  files.add({"/etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
             "", 0644});
  files.add({"/etc/group", "root:x:0:\nnogroup:x:65534:\n", "", 0644});
  // Folders a run writes to: FERRY_HOME (the module cache), the temp folder, root's home.
  files.add({"/opt/ferry/.keep", "", "", 0644});
  files.add({"/tmp/.keep", "", "", 0644});
  files.add({"/root/.keep", "", "", 0644});
  return files.take();
}

std::vector<std::pair<std::string, std::string>> runtime_env(const RuntimeImageOptions& options) {
  std::vector<std::pair<std::string, std::string>> env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                                          {"HOME", "/root"},
                                                          {"FERRY_HOME", "/opt/ferry"},
                                                          {"FERRY_VERSION", FERRY_VERSION}};
  if (options.with_compiler) {
    env.emplace_back("FERRY_CXX", kCompiler);
    env.emplace_back("FERRY_INCLUDE_DIR", kIncludeDir);
  }
  return env;
}

std::string build_runtime_image(const std::string& target, const std::string& credentials_secret,
                                const RuntimeImageOptions& options) {
  oci::AppendSpec spec;
  spec.target = oci::ImageReference::parse(target);
  spec.files = runtime_files(options);
  spec.env = runtime_env(options);
  spec.cmd = {"ferry", "--help"};
  spec.labels = {{"org.opencontainers.image.title", "ferry runtime"},
                 {"org.opencontainers.image.version", FERRY_VERSION}};
  if (options.with_compiler) spec.labels["org.ferry.compiler"] = kCompiler;
  oci::RegistryClient registry(spec.target.registry, storage::registry_credentials(
                                                         spec.target.registry, credentials_secret));
  return oci::append_image(registry, registry, spec).digest;
}

}  // namespace ferry::image
