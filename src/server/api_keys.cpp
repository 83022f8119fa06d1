#include "server/api_keys.hpp"

#include "core/digest.hpp"
#include "core/random.hpp"
#include "ferry/error.hpp"

namespace ferry::server {

std::string new_api_key() { return "ferry_" + detail::random_hex(20, "make an API key"); }

// detail::sha256_hex is OpenSSL's EVP SHA-256, as the rest of ferry uses.
std::string hash_api_key(std::string_view key) { return detail::sha256_hex(key); }

}  // namespace ferry::server
