#include "agent/secrets.hpp"

#include <cstdlib>

#include "ferry/error.hpp"

namespace ferry::agent {

std::optional<std::string> find_secret(const std::string& name) {
  if (const char* v = std::getenv(name.c_str())) return std::string(v);
  std::string scoped = "FERRY__CONTEXT__SECRETS__" + name;
  if (const char* v = std::getenv(scoped.c_str())) return std::string(v);
  return std::nullopt;
}

std::map<std::string, std::string> resolve_secrets(const std::vector<std::string>& names) {
  std::map<std::string, std::string> out;
  for (const std::string& name : names) {
    std::optional<std::string> value = find_secret(name);
    if (!value) {
      throw ValueError("Secret '" + name + "' was not found: set the environment variable " + name +
                       " (or FERRY__CONTEXT__SECRETS__" + name + ") on the agent's machine.");
    }
    out[name] = std::move(*value);
  }
  return out;
}

}  // namespace ferry::agent
