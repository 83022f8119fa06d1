// Runs a flow graph on a thread pool: dependency counting, triggers, retries, timeouts.
#pragma once

#include "core/graph.hpp"
#include "ferry/flow.hpp"

namespace ferry::detail {

// Runs graph with params (checked and completed first; a bad parameter throws ValueError
// before any task starts). Every task must be bound to its callable.
RunResult run_graph(const Graph& graph, const Value& params, const RunOptions& options);

// A random 32-hex-digit run id.
std::string new_run_id();

}  // namespace ferry::detail
