// ferry::Flow: a named graph of tasks with typed parameters and an optional storage.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferry/codec.hpp"
#include "ferry/context.hpp"
#include "ferry/result.hpp"
#include "ferry/run_config.hpp"
#include "ferry/state.hpp"
#include "ferry/storage/storage.hpp"
#include "ferry/task.hpp"
#include "ferry/version.hpp"

namespace ferry {

struct TaskRunResult {
  std::string name;
  State state = State::Pending;
  Value result;         // null unless Success
  std::string message;  // why it failed, was skipped or retried last
  int attempts = 0;
  std::string result_location;  // where the result was persisted, if the run has a Result
  std::vector<StateRecord> history;
};

struct RunResult {
  std::string flow_name;
  std::string run_id;
  State state = State::Pending;
  // The result of the flow's terminal task when it has one, else an object mapping each
  // terminal task's name to its result.
  Value result;
  std::string message;
  std::vector<TaskRunResult> tasks;  // in the order the tasks were added
  std::vector<StateRecord> history;

  bool ok() const { return state == State::Success; }
  // The task of that name, or nullptr.
  const TaskRunResult* task(std::string_view name) const;
};

// A state change during a run: task_index is -1 for the flow itself.
struct StateEvent {
  long task_index;
  std::string task_name;
  StateRecord record;
  int attempts = 0;
  std::string result_location;
};

struct RunOptions {
  std::size_t threads = 0;  // worker threads; 0: one per core (at least 2)
  std::string run_id;       // generated when empty
  std::map<std::string, std::string> secrets;
  std::function<void(const LogRecord&)> on_log;     // default: stderr
  std::function<void(const StateEvent&)> on_state;  // called from worker threads, serialized
  const std::atomic<bool>* cancel = nullptr;        // set to true: unstarted tasks are Cancelled
  // Persist each task's result here and, before running a task, read back a result this
  // run already has (a run started again skips the tasks that finished).
  Result result;
};

class Flow {
 public:
  explicit Flow(std::string name);
  Flow(std::string name, storage::Storage storage);

  const std::string& name() const;

  // A parameter with a default value.
  template <class T>
  Param<T> parameter(std::string name, T default_value) {
    Value v = encode(default_value);
    detail::add_parameter(*graph_, name, type_of<T>(), &v);
    return Param<T>(graph_.get(), std::move(name));
  }
  Param<std::string> parameter(std::string name, const char* default_value) {
    return parameter<std::string>(std::move(name), std::string(default_value));
  }
  // A required parameter: a run without it is refused.
  template <class T>
  Param<T> parameter(std::string name) {
    detail::add_parameter(*graph_, name, type_of<T>(), nullptr);
    return Param<T>(graph_.get(), std::move(name));
  }

  // A task calling F (a free function or a capture-free lambda) with args: parameters,
  // other tasks' results, or constants.
  template <auto F, class... A>
  requires(!detail::starts_with_options_v<A...>) auto task(A&&... args) {
    return detail::make_task<F>(*graph_, TaskOptions{}, std::forward<A>(args)...);
  }
  template <auto F, class... A>
  auto task(TaskOptions options, A&&... args) {
    return detail::make_task<F>(*graph_, std::move(options), std::forward<A>(args)...);
  }
  // A capture-free lambda passed as a value: flow.task([](int x) { ... }, a).
  template <class L, class... A>
  requires(std::is_class_v<std::remove_cvref_t<L>> &&
           !detail::is_options_v<L>) auto task(L&&, A&&... args) {
    using Fn = std::remove_cvref_t<L>;
    static_assert(std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>,
                  "ferry: a task callable must not capture state. A stored flow keeps only its "
                  "code, so captured values would be lost. Pass the value as a task argument or "
                  "a flow parameter, and use a free function or a capture-free lambda.");
    return detail::make_task<Fn{}>(*graph_, TaskOptions{}, std::forward<A>(args)...);
  }
  template <class L, class... A>
  requires std::is_class_v<std::remove_cvref_t<L>>
  auto task(TaskOptions options, L&&, A&&... args) {
    using Fn = std::remove_cvref_t<L>;
    static_assert(std::is_empty_v<Fn> && std::is_default_constructible_v<Fn>,
                  "ferry: a task callable must not capture state. A stored flow keeps only its "
                  "code, so captured values would be lost. Pass the value as a task argument or "
                  "a flow parameter, and use a free function or a capture-free lambda.");
    return detail::make_task<Fn{}>(*graph_, std::move(options), std::forward<A>(args)...);
  }

  // An order-only edge: downstream runs after upstream, without its result.
  void add_edge(TaskHandle upstream, TaskHandle downstream);

  // Runs the flow in this process. params: an object of parameter values.
  RunResult run(const Value& params = Value::object(), const RunOptions& options = {}) const;

  std::size_t task_count() const;
  std::vector<std::string> task_names() const;

  // Where the flow is stored (empty: the default chosen at registration).
  storage::Storage storage;
  // Where task results are persisted (empty: the storage's default result at
  // registration, which may be none).
  Result result;
  // How many times a run of this flow is rescheduled when its agent stops heartbeating
  // (the agent's machine died, the agent was killed) before the run is left Lost. Recorded
  // in the flow version's run config at registration; must be 0 or more.
  int lost_run_retries = 1;
  // Where and how its runs execute: Universal (any agent, the default), Local (env, working
  // dir) or Docker (image, volumes). Recorded with the flow version at registration; its
  // labels join the version's labels. See docs/run-configs.md.
  run::RunConfig run_config;

  // The graph as data: parameters, tasks (by key), edges, options.
  Value to_json() const;

  std::shared_ptr<detail::Graph> graph() const { return graph_; }
  explicit Flow(std::shared_ptr<detail::Graph> graph);

 private:
  std::shared_ptr<detail::Graph> graph_;
};

// The flows a source file defines, filled by its FERRY_FLOWS block.
class FlowSet {
 public:
  void add(Flow flow) { flows_.push_back(std::move(flow)); }
  std::vector<Flow>& flows() { return flows_; }

 private:
  std::vector<Flow> flows_;
};

namespace detail {
// What a flow module exports (as `ferry_module_v1`).
struct ModuleInfo {
  BuildInfo build;
  void (*build_flows)(FlowSet&);
};
}  // namespace detail

}  // namespace ferry

// Defines the flows of a source file: the body runs when the flow is registered (and, for
// script storage, each time the source is loaded to run), never for a frozen flow's run.
#define FERRY_FLOWS(set)                                                               \
  static void ferry_build_flows_(::ferry::FlowSet&);                                   \
  extern "C" __attribute__((visibility("default"))) const ::ferry::detail::ModuleInfo* \
  ferry_module_v1() {                                                                  \
    static const ::ferry::detail::ModuleInfo info{::ferry::detail::this_build(),       \
                                                  &ferry_build_flows_};                \
    return &info;                                                                      \
  }                                                                                    \
  static void ferry_build_flows_(::ferry::FlowSet& set)
