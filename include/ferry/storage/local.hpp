// Local storage: flows as files on the registering machine.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ferry/storage/storage.hpp"

namespace ferry::storage {

struct LocalOptions {
  std::string directory{};  // default $FERRY_HOME/flows
  bool validate = true;   // expand ~, make absolute, create it; false keeps it verbatim
  std::string path{};       // script form: the flow source; frozen: a fixed package path
  bool stored_as_script = false;
  std::optional<bool> add_default_labels{};  // default true
  std::vector<std::string> labels{};
  std::vector<std::string> secrets{};
};

// Frozen by default: add_flow writes the flow package to
// <directory>/<slug(name)>/<slug(timestamp)>. Script form records `path`. Default label:
// this machine's hostname; default result: LocalResult ($FERRY_HOME/results when the
// directory lies inside $FERRY_HOME, else the directory itself).
class Local : public Storage {
 public:
  explicit Local(LocalOptions options = {});
  const std::string& directory() const;
  const std::string& path() const;
};

}  // namespace ferry::storage
