#include "storage/hostname.hpp"

#include <unistd.h>

namespace ferry::storage {

std::string local_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return name;
}

}  // namespace ferry::storage
