#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/module.hpp"
#include "ferry/storage/module.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_path_list(const char* value) {
  std::vector<std::string> out;
  if (!value) return out;
  std::stringstream in(value);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (!dir.empty()) out.push_back(dir);
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ":") + i;
  return out;
}

// The reference's extract_flow_from_module, for flow modules: "name" or "name:flow".
Flow extract_flow_from_module(const std::string& module_str, const std::string& flow_name) {
  std::size_t colon = module_str.find(':');
  std::string module = module_str.substr(0, colon);
  std::string attr = colon == std::string::npos ? "" : module_str.substr(colon + 1);
  std::vector<Flow> flows = load_flows_from_module(find_flow_module(module));
  auto named = [&](const std::string& n) -> Flow* {
    for (Flow& f : flows) {
      if (f.name() == n) return &f;
    }
    return nullptr;
  };
  if (!attr.empty()) {
    Flow* f = named(attr);
    if (!f) throw ValueError("Failed to find flow at '" + module_str + "'");
    if (!flow_name.empty() && f->name() != flow_name) {
      throw ValueError("Flow at '" + module_str + "' is named '" + f->name() + "', expected '" +
                       flow_name + "'");
    }
    return *f;
  }
  if (!flow_name.empty()) {
    Flow* f = named(flow_name);
    if (!f) throw ValueError("Failed to find flow '" + flow_name + "' in '" + module_str + "'");
    return *f;
  }
  if (flows.size() > 1) {
    throw ValueError("Multiple flows found in '" + module_str +
                     "', please provide `flow_name` to select one.");
  }
  if (flows.empty()) throw ValueError("No flows found in '" + module_str + "'");
  return flows.front();
}

class ModuleImpl : public StorageImpl {
 public:
  explicit ModuleImpl(ModuleOptions o) : module_(std::move(o.module)) {
    if (module_.empty())
      throw ValueError("Module storage needs a module name: Module({.module = \"myflows\"}).");
    add_default_labels = o.add_default_labels.value_or(true);
    user_labels = std::move(o.labels);
    secrets = std::move(o.secrets);
  }
  std::string type() const override { return "Module"; }
  const std::string& module() const { return module_; }

 protected:
  std::string store_flow(const Flow&) override { return module_; }
  Flow load_flow(const std::string& name, const std::string&) override {
    return extract_flow_from_module(module_, name);
  }
  void serialize_fields(Value& out) const override { out["module"] = module_; }

 private:
  std::string module_;
};

const bool registered = [] {
  register_storage_type("Module", [](const Value& d) -> std::shared_ptr<StorageImpl> {
    return std::make_shared<ModuleImpl>(ModuleOptions{.module = d.at("module").get<std::string>()});
  });
  return true;
}();

}  // namespace

std::string find_flow_module(const std::string& name) {
  std::error_code ec;
  if (name.find('/') != std::string::npos) {
    if (fs::is_regular_file(name, ec)) return fs::canonical(name).string();
    throw FlowStorageError("Flow module '" + name + "' does not exist on this machine.");
  }
  std::vector<std::string> module_path = split_path_list(std::getenv("FERRY_MODULE_PATH"));
  std::vector<std::string> system = split_path_list(std::getenv("LD_LIBRARY_PATH"));
  for (const char* d :
       {"/usr/local/lib", "/usr/local/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
        "/usr/local/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/lib"}) {
    system.push_back(d);
  }
  for (const auto* dirs : {&module_path, &system}) {
    for (const std::string& dir : *dirs) {
      for (const std::string& file : {"lib" + name + ".so", name + ".so"}) {
        fs::path candidate = fs::path(dir) / file;
        if (fs::is_regular_file(candidate, ec)) return fs::canonical(candidate).string();
      }
    }
  }
  throw FlowStorageError("Failed to find flow module '" + name + "': looked for lib" + name +
                         ".so and " + name + ".so on FERRY_MODULE_PATH (" +
                         (module_path.empty() ? std::string("unset") : join(module_path)) +
                         ") and the system library path. Install the module on this machine "
                         "(ferry_add_flow_module in CMake builds one) or add its folder to "
                         "FERRY_MODULE_PATH.");
}

Module::Module(ModuleOptions options) : Storage(std::make_shared<ModuleImpl>(std::move(options))) {
  (void)registered;
}

const std::string& Module::module() const {
  return static_cast<const ModuleImpl&>(checked()).module();
}

}  // namespace ferry::storage
