// Small helpers for reading and writing storage descriptors, where an unset option is null.
#pragma once

#include <string>

#include "ferry/codec.hpp"

namespace ferry::storage {

// "" is written as null (as the reference's descriptors write an unset option).
inline Value nullable(const std::string& s) { return s.empty() ? Value(nullptr) : Value(s); }

// A string field of a descriptor, "" when missing or null.
inline std::string string_field(const Value& d, const char* name) {
  return d.contains(name) && d[name].is_string() ? d[name].get<std::string>() : std::string();
}

}  // namespace ferry::storage
