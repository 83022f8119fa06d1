// The flow graph behind ferry::Flow: parameters, tasks and edges, as data.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/task.hpp"

namespace ferry::detail {

struct ParamSpec {
  std::string name;
  std::string type;  // a type descriptor, see codec.hpp
  std::optional<Value> default_value;
};

struct TaskNode {
  std::string name;  // unique within the flow
  std::string key;   // binds the node to its callable in the module
  TaskFn fn = nullptr;
  int max_retries = 0;
  long long retry_delay_ms = 0;
  long long timeout_ms = 0;
  std::vector<std::string> tags;
  Trigger trigger = Trigger::all_successful;
  std::vector<ArgSpec> args;
  std::vector<std::size_t> after;       // order-only upstream tasks
  std::vector<std::size_t> upstream;    // data and order-only, without repeats
  std::vector<std::size_t> downstream;  // the reverse of upstream
};

struct Graph {
  std::string name;
  // Names taken, and the next suffix to try per wanted name: naming stays O(1) per task.
  std::unordered_set<std::string> task_names;
  std::unordered_map<std::string, int> next_suffix;
  std::vector<ParamSpec> params;
  std::vector<TaskNode> tasks;
  std::string source_file;            // script flows: the flow source (flow_file())
  std::filesystem::path module_path;  // the flow module the tasks' code lives in
};

// Serialized graph (what a frozen package holds) and back. Tasks come back unbound (fn null).
Value graph_to_json(const Graph& graph);
Graph graph_from_json(const Value& json);
// The same, moving parameter defaults and constant arguments out of `json` instead of copying
// them (a thawed package's graph JSON is parsed only to be read once).
Graph graph_from_json(Value&& json);

// Sets a node's upstream/downstream from its arguments and `after` edges.
void link_edges(Graph& graph);

const ParamSpec* find_param(const Graph& graph, std::string_view name);

// Checks and completes run parameters: defaults filled in, unknown, missing or mistyped
// parameters refused with a ValueError that names them.
Value resolve_parameters(const Graph& graph, const Value& given);

}  // namespace ferry::detail
