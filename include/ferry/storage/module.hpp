// Module storage: a flow module installed on the agent's machine, loaded by name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct ModuleOptions {
  std::string module{};  // "name" or "name:flow"
  std::optional<bool> add_default_labels{};
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// The C++ analogue of an importable module: lib<name>.so (or <name>.so, or a path) found on
// FERRY_MODULE_PATH, then the system's library path. Nothing is uploaded; the module's
// FERRY_FLOWS block runs when a flow is loaded from it.
class Module : public Storage {
 public:
  explicit Module(ModuleOptions options);
  explicit Module(std::string module) : Module(ModuleOptions{.module = std::move(module)}) {}
  const std::string& module() const;
};

// Finds an installed flow module by name; throws FlowStorageError saying where it looked.
std::string find_flow_module(const std::string& name);

}  // namespace ferry::storage
