// SHA-256 (OpenSSL) for cache keys, package payloads and stored-flow digests.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace ferry::detail {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(std::string_view bytes);
  // A length-prefixed field, so ("ab","c") and ("a","bc") hash differently.
  Sha256& field(std::string_view bytes);
  std::string hex();  // finishes the hash

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view bytes);

}  // namespace ferry::detail
