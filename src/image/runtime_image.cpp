#include "image/runtime_image.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "core/process.hpp"
#include "ferry/error.hpp"
#include "ferry/version.hpp"
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

}  // namespace

std::vector<oci::LayerEntry> runtime_files() {
  std::string self = fs::canonical("/proc/self/exe").string();
  std::string libferry = loaded_path_of(reinterpret_cast<const void*>(&runtime_files));
  std::string curl = libcurl_path();
  std::string shell = fs::canonical("/bin/sh").string();

  std::vector<oci::LayerEntry> files;
  files.push_back({"/usr/local/bin/ferry", "", self, 0755});
  files.push_back({"/bin/sh", "", shell, 0755});
  // The few tools Dockerfile steps (RUN mkdir -p ...) and users at a shell in the image expect.
  std::vector<std::string> binaries = {self, libferry, curl, shell};
  for (const char* tool : {"mkdir", "cat", "ls", "cp", "mv", "rm", "ln", "chmod", "env", "echo"}) {
    fs::path path = fs::path("/bin") / tool;
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;
    std::string real = fs::canonical(path).string();
    files.push_back({path.string(), "", real, 0755});
    binaries.push_back(real);
  }
  std::set<std::string> libs;
  for (const std::string& binary : binaries) {
    for (const std::string& lib : shared_libraries(binary)) {
      if (lib != libferry && fs::canonical(lib) != fs::canonical(libferry)) libs.insert(lib);
    }
  }
  libs.insert(curl);
  // libferry goes beside libc, a folder the loader searches by default: the build's RUNPATH
  // means nothing in the image.
  std::string lib_dir = "/lib";
  for (const std::string& lib : libs) {
    if (fs::path(lib).filename() == "libc.so.6") lib_dir = fs::path(lib).parent_path().string();
  }
  files.push_back({lib_dir + "/" + fs::path(libferry).filename().string(), "",
                   fs::canonical(libferry).string(), 0755});
  for (const std::string& lib : libs) files.push_back({lib, "", fs::canonical(lib).string(), 0755});
  if (fs::exists("/etc/ssl/certs/ca-certificates.crt")) {
    files.push_back(
        {"/etc/ssl/certs/ca-certificates.crt", "", "/etc/ssl/certs/ca-certificates.crt", 0644});
  }
  // Folders a run writes to: FERRY_HOME (the module cache) and the temp folder.
  files.push_back({"/opt/ferry/.keep", "", "", 0644});
  files.push_back({"/tmp/.keep", "", "", 0644});
  return files;
}

std::string build_runtime_image(const std::string& target, const std::string& credentials_secret) {
  oci::AppendSpec spec;
  spec.target = oci::ImageReference::parse(target);
  spec.files = runtime_files();
  spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
              {"FERRY_HOME", "/opt/ferry"},
              {"FERRY_VERSION", FERRY_VERSION}};
  spec.cmd = {"ferry", "--help"};
  spec.labels = {{"org.opencontainers.image.title", "ferry runtime"},
                 {"org.opencontainers.image.version", FERRY_VERSION}};
  oci::RegistryClient registry(spec.target.registry, storage::registry_credentials(
                                                         spec.target.registry, credentials_secret));
  return oci::append_image(registry, registry, spec).digest;
}

}  // namespace ferry::image
