#include "core/module_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "core/graph.hpp"
#include "core/run_context.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::detail {

namespace fs = std::filesystem;

namespace {

std::mutex& loader_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, std::unique_ptr<LoadedModule>>& loaded() {
  static std::map<std::string, std::unique_ptr<LoadedModule>> modules;
  return modules;
}

std::string module_key(const fs::path& path) {
  std::error_code ec;
  fs::path canonical = fs::canonical(path, ec);
  return ec ? fs::absolute(path).lexically_normal().string() : canonical.string();
}

}  // namespace

Value build_to_json(const BuildInfo& b) {
  return {{"ferry_version", b.ferry_version},
          {"module_abi", b.module_abi},
          {"compiler", b.compiler},
          {"stdlib", b.stdlib},
          {"arch", b.arch}};
}

std::vector<std::string> build_mismatches(const Value& built, const BuildInfo& running) {
  Value now = build_to_json(running);
  std::vector<std::string> lines;
  for (auto it = now.begin(); it != now.end(); ++it) {  // nlohmann objects iterate sorted
    Value was = built.is_object() && built.contains(it.key()) ? built.at(it.key()) : Value();
    if (was != it.value()) {
      auto text = [](const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
      lines.push_back("  - " + it.key() + ": (flow built with '" + text(was) +
                      "', currently running with '" + text(it.value()) + "')");
    }
  }
  return lines;
}

bool build_loadable(const Value& built, const BuildInfo& running) {
  return built.value("module_abi", -1) == running.module_abi &&
         built.value("arch", std::string()) == running.arch;
}

const LoadedModule* find_loaded_module(const fs::path& path) {
  std::lock_guard lock(loader_mutex());
  auto it = loaded().find(module_key(path));
  return it == loaded().end() ? nullptr : it->second.get();
}

const LoadedModule& load_module(const fs::path& path) {
  std::lock_guard lock(loader_mutex());
  std::string key = module_key(path);
  if (auto it = loaded().find(key); it != loaded().end()) return *it->second;

  auto module = std::make_unique<LoadedModule>();
  module->path = key;
  {
    TableCapture capture(&module->tasks);
    module->handle = ::dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  if (!module->handle) {
    const char* err = ::dlerror();
    throw FlowStorageError("Failed to load flow module '" + key +
                           "': " + (err ? err : "unknown error"));
  }
  using Entry = const ModuleInfo* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(module->handle, "ferry_module_v1"));
  if (!entry) {
    ::dlclose(module->handle);
    throw FlowStorageError("'" + key +
                           "' is not a ferry flow module: it defines no FERRY_FLOWS block.");
  }
  module->info = entry();
  Value built = build_to_json(module->info->build);
  if (!build_loadable(built, library_build())) {
    std::string lines;
    for (const std::string& l : build_mismatches(built, library_build())) lines += "\n" + l;
    throw FlowStorageError("Flow module '" + key + "' was built for another ferry runtime:" +
                           lines + "\nRebuild it with this version of ferry.");
  }
  return *loaded().emplace(key, std::move(module)).first->second;
}

}  // namespace ferry::detail

namespace ferry {

namespace fs = std::filesystem;

std::vector<Flow> load_flows_from_module(const fs::path& module_path, const fs::path& source) {
  const detail::LoadedModule& module = detail::load_module(module_path);
  FlowSet set;
  std::string source_text = source.empty() ? std::string() : fs::absolute(source).string();
  try {
    detail::LoadingFileScope scope(source_text);
    module.info->build_flows(set);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("The FERRY_FLOWS block of '" +
                (source.empty() ? module_path.string() : source.string()) + "' threw: " + e.what());
  }
  // As the reference: a later flow with a name already seen replaces the earlier one, in
  // the earlier one's position.
  std::vector<Flow> flows;
  for (Flow& f : set.flows()) {
    f.graph()->module_path = module.path;
    f.graph()->source_file = source_text;
    auto same = std::find_if(flows.begin(), flows.end(),
                             [&](const Flow& g) { return g.name() == f.name(); });
    if (same != flows.end()) {
      *same = std::move(f);
    } else {
      flows.push_back(std::move(f));
    }
  }
  return flows;
}

Flow select_flow(std::vector<Flow> flows, std::string_view name) {
  if (flows.empty()) throw ValueError("No flows found in file.");
  if (name.empty()) return std::move(flows.front());
  for (Flow& f : flows) {
    if (f.name() == name) return std::move(f);
  }
  std::vector<std::string> names;
  for (const Flow& f : flows) names.push_back(f.name());
  std::sort(names.begin(), names.end());
  std::string message = "Flow '" + std::string(name) + "' not found in file. Found flows:";
  for (const std::string& n : names) message += "\n- '" + n + "'";
  throw ValueError(message);
}

std::vector<Flow> load_flows_from_source(const fs::path& source, const CompileOptions& options) {
  CompiledModule compiled = compile_flow_source(source, options);
  return load_flows_from_module(compiled.path, source);
}

Flow load_flow_from_source(const fs::path& source, std::string_view name,
                           const CompileOptions& options) {
  return select_flow(load_flows_from_source(source, options), name);
}

}  // namespace ferry
