#include "ferry/storage/docker.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <set>

#include "core/digest.hpp"
#include "core/files.hpp"
#include "core/package.hpp"
#include "core/random.hpp"
#include "core/tar_writer.hpp"
#include "docker/engine_client.hpp"
#include "ferry/context.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "ferry/version.hpp"
#include "oci/image_builder.hpp"
#include "oci/image_reference.hpp"
#include "oci/registry_client.hpp"
#include "storage/descriptor_fields.hpp"
#include "storage/docker_credentials.hpp"
#include "storage/dockerfile.hpp"
#include "storage/fetched_flow.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFailedBuild =
    "Your docker image failed to build!  Your flow might have failed one of its deployment "
    "health checks - please ensure that all necessary files and dependencies have been "
    "included.";

// Advice for a flow stored as a script when its image has no compiler (at build and at run).
constexpr const char* kNoCompilerAdvice =
    "A flow stored as a script is compiled inside its image, so the image needs a C++ "
    "compiler and ferry's headers: build its base image with `ferry image build-runtime "
    "--with-compiler --tag REF` and name it in base_image.";

std::string join_registry(const std::string& registry, const std::string& image) {
  if (registry.empty()) return image;
  std::string r = registry;
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r + "/" + image;
}

void check_files_are_absolute(const std::map<std::string, std::string>& files) {
  std::vector<std::string> relative;
  for (const auto& [source, dest] : files) {
    if (!fs::path(source).is_absolute()) relative.push_back(source);
  }
  if (relative.empty()) return;
  std::string shown;
  for (const std::string& r : relative) shown += (shown.empty() ? "" : ", ") + r;
  throw ValueError("Provided paths {" + shown +
                   "} are not absolute file paths, please provide absolute paths only.");
}

docker::EngineTls engine_tls(const DockerTls& t) {
  docker::EngineTls out;
  out.enabled = t.enabled;
  out.ca_file = t.ca_file;
  out.cert_file = t.cert_file;
  out.key_file = t.key_file;
  out.verify = t.verify;
  return out;
}

std::optional<docker::RegistryAuth> engine_auth(const std::string& host,
                                                const std::string& secret_name) {
  std::optional<oci::RegistryCredentials> creds = registry_credentials(host, secret_name);
  if (!creds) return std::nullopt;
  return docker::RegistryAuth{creds->username, creds->password, host};
}

// A build folder under the system's temp folder, removed with everything in it.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "ferry-docker-build-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      throw Error("Cannot create a temporary folder for the Docker build context under " +
                  fs::temp_directory_path().string() + ".");
    }
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Build output goes to a terminal as it comes; elsewhere only failures show it (in the
// error, with the last lines).
void print_progress(const std::string& line) {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (tty) std::fprintf(stderr, "%s\n", line.c_str());
}

class DockerImpl : public StorageImpl {
 public:
  explicit DockerImpl(DockerOptions o) : o_(std::move(o)) {
    if (!o_.base_image.empty() && !o_.dockerfile.empty()) {
      throw ValueError("Only one of `base_image` and `dockerfile` can be provided.");
    }
    if (o_.builder != "engine" && o_.builder != "daemonless") {
      throw ValueError("Docker storage builder is '" + o_.builder +
                       "'; use \"engine\" (the Docker Engine API) or \"daemonless\" (append "
                       "layers in the registry, no engine).");
    }
    check_files_are_absolute(o_.files);
    if (o_.base_image.empty() && o_.dockerfile.empty()) o_.base_image = default_base_image();
    if (!o_.env_vars.count("FERRY_HOME")) o_.env_vars["FERRY_HOME"] = o_.ferry_directory;
    if (o_.base_url.empty()) o_.base_url = docker::EngineClient::default_base_url();
    if (o_.build_kwargs.is_null()) o_.build_kwargs = Value::object();
    stored_as_script = o_.stored_as_script;
    add_default_labels = o_.add_default_labels.value_or(true);
    user_labels = o_.labels;
    secrets = o_.secrets;
  }

  std::string type() const override { return "Docker"; }
  bool load_checked_by_build() const override { return true; }

  std::string name() const {
    if (o_.image_name.empty() || o_.image_tag.empty()) {
      throw ValueError("Docker storage is missing required fields image_name and image_tag");
    }
    return join_registry(o_.registry_url, o_.image_name) + ":" + o_.image_tag;
  }

  std::string pinned_image() const {
    if (image_digest_.empty()) return name();
    return join_registry(o_.registry_url, o_.image_name) + "@" + image_digest_;
  }

  const std::string& image_digest() const { return image_digest_; }
  const DockerOptions& options() const { return o_; }

  bool has_stored(const std::string& flow_name) const override {
    if (!contains(flow_name)) return false;
    try {
      if (!o_.registry_url.empty() && !image_digest_.empty()) {
        oci::ImageReference ref = oci::ImageReference::parse(pinned_image());
        oci::RegistryClient client(
            ref.registry, registry_credentials(ref.registry, o_.registry_credentials_secret));
        client.resolve_digest(ref.repository, image_digest_);
        return true;
      }
      docker::EngineClient engine(o_.base_url, engine_tls(o_.tls_config));
      return engine.inspect_image(name()).has_value();
    } catch (const std::exception&) {
      return false;
    }
  }

  Value fetched_pin(const std::string&) const override {
    Value pin = Value::object();
    if (!image_digest_.empty()) pin["image_digest"] = image_digest_;
    return pin;
  }

  void build() override {
    if (o_.image_name.empty()) {
      o_.image_name = added_.size() == 1 ? slugify(added_.begin()->first)
                                         : detail::random_hex(16, "image name");
    }
    if (o_.image_tag.empty()) o_.image_tag = timestamp_slug(std::chrono::system_clock::now());
    if (o_.builder == "daemonless") {
      build_daemonless();
    } else {
      build_with_engine();
    }
  }

  // Writes the Dockerfile and the context files into `directory`; returns the Dockerfile.
  std::string create_dockerfile(const fs::path& directory, const std::string& copy_prefix = {}) {
    DockerfileSpec spec;
    spec.base_image = o_.base_image;
    if (!o_.dockerfile.empty()) spec.dockerfile_contents = detail::read_file(o_.dockerfile);
    for (const auto& [k, v] : o_.env_vars) spec.env.emplace_back(k, v);
    spec.ferry_directory = o_.ferry_directory;
    spec.extra_commands = o_.extra_dockerfile_commands;
    spec.healthcheck = !o_.ignore_healthchecks;
    spec.script = stored_as_script;
    fs::create_directories(directory);
    if (stored_as_script) {
      if (o_.path.empty()) {
        throw ValueError(
            "A `path` must be provided to show where flow source file is stored in the image.");
      }
      spec.check_locations.push_back(o_.path);
    } else {
      for (const auto& [flow_name, flow] : added_) {
        std::string file = slugify(flow_name) + ".ferry";
        std::string package = freeze_flow(*flow);
        digests[flow_name] = detail::sha256_hex(package);
        detail::write_file_atomic(directory / file, package);
        spec.flow_copies.emplace_back(copy_prefix + file, flows.at(flow_name));
        spec.check_locations.push_back(flows.at(flow_name));
      }
    }
    for (const auto& [source, destination] : o_.files) {
      std::string base = fs::path(source).filename().string();
      fs::path target = directory / base;
      if (fs::exists(target)) {
        throw ValueError("File " + target.string() + " already exists in " + directory.string());
      }
      if (fs::is_directory(source)) {
        fs::copy(source, target, fs::copy_options::recursive);
      } else {
        fs::copy_file(source, target);
      }
      spec.file_copies.emplace_back(copy_prefix + base, destination);
    }
    std::string text = dockerfile_text(spec);
    detail::write_file_atomic(directory / "Dockerfile", text);
    return text;
  }

 protected:
  std::string store_flow(const Flow& flow) override {
    if (stored_as_script) return o_.path;
    return (fs::path(o_.ferry_directory) / "flows" / (slugify(flow.name()) + ".ferry")).string();
  }

  Flow load_flow(const std::string& flow_name, const std::string& location) override {
    std::error_code ec;
    if (!fs::is_regular_file(location, ec)) {
      std::string image = o_.image_name.empty() ? "its image" : "image " + pinned_image();
      throw FlowStorageError("Flow '" + flow_name + "' is stored in " + image + " at " + location +
                             ", which is not in this filesystem. Flows in Docker storage run "
                             "inside their image: start a Docker agent (`ferry agent docker "
                             "start`) to run them.");
    }
    if (stored_as_script) {
      try {
        return load_flow_from_source(location, flow_name);
      } catch (const CompileError& e) {
        std::string what = e.what();
        if (what.find("Install g++") == std::string::npos) throw;
        throw CompileError(what + " Image " + pinned_image() + " has no C++ compiler. " +
                           kNoCompilerAdvice);
      }
    }
    return thaw_fetched_package(detail::read_file(location), flow_name, digests,
                                "image " + pinned_image() + " at " + location);
  }

  void serialize_fields(Value& out) const override {
    out["registry_url"] = nullable(o_.registry_url);
    out["image_name"] = nullable(o_.image_name);
    out["image_tag"] = nullable(o_.image_tag);
    out["image_digest"] = nullable(image_digest_);
    out["path"] = nullable(o_.path);
    out["stored_as_script"] = stored_as_script;
    out["ferry_directory"] = o_.ferry_directory;
    out["registry_credentials_secret"] = nullable(o_.registry_credentials_secret);
  }

 private:
  void build_with_engine() {
    docker::EngineClient engine(o_.base_url, engine_tls(o_.tls_config));
    engine.ping();
    if (!o_.base_image.empty() && !o_.local_image) {
      oci::ImageReference base = oci::ImageReference::parse(o_.base_image);
      engine.pull_image(base.registry + "/" + base.repository,
                        base.digest.empty() ? base.tag : base.digest,
                        engine_auth(base.registry, o_.registry_credentials_secret), print_progress);
    }
    std::string full = join_registry(o_.registry_url, o_.image_name);
    if (o_.registry_url.empty()) {
      logger().warning("This Docker storage object has no `registry_url`, and will not be pushed.");
    }

    // The context: the Dockerfile's own folder when the user gave one (its COPY lines keep
    // working), with ferry's files in a subfolder; else a fresh folder.
    ScratchDir scratch;
    fs::path context = scratch.path;
    std::string prefix;
    fs::path generated = context;
    if (!o_.dockerfile.empty()) {
      context = fs::absolute(o_.dockerfile).parent_path();
      prefix = ".ferry-build-" + detail::random_hex(8, "build folder") + "/";
      generated = context / prefix;
    }
    struct Cleanup {
      fs::path dir;
      bool active;
      ~Cleanup() {
        std::error_code ec;
        if (active) fs::remove_all(dir, ec);
      }
    } cleanup{generated, !prefix.empty()};
    create_dockerfile(generated, prefix);

    detail::TarWriter tar;
    std::vector<fs::path> children;
    for (const auto& entry : fs::directory_iterator(context)) children.push_back(entry.path());
    std::sort(children.begin(), children.end());
    for (const fs::path& child : children) tar.add_path(child.filename().string(), child);

    docker::BuildOptions build;
    build.tag = full + ":" + o_.image_tag;
    build.dockerfile = prefix + "Dockerfile";
    Value extra = o_.build_kwargs;
    if (extra.contains("rm")) {
      build.rm = extra["rm"].is_boolean() ? extra["rm"].get<bool>() : true;
      extra.erase("rm");
    }
    build.extra = extra;
    docker::BuildResult result = engine.build(tar.finish(), build, print_progress);
    if (!engine.inspect_image(build.tag)) {
      std::string tail;
      for (const std::string& line : result.last_lines) tail += "\n  " + line;
      // The build ran in the engine: its log is all there is to tell a missing compiler by.
      const bool no_compiler = stored_as_script && tail.find("compiler") != std::string::npos;
      throw ValueError(std::string(kFailedBuild) +
                       (tail.empty() ? "" : "\nLast lines of the build:" + tail) +
                       (no_compiler ? std::string("\n") + kNoCompilerAdvice : ""));
    }
    if (!o_.registry_url.empty()) {
      oci::ImageReference target = oci::ImageReference::parse(build.tag);
      image_digest_ = engine.push_image(
          full, o_.image_tag, engine_auth(target.registry, o_.registry_credentials_secret),
          print_progress);
      if (image_digest_.empty()) {
        oci::RegistryClient client(
            target.registry, registry_credentials(target.registry, o_.registry_credentials_secret));
        image_digest_ = client.resolve_digest(target.repository, o_.image_tag);
      }
      engine.remove_image(build.tag, /*force=*/true);
    }
  }

  void build_daemonless() {
    if (o_.registry_url.empty()) {
      throw ValueError(
          "The daemonless builder writes the image straight into a registry: set registry_url "
          "(or use builder = \"engine\" to keep the image in a local Docker engine).");
    }
    if (!o_.dockerfile.empty() || !o_.extra_dockerfile_commands.empty()) {
      throw ValueError(
          "The daemonless builder only adds files to the base image; it cannot run a "
          "Dockerfile or extra_dockerfile_commands. Drop them, or use builder = \"engine\" "
          "with a Docker engine.");
    }
    oci::AppendSpec spec;
    spec.base = oci::ImageReference::parse(o_.base_image);
    spec.target = oci::ImageReference::parse(name());
    for (const auto& [k, v] : o_.env_vars) spec.env.emplace_back(k, v);
    std::map<std::string, std::string> packages;  // location -> bytes, for the health check
    if (stored_as_script) {
      if (o_.path.empty()) {
        throw ValueError(
            "A `path` must be provided to show where flow source file is stored in the image.");
      }
    } else {
      for (const auto& [flow_name, flow] : added_) {
        std::string package = freeze_flow(*flow);
        digests[flow_name] = detail::sha256_hex(package);
        packages[flows.at(flow_name)] = package;
        spec.files.push_back({flows.at(flow_name), package, "", 0644});
      }
    }
    std::string script_source;
    for (const auto& [source, destination] : o_.files) {
      std::string in_image = destination;
      if (!in_image.empty() && in_image.front() != '/') in_image = "/" + in_image;
      if (stored_as_script && (destination == o_.path || in_image == o_.path))
        script_source = source;
      spec.files.push_back({in_image, "", source, 0644});
    }
    // No engine to run the image's ferry: the health check loads every flow here instead.
    if (!o_.ignore_healthchecks) {
      if (stored_as_script) {
        if (script_source.empty()) {
          throw ValueError("Script form: no entry of `files` puts a flow source at path '" +
                           o_.path + "' in the image.");
        }
        for (const auto& [flow_name, flow] : added_)
          load_flow_from_source(script_source, flow_name);
      } else {
        for (const auto& [location, bytes] : packages) {
          detail::thaw_package(bytes, location, detail::PackageBytes::Unverified);
        }
      }
    }
    oci::RegistryClient base(
        spec.base->registry,
        registry_credentials(spec.base->registry, o_.registry_credentials_secret));
    oci::RegistryClient target(
        spec.target.registry,
        registry_credentials(spec.target.registry, o_.registry_credentials_secret));
    image_digest_ = oci::append_image(base, target, spec).digest;
  }

  DockerOptions o_;
  std::string image_digest_;

  friend std::shared_ptr<StorageImpl> docker_from_descriptor(const Value& d);
};

std::shared_ptr<StorageImpl> docker_from_descriptor(const Value& d) {
  DockerOptions o;
  o.registry_url = string_field(d, "registry_url");
  o.image_name = string_field(d, "image_name");
  o.image_tag = string_field(d, "image_tag");
  o.path = string_field(d, "path");
  o.stored_as_script = d.value("stored_as_script", false);
  if (d.contains("ferry_directory") && d["ferry_directory"].is_string()) {
    o.ferry_directory = d["ferry_directory"];
  }
  o.registry_credentials_secret = string_field(d, "registry_credentials_secret");
  auto impl = std::make_shared<DockerImpl>(std::move(o));
  impl->image_digest_ = string_field(d, "image_digest");
  return impl;
}

const bool registered = [] {
  register_storage_type("Docker", docker_from_descriptor);
  return true;
}();

}  // namespace

std::string default_base_image() {
  const char* env = std::getenv("FERRY_RUNTIME_IMAGE");
  if (env && *env) return env;
  return std::string("ferry-runtime:") + FERRY_VERSION;
}

Docker::Docker(DockerOptions options) : Storage(std::make_shared<DockerImpl>(std::move(options))) {
  (void)registered;
}

std::string Docker::name() const { return static_cast<const DockerImpl&>(checked()).name(); }

const std::string& Docker::image_digest() const {
  return static_cast<const DockerImpl&>(checked()).image_digest();
}

std::string Docker::pinned_image() const {
  return static_cast<const DockerImpl&>(checked()).pinned_image();
}

const DockerOptions& Docker::options() const {
  return static_cast<const DockerImpl&>(checked()).options();
}

std::string Docker::create_dockerfile(const std::string& directory) const {
  return static_cast<DockerImpl&>(checked()).create_dockerfile(directory);
}

}  // namespace ferry::storage
