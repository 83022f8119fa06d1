#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

#include "core/text.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::config {

namespace {

using detail::trim;

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The subset of TOML ferry's settings use: [section] headers and key = value lines with
// strings, numbers and booleans; # comments.
std::map<std::string, std::string> parse_file(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  std::string section, line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    bool in_string = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"') in_string = !in_string;
      if (line[i] == '#' && !in_string) {
        line.resize(i);
        break;
      }
    }
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) {
      throw ValueError(path + ":" + std::to_string(number) +
                       ": expected `key = value` or `[section]`.");
    }
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    values[section + "." + trim(line.substr(0, eq))] = value;
  }
  return values;
}

const std::map<std::string, std::string>& file_values() {
  static std::mutex mutex;
  static std::string loaded_for;
  static std::map<std::string, std::string> values;
  std::lock_guard lock(mutex);
  std::string path = (home_dir() / "config.toml").string();
  if (path != loaded_for) {
    values = parse_file(path);
    loaded_for = path;
  }
  return values;
}

}  // namespace

std::optional<std::string> get(const std::string& section, const std::string& key) {
  std::string env = "FERRY__" + upper(section) + "__" + upper(key);
  if (const char* v = std::getenv(env.c_str())) return std::string(v);
  const auto& values = file_values();
  auto it = values.find(section + "." + key);
  if (it != values.end()) return it->second;
  return std::nullopt;
}

double get_number(const std::string& section, const std::string& key, double fallback) {
  auto v = get(section, key);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    double d = std::stod(*v, &used);
    if (used == v->size()) return d;
  } catch (const std::exception&) {
  }
  throw ValueError("Setting " + section + "." + key + " must be a number, got '" + *v + "'.");
}

bool get_bool(const std::string& section, const std::string& key, bool fallback) {
  auto v = get(section, key);
  if (!v) return fallback;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  throw ValueError("Setting " + section + "." + key + " must be true or false, got '" + *v + "'.");
}

std::string get_string(const std::string& section, const std::string& key,
                       const std::string& fallback) {
  return get(section, key).value_or(fallback);
}

}  // namespace ferry::config
