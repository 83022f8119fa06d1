// Where ferry's headers and library are, and which compiler builds flow modules.
#pragma once

#include <filesystem>
#include <string>

namespace ferry::detail {

// The folder holding libferry.so (found from the running library itself).
std::filesystem::path library_dir();

// The folder holding ferry/ferry.hpp: $FERRY_INCLUDE_DIR, else the installed headers next
// to the library, else the source tree the library was built from.
std::filesystem::path include_dir();

// $FERRY_CXX, else the compiler ferry was built with (if it still exists), else "c++".
std::string default_compiler();

// "-O2" unless $FERRY_CXXFLAGS says otherwise.
std::string default_cxxflags();

// A short identity of the compiler for cache keys: its resolved path, size and mtime, so a
// cache hit never has to run it.
std::string compiler_identity(const std::string& compiler);

// A digest of every ferry header: a module depends on all of them.
const std::string& headers_digest();

}  // namespace ferry::detail
