// Small string helpers shared by the config reader, the HTTP client and the test servers.
#pragma once

#include <string>
#include <string_view>

namespace ferry::detail {

// ASCII case-insensitive equality (HTTP header names, config keys).
bool iequals(std::string_view a, std::string_view b);

// `s` without leading and trailing spaces, tabs, CR and LF.
std::string trim(std::string_view s);

}  // namespace ferry::detail
