#include "core/random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "ferry/error.hpp"

namespace ferry::detail {

void random_bytes(unsigned char* out, std::size_t n, const char* what) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("could not ") + what + ": getrandom failed: " + std::strerror(errno));
    }
    got += static_cast<std::size_t>(r);
  }
}

std::string random_hex(std::size_t n, const char* what) {
  std::vector<unsigned char> bytes(n);
  random_bytes(bytes.data(), n, what);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace ferry::detail
