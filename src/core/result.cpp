#include "ferry/result.hpp"

#include <cstring>
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

// Names become path components: no '/', and never "." or "..".
std::string path_safe(std::string s) {
  for (char& c : s) {
    if (c == '/' || c == '\0') c = '_';
  }
  if (s == "." || s == "..") s = "_";
  return s;
}

ResultImpl& checked(const std::shared_ptr<ResultImpl>& impl) {
  if (!impl) throw ValueError("This Result is empty: give it a result class such as LocalResult.");
  return *impl;
}

}  // namespace

void register_result_type(const std::string& type, ResultFactory factory) {
  std::lock_guard lock(factories_mutex());
  factories()[type] = factory;
}

Result Result::deserialize(const Value& json) {
  if (json.is_null()) return {};
  std::string type = json.is_object() && json.contains("type") && json["type"].is_string()
                         ? json["type"].get<std::string>()
                         : std::string();
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
  try {
    return Result(factory(json));
  } catch (const nlohmann::json::exception& e) {
    throw ValueError("The stored " + type + " settings are malformed: " + e.what());
  }
}

std::string Result::location_for(const std::string& flow_run_id, const std::string& flow_name,
                                 const std::string& task_name, int map_index) const {
  // One pass over the template: substituted text is never expanded again.
  const std::string& tmpl = checked(impl_).location();
  const std::pair<const char*, std::string> fields[] = {
      {"{flow_run_id}", path_safe(flow_run_id)},
      {"{flow_name}", path_safe(flow_name)},
      {"{task_name}", path_safe(task_name)},
      {"{map_index}", map_index < 0 ? std::string() : std::to_string(map_index)}};
  std::string out;
  for (std::size_t i = 0; i < tmpl.size();) {
    bool replaced = false;
    if (tmpl[i] == '{') {
      for (const auto& [key, value] : fields) {
        if (tmpl.compare(i, std::strlen(key), key) == 0) {
          out += value;
          i += std::strlen(key);
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(tmpl[i++]);
  }
  return out;
}

void Result::write(const std::string& location, const Value& value) const {
  checked(impl_).write(location, value);
}

std::optional<Value> Result::read(const std::string& location) const {
  return checked(impl_).read(location);
}

}  // namespace ferry
