// Thawing a package whose bytes the caller has already verified as a whole.
#pragma once

#include <string_view>

#include "ferry/flow.hpp"

namespace ferry::detail {

// What the caller has established about a package's bytes before thawing it.
enum class PackageBytes {
  // Nothing: the payload is checked against the SHA-256 in the package's header.
  Unverified,
  // The SHA-256 of the whole package (header and payload) has just matched a digest that
  // ferry recorded when it froze these very bytes (a storage's digests). The header's
  // payload digest is part of those bytes, so checking the payload again would only repeat
  // that check: it is skipped. Only say this right after such a comparison succeeded.
  MatchedRecordedDigest,
};

// ferry::thaw_flow_bytes with the payload check skipped when `bytes` is MatchedRecordedDigest
// (every other check, size, format, versions, graph, tasks, still runs).
Flow thaw_package(std::string_view bytes, std::string_view origin, PackageBytes verified);

}  // namespace ferry::detail
