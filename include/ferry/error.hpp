// Exceptions ferry throws. Every message says what was wrong and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace ferry {

// Base of every ferry error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input: unknown flow, bad parameter, invalid option (the reference's ValueError).
class ValueError : public Error {
 public:
  using Error::Error;
};

// A stored flow could not be read or loaded (version mismatch, corruption, missing file).
class FlowStorageError : public Error {
 public:
  using Error::Error;
};

// A flow source failed to compile; what() carries the compiler's diagnostics.
class CompileError : public Error {
 public:
  using Error::Error;
};

}  // namespace ferry
