// Task options, task and parameter handles, and how a C++ callable becomes a task.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "ferry/codec.hpp"

namespace ferry {

namespace detail {
struct Graph;
}

// When a task runs, given the final states of its upstream tasks.
enum class Trigger {
  all_successful,  // default: every upstream task succeeded (else TriggerFailed)
  all_finished,    // always, once upstream tasks are final
  any_failed,      // at least one upstream task failed (else Skipped)
  any_successful,  // at least one upstream task succeeded (else TriggerFailed)
};

const char* to_string(Trigger trigger);

// A task in a flow, without its result type: what order-only edges take.
class TaskHandle {
 public:
  TaskHandle() = default;
  TaskHandle(detail::Graph* graph, std::size_t index) : graph_(graph), index_(index) {}
  std::size_t index() const { return index_; }
  detail::Graph* graph() const { return graph_; }

 private:
  detail::Graph* graph_ = nullptr;
  std::size_t index_ = 0;
};

// A task whose result (of type R) can be passed to other tasks.
template <class R>
class Task : public TaskHandle {
 public:
  using result_type = R;
  using TaskHandle::TaskHandle;
};

// A flow parameter of type T, passed to tasks like a task result.
template <class T>
class Param {
 public:
  using value_type = T;
  Param(detail::Graph* graph, std::string name) : graph_(graph), name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  detail::Graph* graph() const { return graph_; }

 private:
  detail::Graph* graph_;
  std::string name_;
};

struct TaskOptions {
  std::string name{};  // default: the function's name
  int max_retries = 0;
  std::chrono::milliseconds retry_delay{0};
  std::chrono::milliseconds timeout{0};  // 0: none
  std::vector<std::string> tags{};
  Trigger trigger = Trigger::all_successful;
  std::vector<TaskHandle> after{};  // order-only upstream tasks
};

namespace detail {

// A task body as the executor calls it: decoded arguments in, encoded result out.
using TaskFn = Value (*)(const Value* const* args, std::size_t count);

// Records fn under key in the task table of the module being loaded (or the program's own
// table). Called from static initializers, so frozen flows bind tasks without running the
// FERRY_FLOWS block.
bool register_task(const char* key, TaskFn fn);

struct ArgSpec {
  enum class Kind { Constant, Parameter, TaskResult };
  Kind kind;
  Value constant;        // Constant
  std::string param;     // Parameter
  std::size_t task = 0;  // TaskResult
};

struct TaskSpec {
  std::string key;           // stable name of the callable in its module
  std::string default_name;  // the function's name
  TaskFn fn;
  TaskOptions options;
  std::vector<ArgSpec> args;
};

// Adds a task to the graph and returns its index; checks the handles belong to it.
std::size_t add_task(Graph& graph, TaskSpec spec);
void add_parameter(Graph& graph, std::string name, std::string type, const Value* default_value);
// Refuse handles of another flow (or out of range) with a ValueError.
void check_param(const Graph& graph, const Graph* owner, const std::string& name);
void check_task(const Graph& graph, const Graph* owner, std::size_t index);

template <class F>
struct callable_traits;
template <class R, class... A>
struct callable_traits<R (*)(A...)> {
  using result = R;
  using args = std::tuple<A...>;
};
template <class R, class... A>
struct callable_traits<R (*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R (*)(A...)> {};
template <class F>
requires std::is_class_v<F>
struct callable_traits<F> : callable_traits<decltype(&F::operator())> {
};

template <auto F>
using traits_of = callable_traits<std::remove_cv_t<decltype(F)>>;

template <auto F>
struct TaskTag {};

// Mangled names are unique within a program, and deterministic for a given source, so they
// key a module's tasks (a lambda's name carries its position in the source).
template <auto F>
const char* task_key() {
  return typeid(TaskTag<F>).name();
}

std::string name_from_signature(const char* pretty);

template <auto F>
std::string task_default_name() {
  return name_from_signature(__PRETTY_FUNCTION__);
}

[[noreturn]] void throw_argument_error(std::size_t position, const char* what);

// nlohmann narrows integers silently; a value that does not fit is an argument error.
template <class D>
void check_integer_fits(const Value& value, std::size_t position) {
  bool fits = true;
  if (value.is_number_unsigned()) {
    fits = std::in_range<D>(value.template get<std::uint64_t>());
  } else if (value.is_number_integer()) {
    fits = std::in_range<D>(value.template get<std::int64_t>());
  } else if (value.is_number_float()) {
    double d = value.template get<double>();
    fits = std::isfinite(d) && d == std::trunc(d) &&
           d >= static_cast<double>(std::numeric_limits<D>::min()) &&
           d <= static_cast<double>(std::numeric_limits<D>::max());
  }
  if (!fits)
    throw_argument_error(
        position,
        ("the value " + value.dump() + " does not fit the parameter's integer type").c_str());
}

template <class P>
std::decay_t<P> decode_arg(const Value* value, std::size_t position) {
  using D = std::decay_t<P>;
  if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool>)
    check_integer_fits<D>(*value, position);
  try {
    return value->template get<D>();
  } catch (const std::exception& e) {
    throw_argument_error(position, e.what());
  }
}

template <auto F, std::size_t... I>
Value invoke_with(const Value* const* args, std::index_sequence<I...>) {
  using Args = typename traits_of<F>::args;
  using R = typename traits_of<F>::result;
  if constexpr (std::is_void_v<R>) {
    F(decode_arg<std::tuple_element_t<I, Args>>(args[I], I + 1)...);
    return Value();
  } else {
    return Value(F(decode_arg<std::tuple_element_t<I, Args>>(args[I], I + 1)...));
  }
}

template <auto F>
Value invoke(const Value* const* args, std::size_t) {
  using Args = typename traits_of<F>::args;
  return invoke_with<F>(args, std::make_index_sequence<std::tuple_size_v<Args>>());
}

// Instantiated once per task callable; loading the module that holds it registers its thunk.
// Internal linkage on purpose: GCC makes a template's static member a process-wide unique
// symbol otherwise, and a second copy of a module (a script module and the same code
// thawed from a package) would then skip its registrations.
namespace {
template <auto F>
struct Binding {
  static inline const bool registered = register_task(task_key<F>(), &invoke<F>);
};
}  // namespace

template <class T>
struct is_param : std::false_type {};
template <class T>
struct is_param<Param<T>> : std::true_type {};
template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};

template <class P, class A>
ArgSpec make_arg(Graph& graph, A&& arg) {
  using Arg = std::remove_cvref_t<A>;
  using Want = std::decay_t<P>;
  if constexpr (is_param<Arg>::value) {
    static_assert(std::is_convertible_v<typename Arg::value_type, Want>,
                  "ferry: a parameter's type does not convert to the task argument's type");
    check_param(graph, arg.graph(), arg.name());
    return ArgSpec{ArgSpec::Kind::Parameter, Value(), arg.name(), 0};
  } else if constexpr (is_task<Arg>::value) {
    static_assert(!std::is_void_v<typename Arg::result_type>,
                  "ferry: this upstream task returns void, so it has no result to pass; add it "
                  "to TaskOptions::after for an order-only edge instead");
    static_assert(std::is_convertible_v<typename Arg::result_type, Want>,
                  "ferry: an upstream task's result type does not convert to the task "
                  "argument's type");
    check_task(graph, arg.graph(), arg.index());
    return ArgSpec{ArgSpec::Kind::TaskResult, Value(), {}, arg.index()};
  } else {
    static_assert(std::is_convertible_v<A&&, Want>,
                  "ferry: a constant argument does not convert to the task argument's type");
    return ArgSpec{ArgSpec::Kind::Constant, Value(static_cast<Want>(std::forward<A>(arg))), {}, 0};
  }
}

template <class A>
inline constexpr bool is_options_v = std::is_same_v<std::remove_cvref_t<A>, TaskOptions>;

template <class... A>
inline constexpr bool starts_with_options_v = false;
template <class First, class... Rest>
inline constexpr bool starts_with_options_v<First, Rest...> = is_options_v<First>;

template <auto F, std::size_t... I, class... A>
std::vector<ArgSpec> make_args(Graph& graph, std::index_sequence<I...>, A&&... args) {
  using Params = typename traits_of<F>::args;
  std::vector<ArgSpec> out;
  out.reserve(sizeof...(A));
  (out.push_back(make_arg<std::tuple_element_t<I, Params>>(graph, std::forward<A>(args))), ...);
  return out;
}

template <auto F, class... A>
Task<std::decay_t<typename traits_of<F>::result>> make_task(Graph& graph, TaskOptions options,
                                                            A&&... args) {
  using Params = typename traits_of<F>::args;
  static_assert(std::tuple_size_v<Params> == sizeof...(A),
                "ferry: a task takes as many arguments as its function has parameters");
  (void)Binding<F>::registered;
  TaskSpec spec{task_key<F>(), task_default_name<F>(), &invoke<F>, std::move(options),
                make_args<F>(graph, std::index_sequence_for<A...>(), std::forward<A>(args)...)};
  return {&graph, add_task(graph, std::move(spec))};
}

}  // namespace detail
}  // namespace ferry
