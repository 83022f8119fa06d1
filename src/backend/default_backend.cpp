// open_default_backend: the embedded backend at $FERRY_HOME/ferry.db.
#include <filesystem>
#include <system_error>

#include "backend/backend.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::backend {

std::unique_ptr<Backend> open_default_backend() {
  const std::filesystem::path home = ferry::home_dir();
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  if (ec) {
    throw ferry::Error("could not create the ferry home folder " + home.string() + ": " +
                       ec.message() + " (set FERRY_HOME to a writable folder)");
  }
  return open_sqlite_backend((home / "ferry.db").string());
}

}  // namespace ferry::backend
