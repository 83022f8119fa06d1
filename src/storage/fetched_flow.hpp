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
// (when one was recorded) and a package that holds another flow.
Flow thaw_fetched_package(std::string_view bytes, const std::string& name,
                          const std::map<std::string, std::string>& digests,
                          const std::string& origin);

// Compiles a fetched flow source and loads flow `name` from it. The source is written under
// cache_dir()/<kind>/ by content, so a second load of the same source is a module cache hit,
// and the file stays while the flow's tasks run (flow_file() names it).
Flow load_fetched_source(std::string_view source, const std::string& name, const std::string& kind);

}  // namespace ferry::storage
