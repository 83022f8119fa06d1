// The JSON form of every backend struct, shared by `ferry server` (ApiHandler) and its
// client (RemoteBackend), so both ends read and write exactly the same documents.
//
// Times are integers: milliseconds since the Unix epoch. States are their names ("Running").
// Parsing is strict, because these documents come from the network: a missing required
// field, a field of the wrong type or a field this version does not know throws
// ferry::ValueError naming the field and what was expected, e.g.
//   field "limit": expected an integer, got a string
// Fields an older client may leave out have defaults (marked "optional" below); to_json
// always writes every field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.hpp"

namespace ferry::backend {

std::int64_t to_millis(Clock::time_point t);
Clock::time_point from_millis(std::int64_t ms);

// Optional: run_config ({}), labels ([]), result (null), idempotency_key (""),
// force_new_version (false).
Value to_json(const FlowVersionSpec& spec);
FlowVersionSpec flow_version_spec_from_json(const Value& json);

Value to_json(const FlowVersion& version);
FlowVersion flow_version_from_json(const Value& json);

Value to_json(const RegisterOutcome& outcome);
RegisterOutcome register_outcome_from_json(const Value& json);

// Optional: message ("").
Value to_json(const StateChange& change);
StateChange state_change_from_json(const Value& json);

// Optional: heartbeat (null), history ([]).
Value to_json(const FlowRun& run);
FlowRun flow_run_from_json(const Value& json);

// Optional: message (""), attempts (0), result_location (""), history ([]).
Value to_json(const TaskRun& task_run);
TaskRun task_run_from_json(const Value& json);

// Optional: task_name (""), seq (0).
Value to_json(const LogLine& line);
LogLine log_line_from_json(const Value& json);

// Optional: labels ([]).
Value to_json(const Agent& agent);
Agent agent_from_json(const Value& json);

// Every field is optional: project (""), flow_name (""), state (null: any), limit (100).
Value to_json(const RunFilter& filter);
RunFilter run_filter_from_json(const Value& json);

// Optional: revoked (null).
Value to_json(const ApiKey& key);
ApiKey api_key_from_json(const Value& json);

namespace json {

// Reads the fields of one JSON object strictly; `where` prefixes field names in errors
// ("history[2]."). Call done() after the last field to reject unknown ones.
class ObjectReader {
 public:
  ObjectReader(const Value& object, std::string where = {});

  bool has(const char* name) const;  // present and not null
  std::string string(const char* name);
  std::string string_or(const char* name, std::string fallback);
  std::int64_t int64(const char* name);
  std::int64_t int64_or(const char* name, std::int64_t fallback);
  int int32(const char* name);
  int int32_or(const char* name, int fallback);
  bool boolean_or(const char* name, bool fallback);
  Value any(const char* name);  // any JSON value, null included
  Value any_or(const char* name, Value fallback);
  std::vector<std::string> strings(const char* name);
  std::vector<std::string> strings_or(const char* name, std::vector<std::string> fallback);
  State state(const char* name);
  Clock::time_point time(const char* name);
  std::optional<Clock::time_point> optional_time(const char* name);
  // An array; each element's `where` is "<name>[i].".
  const Value& array(const char* name);
  std::string where(const char* name) const { return where_ + name; }
  void done() const;

 private:
  const Value* field(const char* name, bool required);
  [[noreturn]] void wrong(const char* name, const char* expected, const Value& got) const;

  const Value& object_;
  std::string where_;
  std::vector<std::string> seen_;
};

// "a string", "an integer", "an object", ... for error messages.
std::string describe(const Value& value);

}  // namespace json

}  // namespace ferry::backend
