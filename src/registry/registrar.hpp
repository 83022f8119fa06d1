// Registration: a flow source's flows are stored through their storage, fetched back once
// through it (the load check), and recorded in the backend as a new version, unless
// nothing changed.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "ferry/flow.hpp"

namespace ferry::registry {

struct RegisterOptions {
  std::string path;  // the flow source
  std::string project = "default";
  std::vector<std::string> labels;  // added to every flow's labels
  std::vector<std::string> names;   // only these flows (default: all in the source)
  bool script = false;              // flows without storage: Local in script form
  bool progress = false;
};

struct RegisterLine {
  enum class Outcome { Registered, Skipped, Error };
  std::string flow;
  Outcome outcome = Outcome::Error;
  int version = 0;
  std::string storage_type;
  bool frozen = false;
  std::vector<std::string> labels;
  std::string message;
};

// One line per flow. Throws only when the source cannot be loaded at all.
std::vector<RegisterLine> register_flows(backend::Backend& backend, const RegisterOptions& options);

// What makes two registrations of a flow the same version: its graph, its code, its storage
// settings (without generated locations), labels and result.
std::string idempotency_key(const std::string& project, const Flow& flow,
                            const std::vector<std::string>& labels);

}  // namespace ferry::registry
