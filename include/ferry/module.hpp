// Flow modules: compiling a flow source into a shared object, loading it (script form),
// and freezing a flow into a package that loads without running its FERRY_FLOWS block.
#pragma once

#include <filesystem>
#include <concepts>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/flow.hpp"

namespace ferry {

// $FERRY_HOME, else ~/.ferry.
std::filesystem::path home_dir();
// $FERRY_HOME/cache.
std::filesystem::path cache_dir();

struct CompileOptions {
  std::string cxx;       // compiler; default $FERRY_CXX, else the compiler ferry was built with
  std::string cxxflags;  // extra flags; default $FERRY_CXXFLAGS, else "-O2"
  std::filesystem::path cache;  // default cache_dir()/modules
  bool progress = false;        // print "Compiling ..." to stderr
};

struct CompiledModule {
  std::filesystem::path path;  // the cached shared object
  std::string key;             // its cache key (SHA-256 of everything that shaped it)
  bool cache_hit = false;
};

// Compiles source (and the headers it includes from its own folder) into a cached flow
// module. A hit never runs the compiler. Throws CompileError with the diagnostics.
CompiledModule compile_flow_source(const std::filesystem::path& source,
                                   const CompileOptions& options = {});

// Loads a flow module and runs its FERRY_FLOWS block; flow_file() is `source` meanwhile
// and while the flows' tasks run.
std::vector<Flow> load_flows_from_module(const std::filesystem::path& module,
                                         const std::filesystem::path& source = {});

// Script form: compile (cached), load, run FERRY_FLOWS, and pick a flow by name, or the
// first flow defined when name is empty. Errors as the reference's:
// "Flow 'x' not found in file. Found flows:\n- 'a'\n- 'b'" and "No flows found in file."
Flow load_flow_from_source(const std::filesystem::path& source, std::string_view name = {},
                           const CompileOptions& options = {});
std::vector<Flow> load_flows_from_source(const std::filesystem::path& source,
                                         const CompileOptions& options = {});
// Picks a flow from a loaded set with the script-form rules and errors above.
Flow select_flow(std::vector<Flow> flows, std::string_view name);

// Frozen form. A package holds a version envelope, the graph and the module's bytes, with a
// SHA-256 of its payload. Only flows loaded from a flow module can be frozen.
std::string freeze_flow(const Flow& flow);
void freeze_flow(const Flow& flow, const std::filesystem::path& package);

// Loads a package: verifies size and digest, then the versions, then loads the module and
// binds tasks by key, without running FERRY_FLOWS. origin names the package in errors.
Flow thaw_flow_bytes(std::string_view package_bytes, std::string_view origin = "flow package");
Flow thaw_flow(const std::filesystem::path& package);
// A package's bytes are not a path: use thaw_flow_bytes for them.
template <class T>
  requires std::same_as<T, std::string> || std::same_as<T, std::string_view>
Flow thaw_flow(const T&) = delete;

struct PackageInfo {
  int format = 0;
  std::string flow_name;
  std::string payload_sha256;
  Value versions;  // ferry_version, module_abi, compiler, stdlib, arch
  std::size_t module_size = 0;
};
// Reads and verifies a package's envelope and digest without loading code.
PackageInfo inspect_package(std::string_view package_bytes,
                            std::string_view origin = "flow package");

}  // namespace ferry
