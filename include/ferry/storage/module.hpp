// Module storage: a flow module installed on the agent's machine, loaded by name.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
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
  // Module("name") or Module(name_string). A template, so that Module({.module = ...})
  // (a braced list, which deduces nothing) picks the options constructor unambiguously.
  template <class S>
  requires std::convertible_to<const S&, std::string_view>
  explicit Module(const S& module)
      : Module(ModuleOptions{.module = std::string(std::string_view(module))}) {}
  const std::string& module() const;
};

// Finds an installed flow module by name; throws FlowStorageError saying where it looked.
std::string find_flow_module(const std::string& name);

}  // namespace ferry::storage
