// Loading a flow from bytes a remote storage returned (Webhook, S3, Azure, GCS): the digest
// check of frozen packages and the compile cache of fetched sources, in one place.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ferry/flow.hpp"

namespace ferry::storage {

// Thaws a frozen package fetched from `origin` (how messages name where it came from),
// refusing bytes whose SHA-256 differs from the digest recorded at registration for `name`
// (when one was recorded) and a package that holds another flow. The package's own payload
// digest is checked only when no recorded digest was: a match with the recorded digest of the
// whole package already covers it (one SHA-256 pass over the bytes, not two).
// bytes_sha256: the SHA-256 (hex) of `bytes` when already known (computed while they were
// downloaded, net::Response::body_sha256), else "" and it is computed here.
Flow thaw_fetched_package(std::string_view bytes, const std::string& name,
                          const std::map<std::string, std::string>& digests,
                          const std::string& origin, std::string_view bytes_sha256 = {});

// Compiles a fetched flow source and loads flow `name` from it. The source is written under
// cache_dir()/<kind>/ by content, so a second load of the same source is a module cache hit,
// and the file stays while the flow's tasks run (flow_file() names it). source_sha256 as
// bytes_sha256 above.
Flow load_fetched_source(std::string_view source, const std::string& name, const std::string& kind,
                         std::string_view source_sha256 = {});

}  // namespace ferry::storage
