// Seals the values of the server's secret store before they reach the database, so a copy
// of the database (a backup, a replica) does not give the secrets away without the key.
//
// AES-256-GCM (OpenSSL EVP) with a fresh random 12-byte nonce per value. Sealed text is
//   "v1:" + base64(nonce | ciphertext | 16-byte tag)
// and the secret's name is bound in as associated data, so a sealed value copied to another
// name does not open. The key comes from the operator (FERRY_SERVER_SECRET_KEY) as 64 hex
// digits or the base64 of 32 bytes.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace ferry::server {

class SecretBox {
 public:
  // Throws ferry::ValueError saying what a key must look like (never echoing the key).
  explicit SecretBox(std::string_view key_text);
  ~SecretBox();
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // Thread-safe: each call uses its own cipher context.
  std::string seal(std::string_view plaintext, std::string_view name = {}) const;
  // Throws ferry::Error "secret <name> could not be decrypted (wrong
  // FERRY_SERVER_SECRET_KEY?)" when the text was not sealed by this key for this name, or
  // was altered.
  std::string open(std::string_view sealed, std::string_view name = {}) const;

 private:
  std::array<unsigned char, 32> key_{};
};

}  // namespace ferry::server
