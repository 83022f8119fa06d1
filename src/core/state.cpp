#include "ferry/state.hpp"

#include <array>

namespace ferry {

namespace {
constexpr std::array<std::pair<State, const char*>, 11> kNames = {{
    {State::Scheduled, "Scheduled"},
    {State::Pending, "Pending"},
    {State::Running, "Running"},
    {State::Retrying, "Retrying"},
    {State::Success, "Success"},
    {State::Failed, "Failed"},
    {State::TimedOut, "TimedOut"},
    {State::TriggerFailed, "TriggerFailed"},
    {State::Skipped, "Skipped"},
    {State::Cancelled, "Cancelled"},
    {State::Lost, "Lost"},
}};
}  // namespace

const char* to_string(State state) {
  for (const auto& [s, name] : kNames) {
    if (s == state) return name;
  }
  return "Unknown";
}

std::optional<State> state_from_string(std::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (name == n) return s;
  }
  return std::nullopt;
}

bool is_final(State state) {
  switch (state) {
    case State::Success:
    case State::Failed:
    case State::TimedOut:
    case State::TriggerFailed:
    case State::Skipped:
    case State::Cancelled:
    case State::Lost:
      return true;
    default:
      return false;
  }
}

bool is_failure(State state) {
  return state == State::Failed || state == State::TimedOut || state == State::TriggerFailed ||
         state == State::Cancelled || state == State::Lost;
}

}  // namespace ferry
