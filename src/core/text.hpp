// Small string helpers shared by the config reader, the HTTP client and the test servers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::detail {

// ASCII case-insensitive equality (HTTP header names, config keys).
bool iequals(std::string_view a, std::string_view b);

// `s` without leading and trailing spaces, tabs, CR and LF.
std::string trim(std::string_view s);

// %XX sequences decoded (anything else, a malformed % included, is kept as it is).
std::string percent_decode(std::string_view text);

// RFC 4648 base64 with padding (OpenSSL's encoder).
std::string base64_encode(std::string_view bytes);
// Decodes base64, skipping whitespace (APIs wrap it in lines); nullopt if it is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ferry::detail
