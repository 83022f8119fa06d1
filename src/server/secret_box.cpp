#include "server/secret_box.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <cstring>
#include <memory>

#include "core/random.hpp"
#include "ferry/error.hpp"
#include "storage/repo_file.hpp"

namespace ferry::server {

namespace {

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
constexpr std::string_view kPrefix = "v1:";

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) throw Error("could not seal or open a secret: out of memory for a cipher context");
  return ctx;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string describe_name(std::string_view name) {
  return name.empty() ? std::string("a secret") : "secret \"" + std::string(name) + "\"";
}

}  // namespace

SecretBox::SecretBox(std::string_view text) {
  // Surrounding whitespace is a copy-and-paste accident, not part of the key.
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  bool hex = text.size() == 64;
  for (char c : text) hex = hex && hex_digit(c) >= 0;
  if (hex) {
    for (std::size_t i = 0; i < 32; ++i) {
      key_[i] =
          static_cast<unsigned char>(hex_digit(text[2 * i]) * 16 + hex_digit(text[2 * i + 1]));
    }
    return;
  }
  std::string bytes;
  try {
    if (!text.empty()) bytes = storage::repo::base64_decode(text);
  } catch (const Error&) {
    bytes.clear();
  }
  if (bytes.size() != 32) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    throw ValueError(
        "FERRY_SERVER_SECRET_KEY must be 32 bytes given as 64 hex digits or as base64 (make one "
        "with `openssl rand -hex 32`); the value given is " +
        std::string(text.empty() ? "empty" : "neither") + " (it is not shown here)");
  }
  std::memcpy(key_.data(), bytes.data(), 32);
  OPENSSL_cleanse(bytes.data(), bytes.size());
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string SecretBox::seal(std::string_view plaintext, std::string_view name) const {
  unsigned char nonce[kNonce];
  detail::random_bytes(nonce, kNonce, "seal a secret");
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(bytes, nonce, kNonce);
  CipherCtx ctx = new_ctx();
  int len = 0;
  int total = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
            (name.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                                               reinterpret_cast<const unsigned char*>(name.data()),
                                               static_cast<int>(name.size())) == 1) &&
            EVP_EncryptUpdate(ctx.get(), bytes + kNonce, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), bytes + kNonce + total, &len) == 1;
  total += len;
  ok =
      ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, bytes + kNonce + total) == 1;
  if (!ok || static_cast<std::size_t>(total) != plaintext.size()) {
    OPENSSL_cleanse(out.data(), out.size());
    throw Error("could not seal " + describe_name(name) + ": OpenSSL AES-256-GCM failed");
  }
  return std::string(kPrefix) + storage::repo::base64_encode(out);
}

std::string SecretBox::open(std::string_view sealed, std::string_view name) const {
  const std::string failure = describe_name(name) +
                              " could not be decrypted (wrong FERRY_SERVER_SECRET_KEY?, or the "
                              "stored value was altered)";
  if (sealed.substr(0, kPrefix.size()) != kPrefix) throw Error(failure);
  std::string bytes;
  try {
    bytes = storage::repo::base64_decode(sealed.substr(kPrefix.size()));
  } catch (const Error&) {
    throw Error(failure);
  }
  if (bytes.size() < kNonce + kTag) throw Error(failure);
  auto* data = reinterpret_cast<unsigned char*>(bytes.data());
  std::size_t length = bytes.size() - kNonce - kTag;
  std::string out(length, '\0');
  auto* plain = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx ctx = new_ctx();
  int len = 0;
  bool ok =
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), data) == 1 &&
      (name.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                                         reinterpret_cast<const unsigned char*>(name.data()),
                                         static_cast<int>(name.size())) == 1) &&
      EVP_DecryptUpdate(ctx.get(), plain, &len, data + kNonce, static_cast<int>(length)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, data + kNonce + length) == 1;
  int final_len = 0;
  // The tag is checked here: a wrong key or any altered byte fails.
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), plain + len, &final_len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    throw Error(failure);
  }
  return out;
}

}  // namespace ferry::server
