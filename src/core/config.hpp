// ferry's settings: $FERRY_HOME/config.toml, overridden by FERRY__SECTION__KEY environment
// variables (flags override both, in the commands that take them).
#pragma once

#include <optional>
#include <string>

namespace ferry::config {

// The raw text of section.key, or nullopt when neither the environment nor the file sets it.
std::optional<std::string> get(const std::string& section, const std::string& key);

double get_number(const std::string& section, const std::string& key, double fallback);
bool get_bool(const std::string& section, const std::string& key, bool fallback);
std::string get_string(const std::string& section, const std::string& key,
                       const std::string& fallback);

}  // namespace ferry::config
