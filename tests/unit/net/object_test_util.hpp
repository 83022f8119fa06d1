// Helpers shared by the object-store client tests (S3, Azure, GCS).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>

#include "net/object_client.hpp"

namespace ferry::object_test {

// The ObjectError f throws; a test failure (and kind Other) when it throws none.
template <class F>
net::ObjectError object_error_of(F&& f) {
  try {
    f();
  } catch (const net::ObjectError& e) {
    return e;
  }
  ADD_FAILURE() << "no ObjectError thrown";
  return net::ObjectError(net::ObjectError::Kind::Other, "<no ObjectError thrown>", -1);
}

// `size` bytes of every value, the same in every run.
inline std::string random_bytes(std::size_t size) {
  std::mt19937_64 engine(42);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(engine() & 0xff);
  return out;
}

}  // namespace ferry::object_test
