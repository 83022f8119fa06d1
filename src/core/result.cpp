#include "ferry/result.hpp"

#include <map>
#include <mutex>

#include "ferry/error.hpp"

namespace ferry {

namespace {

std::map<std::string, ResultFactory>& factories() {
  static std::map<std::string, ResultFactory> map;
  return map;
}

std::mutex& factories_mutex() {
  static std::mutex m;
  return m;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// Task and flow names may hold '/', which must not make new folders.
std::string path_safe(std::string s) {
  for (char& c : s) {
    if (c == '/' || c == '\0') c = '_';
  }
  return s;
}

}  // namespace

void register_result_type(const std::string& type, ResultFactory factory) {
  std::lock_guard lock(factories_mutex());
  factories()[type] = factory;
}

Result Result::deserialize(const Value& json) {
  if (json.is_null()) return {};
  std::string type = json.is_object() ? json.value("type", std::string()) : std::string();
  ResultFactory factory = nullptr;
  {
    std::lock_guard lock(factories_mutex());
    auto it = factories().find(type);
    if (it != factories().end()) factory = it->second;
  }
  if (!factory) {
    throw ValueError("Unknown result type '" + type +
                     "' in a stored flow; upgrade ferry on this machine or re-register the flow.");
  }
  return Result(factory(json));
}

std::string Result::location_for(const std::string& flow_run_id, const std::string& flow_name,
                                 const std::string& task_name, int map_index) const {
  std::string location = impl_->location();
  replace_all(location, "{flow_run_id}", path_safe(flow_run_id));
  replace_all(location, "{flow_name}", path_safe(flow_name));
  replace_all(location, "{task_name}", path_safe(task_name));
  replace_all(location, "{map_index}", map_index < 0 ? std::string() : std::to_string(map_index));
  return location;
}

}  // namespace ferry
