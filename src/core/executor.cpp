#include "core/executor.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "core/masking.hpp"
#include "core/run_context.hpp"
#include "core/thread_pool.hpp"
#include "ferry/error.hpp"

namespace ferry::detail {

namespace {

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kInlineArgs = 8;

struct TaskTimedOut {
  long long ms;
};

struct TaskSlot {
  std::atomic<std::size_t> waiting{0};
  TaskRunResult result;
};

// A task call with a timeout runs on its own thread, which outlives the wait if the task
// overruns (C++ cannot stop a thread); this state is shared with it so nothing it touches
// is freed under it, and its late log lines are dropped.
struct TimedCall {
  TaskFn fn;
  std::vector<Value> args;
  Context context;
  LogSink sink;
  std::mutex mutex;
  bool abandoned = false;
};

Value call_with_timeout(const TaskNode& node, const Value* const* argv, std::size_t argc,
                        const Context& context, const LogSink* sink) {
  auto call = std::make_shared<TimedCall>();
  call->fn = node.fn;
  call->args.reserve(argc);
  for (std::size_t i = 0; i < argc; ++i) call->args.push_back(*argv[i]);
  call->context = context;
  call->sink = [weak = std::weak_ptr<TimedCall>(call), sink](const LogRecord& r) {
    auto c = weak.lock();
    if (!c) return;
    std::lock_guard lock(c->mutex);
    if (!c->abandoned && sink && *sink) (*sink)(r);
  };
  std::promise<Value> promise;
  std::future<Value> future = promise.get_future();
  std::thread([call, promise = std::move(promise)]() mutable {
    ThreadRun& tr = thread_run();
    tr.run = call.get();
    tr.context = call->context;
    tr.sink = &call->sink;
    std::vector<const Value*> ptrs;
    for (const Value& v : call->args) ptrs.push_back(&v);
    try {
      promise.set_value(call->fn(ptrs.data(), ptrs.size()));
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
    tr.run = nullptr;
  }).detach();
  if (future.wait_for(std::chrono::milliseconds(node.timeout_ms)) == std::future_status::ready) {
    return future.get();
  }
  std::lock_guard lock(call->mutex);
  call->abandoned = true;
  throw TaskTimedOut{node.timeout_ms};
}

class FlowRun {
 public:
  FlowRun(const Graph& graph, Value params, const RunOptions& options)
      : graph_(graph), params_(std::move(params)), options_(options), slots_(graph.tasks.size()) {
    run_id_ = options.run_id.empty() ? new_run_id() : options.run_id;
    // Every line of the run's log, the tasks' and ferry's own, passes here: registered
    // secret values are masked before anyone sees them.
    if (options.on_log) {
      sink_ = [this](const LogRecord& r) {
        std::lock_guard lock(log_mutex_);
        if (!has_secret_values()) return options_.on_log(r);
        LogRecord masked = r;
        mask_secrets_in(masked.message);
        options_.on_log(masked);
      };
    } else {
      sink_ = [this](const LogRecord& r) {
        std::lock_guard lock(log_mutex_);
        if (!has_secret_values()) {
          std::fprintf(stderr, "%s\n", format_log_line(r).c_str());
          return;
        }
        LogRecord masked = r;
        mask_secrets_in(masked.message);
        std::fprintf(stderr, "%s\n", format_log_line(masked).c_str());
      };
    }
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].waiting.store(graph.tasks[i].upstream.size(), std::memory_order_relaxed);
      slots_[i].result.name = graph.tasks[i].name;
      slots_[i].result.history.reserve(4);
    }
    remaining_.store(slots_.size());
  }

  RunResult run() {
    RunResult out;
    out.flow_name = graph_.name;
    out.run_id = run_id_;
    record_flow(out, State::Running, "");
    if (!slots_.empty()) {
      pool_ = std::make_unique<ThreadPool>(options_.threads);
      start();
      std::unique_lock lock(done_mutex_);
      done_cv_.wait(lock, [this] { return done_; });
      lock.unlock();
      pool_.reset();  // joins the workers: nothing touches this run after here
    }
    finish(out);
    return out;
  }

 private:
  void start() {
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (graph_.tasks[i].upstream.empty()) ready.push_back(i);
    }
    for (std::size_t i : ready) pool_->submit({&FlowRun::job, this, i});
  }

  static void job(void* self, std::size_t index) {
    auto* run = static_cast<FlowRun*>(self);
    // A finished task's first ready successor runs here, on the same thread, which keeps
    // chains of tasks off the queue.
    for (std::size_t next = index; next != kNone;) next = run->execute(next);
  }

  bool cancelled() const {
    return options_.cancel && options_.cancel->load(std::memory_order_relaxed);
  }

  void record(std::size_t index, State state, std::string message) {
    mask_secrets_in(message);  // a task's failure message may quote a secret
    TaskRunResult& r = slots_[index].result;
    if (state == State::Failed || state == State::TimedOut || state == State::Retrying) {
      // A task's own failure reason belongs in the run's log, not only in its state.
      sink_({state == State::Retrying ? LogLevel::Warning : LogLevel::Error, run_id_, graph_.name,
             r.name,
             "Task '" + r.name + "' " +
                 (state == State::Retrying ? "failed, will retry"
                                           : "ended " + std::string(to_string(state))) +
                 ": " + message,
             now_ms()});
    }
    r.state = state;
    r.message = message;
    r.history.push_back({state, std::chrono::system_clock::now(), std::move(message)});
    if (options_.on_state) {
      std::lock_guard lock(event_mutex_);
      options_.on_state(
          {static_cast<long>(index), r.name, r.history.back(), r.attempts, r.result_location});
    }
  }

  void record_flow(RunResult& out, State state, std::string message) {
    mask_secrets_in(message);
    out.state = state;
    out.message = message;
    out.history.push_back({state, std::chrono::system_clock::now(), std::move(message)});
    if (options_.on_state) {
      std::lock_guard lock(event_mutex_);
      options_.on_state({-1, graph_.name, out.history.back(), 0, {}});
    }
  }

  void enter_task(const TaskNode& node, int attempt) {
    ThreadRun& tr = thread_run();
    if (tr.run != this) {
      tr.run = this;
      tr.sink = &sink_;
      tr.context.run_id = run_id_;
      tr.context.flow_name = graph_.name;
      tr.context.parameters = params_;
      tr.context.secrets = options_.secrets;
      tr.context.flow_file = graph_.source_file;
    }
    tr.context.task_name = node.name;
    tr.context.attempt = attempt;
  }

  const Value* argument(const ArgSpec& arg) const {
    switch (arg.kind) {
      case ArgSpec::Kind::Constant:
        return &arg.constant;
      case ArgSpec::Kind::Parameter:
        return &params_.find(arg.param).value();
      case ArgSpec::Kind::TaskResult:
        return &slots_[arg.task].result.result;
    }
    return nullptr;
  }

  // Runs one attempt of a task; returns a task to run next on this thread, or kNone.
  std::size_t execute(std::size_t index) {
    const TaskNode& node = graph_.tasks[index];
    TaskRunResult& r = slots_[index].result;
    if (cancelled()) return complete(index, State::Cancelled, "The flow run was cancelled.");
    if (options_.result && r.attempts == 0) {
      // A run started again reads back what its tasks already computed.
      if (std::optional<Value> stored = read_result(index)) {
        return complete(
            index, State::Success,
            "Result read from " + r.result_location + " (computed earlier in this run).",
            std::move(*stored));
      }
    }
    r.attempts += 1;
    record(index, State::Running, "");
    enter_task(node, r.attempts);

    const Value* inline_args[kInlineArgs];
    std::vector<const Value*> heap_args;
    const Value** argv = inline_args;
    if (node.args.size() > kInlineArgs) {
      heap_args.resize(node.args.size());
      argv = heap_args.data();
    }
    for (std::size_t i = 0; i < node.args.size(); ++i) argv[i] = argument(node.args[i]);

    std::string error;
    State failed_state = State::Failed;
    try {
      Value value = node.timeout_ms > 0 ? call_with_timeout(node, argv, node.args.size(),
                                                            thread_run().context, &sink_)
                                        : node.fn(argv, node.args.size());
      thread_run().context.task_name.clear();
      if (options_.result) write_result(index, value);
      return complete(index, State::Success, "", std::move(value));
    } catch (const TaskTimedOut& t) {
      error = "Task timed out after " + std::to_string(t.ms) + " ms.";
      failed_state = State::TimedOut;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "The task threw an exception that is not a std::exception.";
    }
    thread_run().context.task_name.clear();
    if (r.attempts <= node.max_retries) {
      record(index, State::Retrying,
             error + " (retry " + std::to_string(r.attempts) + " of " +
                 std::to_string(node.max_retries) + ")");
      if (node.retry_delay_ms > 0) {
        pool_->submit_at(ThreadPool::Clock::now() + std::chrono::milliseconds(node.retry_delay_ms),
                         {&FlowRun::job, this, index});
        return kNone;
      }
      return index;
    }
    return complete(index, failed_state, std::move(error));
  }

  std::optional<Value> read_result(std::size_t index) {
    TaskRunResult& r = slots_[index].result;
    r.result_location = options_.result.location_for(run_id_, graph_.name, r.name);
    try {
      return options_.result.read(r.result_location);
    } catch (const std::exception&) {
      return std::nullopt;  // unreadable: compute it again
    }
  }

  void write_result(std::size_t index, const Value& value) {
    TaskRunResult& r = slots_[index].result;
    r.result_location = options_.result.location_for(run_id_, graph_.name, r.name);
    try {
      options_.result.write(r.result_location, value);
    } catch (const std::exception& e) {
      throw std::runtime_error("Could not persist the task's result to " + r.result_location +
                               ": " + e.what());
    }
  }

  // Whether a task whose upstream tasks are all final should run; if not, the state it
  // ends in and why.
  bool should_run(std::size_t index, State* state, std::string* why) const {
    const TaskNode& node = graph_.tasks[index];
    if (cancelled()) {
      *state = State::Cancelled;
      *why = "The flow run was cancelled.";
      return false;
    }
    const std::string* failed = nullptr;
    const std::string* skipped = nullptr;
    State failed_state = State::Failed;
    bool any_success = false;
    for (std::size_t up : node.upstream) {
      const TaskRunResult& u = slots_[up].result;
      if (is_failure(u.state) && !failed) {
        failed = &u.name;
        failed_state = u.state;
      }
      if (u.state == State::Skipped && !skipped) skipped = &u.name;
      if (u.state == State::Success) any_success = true;
    }
    switch (node.trigger) {
      case Trigger::all_successful:
        if (failed) {
          *state = State::TriggerFailed;
          *why = "Upstream task '" + *failed + "' ended " + to_string(failed_state) + ".";
          return false;
        }
        if (skipped) {
          *state = State::Skipped;
          *why = "Upstream task '" + *skipped + "' was skipped.";
          return false;
        }
        return true;
      case Trigger::all_finished:
        return true;
      case Trigger::any_failed:
        if (failed || node.upstream.empty()) return true;
        *state = State::Skipped;
        *why = "No upstream task failed (trigger any_failed).";
        return false;
      case Trigger::any_successful:
        if (any_success || node.upstream.empty()) return true;
        *state = State::TriggerFailed;
        *why = "No upstream task succeeded (trigger any_successful).";
        return false;
    }
    return true;
  }

  // Makes a task final, then releases its downstream tasks: the first one that should run
  // is returned to run on this thread, the others are queued, and the ones whose trigger
  // does not hold are made final in turn (iteratively, so long chains use no stack).
  std::size_t complete(std::size_t index, State state, std::string message, Value value = {}) {
    slots_[index].result.result = std::move(value);
    record(index, state, std::move(message));
    std::size_t run_here = kNone;
    std::size_t finished = 0;
    std::vector<std::size_t> stack{index};
    while (!stack.empty()) {
      std::size_t done = stack.back();
      stack.pop_back();
      ++finished;
      for (std::size_t down : graph_.tasks[done].downstream) {
        if (slots_[down].waiting.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
        State end;
        std::string why;
        if (should_run(down, &end, &why)) {
          if (run_here == kNone) {
            run_here = down;
          } else {
            pool_->submit({&FlowRun::job, this, down});
          }
        } else {
          record(down, end, std::move(why));
          stack.push_back(down);
        }
      }
    }
    if (remaining_.fetch_sub(finished, std::memory_order_acq_rel) == finished) {
      std::lock_guard lock(done_mutex_);
      done_ = true;
      done_cv_.notify_all();
    }
    return run_here;
  }

  void finish(RunResult& out) {
    std::vector<std::string> failures;
    bool any_cancelled = false;
    Value terminal = Value::object();
    std::size_t terminal_count = 0;
    const TaskRunResult* last_terminal = nullptr;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      TaskRunResult& r = slots_[i].result;
      if (is_failure(r.state)) failures.push_back(r.name);
      if (r.state == State::Cancelled) any_cancelled = true;
      if (graph_.tasks[i].downstream.empty()) {
        terminal[r.name] = r.result;
        ++terminal_count;
        last_terminal = &r;
      }
    }
    out.result = terminal_count == 1 ? last_terminal->result : std::move(terminal);
    out.tasks.reserve(slots_.size());
    for (TaskSlot& s : slots_) out.tasks.push_back(std::move(s.result));
    if (failures.empty()) {
      record_flow(out, State::Success, "All tasks succeeded.");
      return;
    }
    std::string names;
    for (std::size_t i = 0; i < failures.size() && i < 5; ++i) {
      names += (i ? ", " : "") + std::string("'") + failures[i] + "'";
    }
    if (failures.size() > 5) names += ", ...";
    record_flow(out, any_cancelled ? State::Cancelled : State::Failed,
                std::to_string(failures.size()) + " of " + std::to_string(slots_.size()) +
                    " tasks did not succeed: " + names + ".");
  }

  const Graph& graph_;
  const Value params_;
  const RunOptions& options_;
  std::string run_id_;
  LogSink sink_;
  std::mutex log_mutex_;
  std::mutex event_mutex_;
  std::vector<TaskSlot> slots_;
  std::atomic<std::size_t> remaining_{0};
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace

std::string new_run_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

RunResult run_graph(const Graph& graph, const Value& params, const RunOptions& options) {
  Value resolved = resolve_parameters(graph, params);
  for (const TaskNode& node : graph.tasks) {
    if (!node.fn) {
      throw FlowStorageError("Task '" + node.name + "' of flow '" + graph.name +
                             "' is not bound to code; load the flow through its module.");
    }
  }
  // The run's secrets are masked in everything it logs or reports, however they came.
  for (const auto& [name, value] : options.secrets) register_secret_value_and_parts(value);
  FlowRun run(graph, std::move(resolved), options);
  return run.run();
}

}  // namespace ferry::detail
