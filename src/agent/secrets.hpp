// Secret lookup at run time: the environment first (NAME, then
// FERRY__CONTEXT__SECRETS__NAME), then the secret store. Values never reach the backend.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ferry::agent {

std::optional<std::string> find_secret(const std::string& name);

// Resolves every name; a missing one throws ValueError naming it (never a value).
std::map<std::string, std::string> resolve_secrets(const std::vector<std::string>& names);

}  // namespace ferry::agent
