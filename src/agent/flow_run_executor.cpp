#include "agent/flow_run_executor.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/secrets.hpp"
#include "core/config.hpp"
#include "core/masking.hpp"
#include "ferry/error.hpp"
#include "ferry/flow.hpp"
#include "ferry/storage/storage.hpp"
#include "storage/hostname.hpp"

namespace ferry::agent {

namespace {

// Heartbeats the run while it executes, so a stuck or vanished process shows as Lost.
class Heartbeat {
 public:
  Heartbeat(backend::Backend& backend, std::string run_id, std::chrono::milliseconds every)
      : thread_([this, &backend, run_id = std::move(run_id), every] {
          std::unique_lock lock(mutex_);
          while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
            try {
              backend.heartbeat_flow_runs({run_id});
            } catch (const std::exception&) {
              // The next beat tries again; a long outage shows as Lost, which is the truth.
            }
          }
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Every message and log line stored for a run goes through masking first, so no backend
// row holds a resolved secret value.
void log_line(backend::Backend& backend, const std::string& run_id, const std::string& level,
              const std::string& message) {
  backend.add_logs({{run_id, "", level, detail::mask_secrets(message), backend::Clock::now(), 0}});
}

void fail_run(backend::Backend& backend, const std::string& run_id, const std::string& message) {
  std::string masked = detail::mask_secrets(message);
  std::fprintf(stderr, "ferry: run %s failed: %s\n", run_id.c_str(), masked.c_str());
  log_line(backend, run_id, "ERROR", masked);
  backend.set_flow_run_state(run_id, State::Failed, masked);
}

}  // namespace

int execute_flow_run(backend::Backend& backend, const std::string& run_id) {
  std::optional<backend::FlowRun> run = backend.get_flow_run(run_id);
  if (!run) throw ValueError("Flow run '" + run_id + "' does not exist.");
  if (is_final(run->state)) {
    throw ValueError("Flow run '" + run_id + "' already ended (" + to_string(run->state) + ").");
  }
  std::optional<backend::FlowVersion> version =
      backend.get_flow_version_by_id(run->flow_version_id);
  if (!version) throw ValueError("The flow version of run '" + run_id + "' does not exist.");

  auto every = std::chrono::milliseconds(
      static_cast<long long>(config::get_number("agent", "heartbeat_interval", 5) * 1000));
  Heartbeat heartbeat(backend, run_id, every);
  backend.heartbeat_flow_runs({run_id});
  backend.set_flow_run_state(
      run_id, State::Running,
      "Started by process " + std::to_string(::getpid()) + " on " + storage::local_hostname());

  // The storage descriptor, secrets, then the flow. A secret that cannot be resolved fails
  // the run with one line naming it; any other failure here is a storage failure.
  Flow flow("unloaded");
  std::map<std::string, std::string> secrets;
  Result result;
  std::optional<storage::Storage> storage;
  try {
    storage = storage::Storage::deserialize(version->storage);
  } catch (const std::exception& e) {
    fail_run(backend, run_id, std::string("Failed to load flow from storage: ") + e.what());
    return 1;
  }
  try {
    // Registers every value for masking before anything can print or store it.
    secrets = resolve_secrets(storage->secrets());
  } catch (const std::exception& e) {
    fail_run(backend, run_id, e.what());
    return 1;
  }
  try {
    flow = storage->get_flow(run->flow_name);
    result = Result::deserialize(version->result);
    Value pinned = {{"storage", storage->type()}, {"flow_version", version->version}};
    if (auto it = storage->impl()->digests.find(run->flow_name);
        it != storage->impl()->digests.end()) {
      pinned["sha256"] = it->second;
    }
    // Named: items() refers to the object, which must outlive the loop.
    Value fetched = storage->impl()->fetched_pin(run->flow_name);
    for (const auto& [key, value] : fetched.items()) pinned[key] = value;
    backend.set_flow_run_pinned(run_id, pinned);
  } catch (const std::exception& e) {
    fail_run(backend, run_id, std::string("Failed to load flow from storage: ") + e.what());
    return 1;
  }

  RunOptions options;
  options.run_id = run_id;
  options.secrets = std::move(secrets);
  options.result = result;
  // Reports must not take the run down: a backend hiccup is printed and the run goes on.
  options.on_state = [&](const StateEvent& e) {
    if (e.task_index < 0) return;  // the flow's own state is reported below
    try {
      backend.set_task_run_state(run_id, e.task_name, e.record.state,
                                 detail::mask_secrets(e.record.message), e.attempts,
                                 e.result_location);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "ferry: could not report task '%s': %s\n", e.task_name.c_str(),
                   ex.what());
    }
  };
  options.on_log = [&](const LogRecord& record) {
    LogRecord r = record;  // the executor masks its lines already; this is the last gate
    detail::mask_secrets_in(r.message);
    std::fprintf(stderr, "%s\n", format_log_line(r).c_str());
    try {
      backend.add_logs({{run_id, r.task_name, to_string(r.level), r.message,
                         backend::Clock::time_point(std::chrono::milliseconds(r.time_ms)), 0}});
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "ferry: could not store a log line: %s\n", ex.what());
    }
  };
  RunResult outcome;
  try {
    outcome = flow.run(run->parameters, options);
  } catch (const std::exception& e) {
    fail_run(backend, run_id, std::string("The flow run could not start: ") + e.what());
    return 1;
  }
  backend.set_flow_run_result(run_id, detail::mask_secrets_json(outcome.result));
  backend.set_flow_run_state(run_id, outcome.state, detail::mask_secrets(outcome.message));
  return outcome.ok() ? 0 : 1;
}

}  // namespace ferry::agent
