// This machine's hostname: Local storage's default label and the local agent's.
#pragma once

#include <string>

namespace ferry::storage {

std::string local_hostname();

}  // namespace ferry::storage
