// `ferry execute flow-run ID`: runs one flow run, fetched from its storage, and reports
// task and flow states, logs and the result to the backend.
#pragma once

#include <string>

#include "backend/backend.hpp"

namespace ferry::agent {

// Returns the process exit code: 0 when the run ended Success, 1 otherwise.
int execute_flow_run(backend::Backend& backend, const std::string& run_id);

}  // namespace ferry::agent
