// Loading flow modules (shared objects) into the process, once each.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/task_registry.hpp"
#include "ferry/flow.hpp"

namespace ferry::detail {

struct LoadedModule {
  std::filesystem::path path;
  void* handle = nullptr;
  const ModuleInfo* info = nullptr;
  TaskTable tasks;  // what the module's static initializers registered
};

// Loads (or returns the already loaded) module at path. Throws FlowStorageError when it
// cannot be loaded or is not a ferry flow module.
const LoadedModule& load_module(const std::filesystem::path& path);

// The module a path was loaded from, or nullptr.
const LoadedModule* find_loaded_module(const std::filesystem::path& path);

Value build_to_json(const BuildInfo& build);

// "  - name: (flow built with 'x', currently running with 'y')" for each field of `built`
// that differs from `running`, sorted by name.
std::vector<std::string> build_mismatches(const Value& built, const BuildInfo& running);

// Whether a module built as `built` can be loaded here at all (same module ABI and
// architecture); the other differences only matter if loading then fails.
bool build_loadable(const Value& built, const BuildInfo& running);

}  // namespace ferry::detail
