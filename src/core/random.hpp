// Random bytes from the kernel (getrandom): safe across fork(), unlike a seeded generator,
// and good enough for keys, nonces and identifiers.
#pragma once

#include <cstddef>
#include <string>

namespace ferry::detail {

// Fills out[0..n) or throws ferry::Error "could not <what>: getrandom failed: ...".
void random_bytes(unsigned char* out, std::size_t n, const char* what);

// 2 * n lowercase hex digits from n random bytes.
std::string random_hex(std::size_t n, const char* what);

}  // namespace ferry::detail
