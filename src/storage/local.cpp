#include "ferry/storage/local.hpp"

#include <unistd.h>

#include <filesystem>

#include "core/digest.hpp"
#include "core/files.hpp"
#include "core/package.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "storage/hostname.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;

namespace {

// Like Python's os.path.abspath: absolute, normalized, no trailing separator.
fs::path absolute_path(const fs::path& p) {
  fs::path out = fs::absolute(p).lexically_normal();
  if (!out.has_filename() && out.has_relative_path()) out = out.parent_path();
  return out;
}

fs::path expand_user(const std::string& p) {
  if (p == "~" || p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return fs::path(home ? home : "") / (p.size() > 2 ? p.substr(2) : "");
  }
  return p;
}

bool inside(const fs::path& dir, const fs::path& root) {
  fs::path rel = dir.lexically_normal().lexically_relative(root.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

class LocalImpl : public StorageImpl {
 public:
  explicit LocalImpl(LocalOptions o) : validate_(o.validate), path_(std::move(o.path)) {
    directory_ = o.directory.empty() ? (home_dir() / "flows").string() : o.directory;
    if (validate_) {
      fs::path dir = absolute_path(expand_user(directory_));
      fs::create_directories(dir);
      directory_ = dir.string();
      if (!path_.empty()) path_ = absolute_path(expand_user(path_)).string();
    }
    stored_as_script = o.stored_as_script;
    add_default_labels = o.add_default_labels.value_or(true);
    user_labels = std::move(o.labels);
    secrets = std::move(o.secrets);
  }

  std::string type() const override { return "Local"; }
  std::vector<std::string> default_labels() const override {
    if (!add_default_labels) return {};
    return {local_hostname()};
  }

  Result default_result() const override {
    // The reference's LocalResult rule: inside FERRY_HOME, results go to
    // $FERRY_HOME/results; elsewhere, to the storage folder itself.
    fs::path home = fs::absolute(home_dir()).lexically_normal();
    fs::path dir = directory_;
    bool in_home = dir == home || inside(dir, home);
    return LocalResult(
        {.dir = in_home ? (home / "results").string() : directory_, .validate_dir = validate_});
  }

  bool has_stored(const std::string& name) const override {
    auto it = flows.find(name);
    std::error_code ec;
    return it != flows.end() && fs::is_regular_file(it->second, ec);
  }

  const std::string& directory() const { return directory_; }
  const std::string& path() const { return path_; }

 protected:
  std::string store_flow(const Flow& flow) override {
    if (stored_as_script) {
      if (path_.empty()) {
        throw ValueError("A `path` must be provided to show where the flow source file is stored.");
      }
      return path_;
    }
    std::string location =
        path_.empty() ? (fs::path(directory_) / generated_location(flow.name())).string() : path_;
    std::string package = freeze_flow(flow);
    detail::write_file_atomic(location, package);
    digests[flow.name()] = detail::sha256_hex(package);
    return location;
  }

  Flow load_flow(const std::string& name, const std::string& location) override {
    std::error_code ec;
    if (!fs::is_regular_file(location, ec)) {
      throw FlowStorageError(
          "Flow '" + name + "' is stored at '" + location +
          "' (Local storage), which does not exist on this machine (host '" + local_hostname() +
          "'). Local storage keeps a flow on the machine that registered it, and labels the flow "
          "with that machine's hostname so only agents there pick up its runs. Run this flow "
          "with an agent on the registering machine, or register it with a storage every agent "
          "can reach.");
    }
    if (stored_as_script) return load_flow_from_source(location, name);
    std::string bytes = detail::read_file(location);
    // A match with the digest recorded for the whole file covers the package's own payload
    // digest, which is then not checked a second time; without a record it is.
    detail::PackageBytes verified = detail::PackageBytes::Unverified;
    if (auto it = digests.find(name); it != digests.end()) {
      std::string actual = detail::sha256_hex(bytes);
      if (actual != it->second) {
        throw FlowStorageError("Stored flow '" + name + "' at '" + location +
                               "' does not match the SHA-256 digest recorded at registration "
                               "(expected " +
                               it->second + ", found " + actual +
                               "): it was modified or corrupted. Re-register the flow.");
      }
      verified = detail::PackageBytes::MatchedRecordedDigest;
    }
    Flow flow = detail::thaw_package(bytes, location, verified);
    if (flow.name() != name) {
      throw FlowStorageError("The package at '" + location + "' holds flow '" + flow.name() +
                             "', not '" + name + "'. Re-register the flow.");
    }
    return flow;
  }

  void serialize_fields(Value& out) const override {
    out["directory"] = directory_;
    out["path"] = path_.empty() ? Value() : Value(path_);
    out["stored_as_script"] = stored_as_script;
  }

 private:
  bool validate_;
  std::string directory_;
  std::string path_;
};

const bool registered = [] {
  register_storage_type("Local", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    LocalOptions o;
    o.directory = d.value("directory", std::string());
    o.validate = false;  // an agent must not touch the registering machine's folders
    if (d.contains("path") && d["path"].is_string()) o.path = d["path"];
    o.stored_as_script = d.value("stored_as_script", false);
    return std::make_shared<LocalImpl>(std::move(o));
  });
  return true;
}();

}  // namespace

Local::Local(LocalOptions options) : Storage(std::make_shared<LocalImpl>(std::move(options))) {
  (void)registered;
}

const std::string& Local::directory() const {
  return static_cast<const LocalImpl&>(checked()).directory();
}

const std::string& Local::path() const { return static_cast<const LocalImpl&>(checked()).path(); }

}  // namespace ferry::storage
