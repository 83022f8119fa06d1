#include "core/graph.hpp"

#include <algorithm>
#include <type_traits>
#include <unordered_set>

#include "ferry/error.hpp"
#include "ferry/flow.hpp"

namespace ferry::detail {

namespace {

std::string unique_task_name(Graph& graph, const std::string& wanted) {
  if (graph.task_names.insert(wanted).second) return wanted;
  int& next = graph.next_suffix[wanted];
  if (next < 2) next = 2;
  for (;; ++next) {
    std::string candidate = wanted + "-" + std::to_string(next);
    if (graph.task_names.insert(candidate).second) return candidate;
  }
}

Trigger trigger_from_string(const std::string& name) {
  for (Trigger t : {Trigger::all_successful, Trigger::all_finished, Trigger::any_failed,
                    Trigger::any_successful}) {
    if (name == to_string(t)) return t;
  }
  throw FlowStorageError("Unknown task trigger '" + name + "' in a serialized flow graph.");
}

void add_upstream(TaskNode& node, std::size_t up) {
  if (std::find(node.upstream.begin(), node.upstream.end(), up) == node.upstream.end()) {
    node.upstream.push_back(up);
  }
}

}  // namespace

std::size_t add_task(Graph& graph, TaskSpec spec) {
  TaskNode node;
  node.name =
      unique_task_name(graph, spec.options.name.empty() ? spec.default_name : spec.options.name);
  node.key = std::move(spec.key);
  node.fn = spec.fn;
  node.max_retries = spec.options.max_retries;
  node.retry_delay_ms = spec.options.retry_delay.count();
  node.timeout_ms = spec.options.timeout.count();
  node.tags = std::move(spec.options.tags);
  node.trigger = spec.options.trigger;
  node.args = std::move(spec.args);
  if (node.max_retries < 0) throw ValueError("Task '" + node.name + "': max_retries must be >= 0.");
  for (const TaskHandle& h : spec.options.after) {
    if (h.graph() != &graph) {
      throw ValueError("Task '" + node.name +
                       "': an `after` task belongs to another flow; edges join tasks of one flow.");
    }
    check_task(graph, h.graph(), h.index());
    node.after.push_back(h.index());
  }
  std::size_t index = graph.tasks.size();
  for (const ArgSpec& a : node.args) {
    if (a.kind == ArgSpec::Kind::TaskResult) add_upstream(node, a.task);
  }
  for (std::size_t up : node.after) add_upstream(node, up);
  for (std::size_t up : node.upstream) graph.tasks[up].downstream.push_back(index);
  graph.tasks.push_back(std::move(node));
  return index;
}

void add_parameter(Graph& graph, std::string name, std::string type, const Value* default_value) {
  if (name.empty()) throw ValueError("Flow '" + graph.name + "': a parameter needs a name.");
  if (find_param(graph, name)) {
    throw ValueError("Flow '" + graph.name + "' already has a parameter named '" + name + "'.");
  }
  ParamSpec spec{std::move(name), std::move(type), std::nullopt};
  if (default_value) spec.default_value = *default_value;
  graph.params.push_back(std::move(spec));
}

void check_param(const Graph& graph, const Graph* owner, const std::string& name) {
  if (owner != &graph) {
    throw ValueError("Parameter '" + name + "' belongs to another flow than '" + graph.name +
                     "'; a task takes parameters of its own flow.");
  }
  if (!find_param(graph, name)) {
    throw ValueError("Parameter '" + name + "' does not belong to flow '" + graph.name + "'.");
  }
}

void check_task(const Graph& graph, const Graph* owner, std::size_t index) {
  if (owner != &graph || index >= graph.tasks.size()) {
    throw ValueError("A task handle does not belong to flow '" + graph.name + "'.");
  }
}

const ParamSpec* find_param(const Graph& graph, std::string_view name) {
  for (const ParamSpec& p : graph.params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

void link_edges(Graph& graph) {
  for (TaskNode& t : graph.tasks) {
    t.upstream.clear();
    t.downstream.clear();
  }
  for (std::size_t i = 0; i < graph.tasks.size(); ++i) {
    TaskNode& node = graph.tasks[i];
    for (const ArgSpec& a : node.args) {
      if (a.kind == ArgSpec::Kind::TaskResult) add_upstream(node, a.task);
    }
    for (std::size_t up : node.after) add_upstream(node, up);
    for (std::size_t up : node.upstream) graph.tasks[up].downstream.push_back(i);
  }
}

Value graph_to_json(const Graph& graph) {
  Value params = Value::array();
  for (const ParamSpec& p : graph.params) {
    Value j = {{"name", p.name}, {"type", p.type}, {"required", !p.default_value}};
    if (p.default_value) j["default"] = *p.default_value;
    params.push_back(std::move(j));
  }
  Value tasks = Value::array();
  for (const TaskNode& t : graph.tasks) {
    Value args = Value::array();
    for (const ArgSpec& a : t.args) {
      switch (a.kind) {
        case ArgSpec::Kind::Constant:
          args.push_back({{"constant", a.constant}});
          break;
        case ArgSpec::Kind::Parameter:
          args.push_back({{"parameter", a.param}});
          break;
        case ArgSpec::Kind::TaskResult:
          args.push_back({{"task", a.task}});
          break;
      }
    }
    tasks.push_back({{"name", t.name},
                     {"key", t.key},
                     {"max_retries", t.max_retries},
                     {"retry_delay_ms", t.retry_delay_ms},
                     {"timeout_ms", t.timeout_ms},
                     {"tags", t.tags},
                     {"trigger", to_string(t.trigger)},
                     {"args", std::move(args)},
                     {"after", t.after}});
  }
  return {{"name", graph.name}, {"parameters", std::move(params)}, {"tasks", std::move(tasks)}};
}

namespace {

// J is Value (the values are moved out) or const Value (copied).
template <class J>
Graph graph_from_json_impl(J& json) {
  auto take = [](J& v) -> Value {
    if constexpr (std::is_const_v<J>) {
      return v;
    } else {
      return std::move(v);
    }
  };
  Graph graph;
  try {
    graph.name = json.at("name").template get<std::string>();
    for (J& p : json.at("parameters")) {
      ParamSpec spec{p.at("name").template get<std::string>(),
                     p.at("type").template get<std::string>(), std::nullopt};
      if (p.contains("default")) spec.default_value = take(p.at("default"));
      graph.params.push_back(std::move(spec));
    }
    J& tasks = json.at("tasks");
    for (J& t : tasks) {
      TaskNode node;
      node.name = t.at("name").template get<std::string>();
      node.key = t.at("key").template get<std::string>();
      node.max_retries = t.value("max_retries", 0);
      node.retry_delay_ms = t.value("retry_delay_ms", 0LL);
      node.timeout_ms = t.value("timeout_ms", 0LL);
      node.tags = t.value("tags", std::vector<std::string>{});
      node.trigger = trigger_from_string(t.value("trigger", std::string("all_successful")));
      for (J& a : t.at("args")) {
        if (a.contains("constant")) {
          node.args.push_back({ArgSpec::Kind::Constant, take(a.at("constant")), {}, 0});
        } else if (a.contains("parameter")) {
          std::string param = a.at("parameter").template get<std::string>();
          if (!find_param(graph, param)) {
            throw FlowStorageError("Task '" + node.name + "' takes parameter '" + param +
                                   "', which the serialized flow graph does not declare.");
          }
          node.args.push_back({ArgSpec::Kind::Parameter, Value(), std::move(param), 0});
        } else {
          std::size_t up = a.at("task").template get<std::size_t>();
          if (up >= graph.tasks.size()) throw FlowStorageError("task edge points forward");
          node.args.push_back({ArgSpec::Kind::TaskResult, Value(), {}, up});
        }
      }
      for (std::size_t up : t.value("after", std::vector<std::size_t>{})) {
        if (up >= graph.tasks.size()) throw FlowStorageError("task edge points forward");
        node.after.push_back(up);
      }
      graph.task_names.insert(node.name);
      graph.tasks.push_back(std::move(node));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FlowStorageError(std::string("The serialized flow graph is malformed: ") + e.what());
  }
  link_edges(graph);
  return graph;
}

}  // namespace

Graph graph_from_json(const Value& json) { return graph_from_json_impl(json); }

Graph graph_from_json(Value&& json) { return graph_from_json_impl(json); }

Value resolve_parameters(const Graph& graph, const Value& given) {
  if (!given.is_null() && !given.is_object()) {
    throw ValueError("Flow parameters must be a JSON object of name: value.");
  }
  Value out = Value::object();
  if (given.is_object()) {
    for (auto it = given.begin(); it != given.end(); ++it) {
      const ParamSpec* spec = find_param(graph, it.key());
      if (!spec) {
        std::string known;
        for (const ParamSpec& p : graph.params) known += (known.empty() ? "" : ", ") + p.name;
        throw ValueError("Flow '" + graph.name + "' has no parameter '" + it.key() + "'" +
                         (known.empty() ? std::string(" (it takes none).")
                                        : ". Its parameters are: " + known + "."));
      }
      std::string why;
      if (!value_matches(spec->type, it.value(), &why)) {
        throw ValueError("Parameter '" + it.key() + "' expects " + spec->type + ", got " +
                         it.value().dump() + (why.empty() ? "" : " (" + why + ")") + ".");
      }
      out[it.key()] = it.value();
    }
  }
  for (const ParamSpec& p : graph.params) {
    if (out.contains(p.name)) continue;
    if (!p.default_value) {
      throw ValueError("Flow '" + graph.name + "' requires parameter '" + p.name + "' (" + p.type +
                       "); pass it with --param " + p.name + "=VALUE.");
    }
    out[p.name] = *p.default_value;
  }
  return out;
}

}  // namespace ferry::detail
