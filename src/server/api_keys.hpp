// API keys of `ferry server`: made here, shown once, and stored only as their SHA-256.
#pragma once

#include <string>
#include <string_view>

namespace ferry::server {

// "ferry_" + 40 random lowercase hex digits (160 bits from getrandom): long enough that
// an unsalted fast hash is safe to store, short enough to paste.
std::string new_api_key();

// The SHA-256 of the key, as 64 lowercase hex digits: what the database stores and looks up.
std::string hash_api_key(std::string_view key);

}  // namespace ferry::server
