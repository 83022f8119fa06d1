#include "storage/fetched_flow.hpp"

#include <filesystem>

#include "core/digest.hpp"
#include "core/files.hpp"
#include "core/package.hpp"
#include "ferry/error.hpp"
#include "ferry/module.hpp"

namespace ferry::storage {

namespace fs = std::filesystem;

Flow thaw_fetched_package(std::string_view bytes, const std::string& name,
                          const std::map<std::string, std::string>& digests,
                          const std::string& origin, std::string_view bytes_sha256) {
  detail::PackageBytes verified = detail::PackageBytes::Unverified;
  if (auto it = digests.find(name); it != digests.end()) {
    std::string actual =
        bytes_sha256.empty() ? detail::sha256_hex(bytes) : std::string(bytes_sha256);
    if (actual != it->second) {
      throw FlowStorageError("The flow package for '" + name + "' in " + origin +
                             " does not match the SHA-256 digest recorded at registration "
                             "(expected " +
                             it->second + ", found " + actual + ", " +
                             std::to_string(bytes.size()) +
                             " bytes): the service returned something else, or the stored "
                             "package was modified. Re-register the flow.");
    }
    verified = detail::PackageBytes::MatchedRecordedDigest;
  }
  Flow flow = detail::thaw_package(bytes, origin, verified);
  if (flow.name() != name) {
    throw FlowStorageError(origin + " holds flow '" + flow.name() + "', not '" + name +
                           "'. Re-register the flow.");
  }
  return flow;
}

Flow load_fetched_source(std::string_view source, const std::string& name, const std::string& kind,
                         std::string_view source_sha256) {
  std::string digest =
      source_sha256.empty() ? detail::sha256_hex(source) : std::string(source_sha256);
  fs::path file = cache_dir() / kind / (digest + ".cpp");
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) detail::write_file_atomic(file, source);
  return load_flow_from_source(file, name);
}

}  // namespace ferry::storage
