// Run states of flows and tasks, with their history.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

enum class State {
  Scheduled,  // a flow run waiting for an agent
  Pending,    // a task waiting for its upstream tasks
  Running,
  Retrying,  // failed, will run again after retry_delay
  Success,
  Failed,
  TimedOut,       // ran longer than its timeout
  TriggerFailed,  // its trigger did not hold (e.g. an upstream task failed)
  Skipped,        // its trigger did not fire (e.g. any_failed with no failure upstream)
  Cancelled,
  Lost,  // a flow run whose agent stopped heartbeating while it ran
};

const char* to_string(State state);
std::optional<State> state_from_string(std::string_view name);

// Success, Failed, TimedOut, TriggerFailed, Skipped, Cancelled and Lost are final.
bool is_final(State state);
// Failed, TimedOut, TriggerFailed, Cancelled and Lost count as failures.
bool is_failure(State state);

struct StateRecord {
  State state;
  std::chrono::system_clock::time_point at;
  std::string message;
};

}  // namespace ferry
