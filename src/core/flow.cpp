#include "ferry/flow.hpp"

#include <algorithm>

#include "core/executor.hpp"
#include "core/graph.hpp"
#include "ferry/error.hpp"

namespace ferry {

Flow::Flow(std::string name) : graph_(std::make_shared<detail::Graph>()) {
  if (name.empty()) throw ValueError("A flow needs a name: ferry::Flow flow(\"my-flow\").");
  graph_->name = std::move(name);
}

Flow::Flow(std::string name, storage::Storage storage_in) : Flow(std::move(name)) {
  storage = std::move(storage_in);
}

Flow::Flow(std::shared_ptr<detail::Graph> graph) : graph_(std::move(graph)) {}

const std::string& Flow::name() const { return graph_->name; }

void Flow::add_edge(TaskHandle upstream, TaskHandle downstream) {
  if (upstream.graph() != graph_.get() || downstream.graph() != graph_.get()) {
    throw ValueError("Flow '" + name() + "': add_edge joins tasks of this flow only.");
  }
  if (upstream.index() >= downstream.index()) {
    // Tasks are added in order, so an edge to an earlier task could close a cycle.
    throw ValueError("Flow '" + name() +
                     "': add_edge(upstream, downstream) needs upstream "
                     "to be added before downstream.");
  }
  auto& node = graph_->tasks[downstream.index()];
  if (std::find(node.after.begin(), node.after.end(), upstream.index()) != node.after.end()) return;
  node.after.push_back(upstream.index());
  if (std::find(node.upstream.begin(), node.upstream.end(), upstream.index()) ==
      node.upstream.end()) {
    node.upstream.push_back(upstream.index());
    graph_->tasks[upstream.index()].downstream.push_back(downstream.index());
  }
}

RunResult Flow::run(const Value& params, const RunOptions& options) const {
  return detail::run_graph(*graph_, params, options);
}

std::size_t Flow::task_count() const { return graph_->tasks.size(); }

std::vector<std::string> Flow::task_names() const {
  std::vector<std::string> names;
  for (const auto& t : graph_->tasks) names.push_back(t.name);
  return names;
}

Value Flow::to_json() const { return detail::graph_to_json(*graph_); }

const TaskRunResult* RunResult::task(std::string_view name) const {
  for (const TaskRunResult& t : tasks) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace ferry
