#include "backend/backend_json.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "ferry/error.hpp"

namespace ferry::backend {

namespace json {

std::string describe(const Value& value) {
  switch (value.type()) {
    case Value::value_t::null:
      return "null";
    case Value::value_t::boolean:
      return "a boolean";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
      return "an integer";
    case Value::value_t::number_float:
      return "a number with a fraction";
    case Value::value_t::string:
      return "a string";
    case Value::value_t::array:
      return "an array";
    case Value::value_t::object:
      return "an object";
    default:
      return "an unsupported value";
  }
}

ObjectReader::ObjectReader(const Value& object, std::string where)
    : object_(object), where_(std::move(where)) {
  if (!object_.is_object()) {
    std::string name = where_.empty() ? "" : where_.substr(0, where_.size() - 1);
    throw ValueError((name.empty() ? std::string("document") : "field \"" + name + "\"") +
                     ": expected an object, got " + describe(object_));
  }
}

bool ObjectReader::has(const char* name) const {
  auto it = object_.find(name);
  return it != object_.end() && !it->is_null();
}

const Value* ObjectReader::field(const char* name, bool required) {
  seen_.emplace_back(name);
  auto it = object_.find(name);
  if (it == object_.end()) {
    if (required) throw ValueError("field \"" + where(name) + "\": required but missing");
    return nullptr;
  }
  return &*it;
}

void ObjectReader::wrong(const char* name, const char* expected, const Value& got) const {
  throw ValueError("field \"" + where(name) + "\": expected " + expected + ", got " +
                   describe(got));
}

std::string ObjectReader::string(const char* name) {
  const Value* v = field(name, true);
  if (!v->is_string()) wrong(name, "a string", *v);
  return v->get<std::string>();
}

std::string ObjectReader::string_or(const char* name, std::string fallback) {
  const Value* v = field(name, false);
  if (!v || v->is_null()) return fallback;
  if (!v->is_string()) wrong(name, "a string", *v);
  return v->get<std::string>();
}

std::int64_t ObjectReader::int64(const char* name) {
  const Value* v = field(name, true);
  if (v->is_number_unsigned()) {
    if (v->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
      wrong(name, "a 64-bit integer", *v);
    return static_cast<std::int64_t>(v->get<std::uint64_t>());
  }
  if (!v->is_number_integer()) wrong(name, "an integer", *v);
  return v->get<std::int64_t>();
}

std::int64_t ObjectReader::int64_or(const char* name, std::int64_t fallback) {
  const Value* v = field(name, false);
  if (!v || v->is_null()) return fallback;
  seen_.pop_back();  // int64 records it again
  return int64(name);
}

int ObjectReader::int32(const char* name) {
  std::int64_t n = int64(name);
  if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
    throw ValueError("field \"" + where(name) + "\": expected a 32-bit integer, got " +
                     std::to_string(n));
  }
  return static_cast<int>(n);
}

int ObjectReader::int32_or(const char* name, int fallback) {
  const Value* v = field(name, false);
  if (!v || v->is_null()) return fallback;
  seen_.pop_back();
  return int32(name);
}

bool ObjectReader::boolean_or(const char* name, bool fallback) {
  const Value* v = field(name, false);
  if (!v || v->is_null()) return fallback;
  if (!v->is_boolean()) wrong(name, "a boolean", *v);
  return v->get<bool>();
}

Value ObjectReader::any(const char* name) { return *field(name, true); }

Value ObjectReader::any_or(const char* name, Value fallback) {
  const Value* v = field(name, false);
  return v ? *v : std::move(fallback);
}

std::vector<std::string> ObjectReader::strings(const char* name) {
  const Value* v = field(name, true);
  if (!v->is_array()) wrong(name, "an array of strings", *v);
  std::vector<std::string> out;
  out.reserve(v->size());
  for (std::size_t i = 0; i < v->size(); ++i) {
    const Value& item = (*v)[i];
    if (!item.is_string()) {
      throw ValueError("field \"" + where(name) + "[" + std::to_string(i) +
                       "]\": expected a string, got " + describe(item));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::vector<std::string> ObjectReader::strings_or(const char* name,
                                                  std::vector<std::string> fallback) {
  const Value* v = field(name, false);
  if (!v || v->is_null()) return fallback;
  seen_.pop_back();
  return strings(name);
}

State ObjectReader::state(const char* name) {
  std::string text = string(name);
  std::optional<State> s = state_from_string(text);
  if (!s) {
    throw ValueError("field \"" + where(name) +
                     "\": expected a state name (Scheduled, Pending, Running, Retrying, "
                     "Success, Failed, TimedOut, TriggerFailed, Skipped, Cancelled, Lost), got " +
                     Value(text).dump(-1, ' ', false, Value::error_handler_t::replace));
  }
  return *s;
}

Clock::time_point ObjectReader::time(const char* name) {
  const Value* v = field(name, true);
  if (!v->is_number_integer()) wrong(name, "an integer (milliseconds since the epoch)", *v);
  seen_.pop_back();
  return from_millis(int64(name));
}

std::optional<Clock::time_point> ObjectReader::optional_time(const char* name) {
  const Value* v = field(name, false);
  if (!v || v->is_null()) return std::nullopt;
  seen_.pop_back();
  return time(name);
}

const Value& ObjectReader::array(const char* name) {
  const Value* v = field(name, true);
  if (!v->is_array()) wrong(name, "an array", *v);
  return *v;
}

void ObjectReader::done() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (std::find(seen_.begin(), seen_.end(), it.key()) == seen_.end()) {
      throw ValueError(
          "field \"" + where_ +
          Value(it.key()).dump(-1, ' ', false, Value::error_handler_t::replace).substr(1) +
          ": unknown field");
    }
  }
}

}  // namespace json

namespace {

using json::ObjectReader;

Value history_json(const std::vector<StateChange>& history) {
  Value out = Value::array();
  for (const StateChange& c : history) out.push_back(to_json(c));
  return out;
}

StateChange read_change(const Value& v, const std::string& where) {
  ObjectReader r(v, where);
  StateChange c;
  c.state = r.state("state");
  c.message = r.string_or("message", "");
  c.at = r.time("at");
  r.done();
  return c;
}

std::vector<StateChange> read_history(ObjectReader& r) {
  if (!r.has("history")) {
    r.any_or("history", nullptr);  // marks it seen when it is null
    return {};
  }
  const Value& items = r.array("history");
  std::vector<StateChange> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    out.push_back(read_change(items[i], r.where("history") + "[" + std::to_string(i) + "]."));
  }
  return out;
}

Value optional_millis(const std::optional<Clock::time_point>& t) {
  return t ? Value(to_millis(*t)) : Value(nullptr);
}

FlowVersion read_version(const Value& v, const std::string& where) {
  ObjectReader r(v, where);
  FlowVersion f;
  f.id = r.int64("id");
  f.project = r.string("project");
  f.flow_name = r.string("flow_name");
  f.version = r.int32("version");
  f.graph = r.any("graph");
  f.run_config = r.any("run_config");
  f.labels = r.strings("labels");
  f.storage = r.any("storage");
  f.result = r.any("result");
  f.idempotency_key = r.string("idempotency_key");
  f.created = r.time("created");
  r.done();
  return f;
}

}  // namespace

std::int64_t to_millis(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_millis(std::int64_t ms) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}

Value to_json(const FlowVersionSpec& s) {
  return Value{{"project", s.project},
               {"flow_name", s.flow_name},
               {"graph", s.graph},
               {"run_config", s.run_config},
               {"labels", s.labels},
               {"storage", s.storage},
               {"result", s.result},
               {"idempotency_key", s.idempotency_key},
               {"force_new_version", s.force_new_version}};
}

FlowVersionSpec flow_version_spec_from_json(const Value& v) {
  ObjectReader r(v);
  FlowVersionSpec s;
  s.project = r.string("project");
  s.flow_name = r.string("flow_name");
  s.graph = r.any("graph");
  s.run_config = r.any_or("run_config", Value::object());
  s.labels = r.strings_or("labels", {});
  s.storage = r.any("storage");
  s.result = r.any_or("result", nullptr);
  s.idempotency_key = r.string_or("idempotency_key", "");
  s.force_new_version = r.boolean_or("force_new_version", false);
  r.done();
  return s;
}

Value to_json(const FlowVersion& f) {
  return Value{{"id", f.id},
               {"project", f.project},
               {"flow_name", f.flow_name},
               {"version", f.version},
               {"graph", f.graph},
               {"run_config", f.run_config},
               {"labels", f.labels},
               {"storage", f.storage},
               {"result", f.result},
               {"idempotency_key", f.idempotency_key},
               {"created", to_millis(f.created)}};
}

FlowVersion flow_version_from_json(const Value& v) { return read_version(v, ""); }

Value to_json(const RegisterOutcome& o) {
  return Value{{"version", to_json(o.version)}, {"created", o.created}};
}

RegisterOutcome register_outcome_from_json(const Value& v) {
  ObjectReader r(v);
  RegisterOutcome o;
  o.version = read_version(r.any("version"), "version.");
  const Value created = r.any("created");
  if (!created.is_boolean()) {
    throw ValueError("field \"created\": expected a boolean, got " + json::describe(created));
  }
  o.created = created.get<bool>();
  r.done();
  return o;
}

Value to_json(const StateChange& c) {
  return Value{{"state", to_string(c.state)}, {"message", c.message}, {"at", to_millis(c.at)}};
}

StateChange state_change_from_json(const Value& v) { return read_change(v, ""); }

Value to_json(const FlowRun& f) {
  return Value{{"id", f.id},
               {"flow_version_id", f.flow_version_id},
               {"project", f.project},
               {"flow_name", f.flow_name},
               {"flow_version", f.flow_version},
               {"parameters", f.parameters},
               {"labels", f.labels},
               {"state", to_string(f.state)},
               {"message", f.message},
               {"agent_id", f.agent_id},
               {"result", f.result},
               {"pinned", f.pinned},
               {"created", to_millis(f.created)},
               {"updated", to_millis(f.updated)},
               {"heartbeat", optional_millis(f.heartbeat)},
               {"history", history_json(f.history)}};
}

FlowRun flow_run_from_json(const Value& v) {
  ObjectReader r(v);
  FlowRun f;
  f.id = r.string("id");
  f.flow_version_id = r.int64("flow_version_id");
  f.project = r.string("project");
  f.flow_name = r.string("flow_name");
  f.flow_version = r.int32("flow_version");
  f.parameters = r.any("parameters");
  f.labels = r.strings("labels");
  f.state = r.state("state");
  f.message = r.string("message");
  f.agent_id = r.string("agent_id");
  f.result = r.any("result");
  f.pinned = r.any("pinned");
  f.created = r.time("created");
  f.updated = r.time("updated");
  f.heartbeat = r.optional_time("heartbeat");
  f.history = read_history(r);
  r.done();
  return f;
}

Value to_json(const TaskRun& t) {
  return Value{{"run_id", t.run_id},
               {"task_name", t.task_name},
               {"state", to_string(t.state)},
               {"message", t.message},
               {"attempts", t.attempts},
               {"result_location", t.result_location},
               {"history", history_json(t.history)}};
}

TaskRun task_run_from_json(const Value& v) {
  ObjectReader r(v);
  TaskRun t;
  t.run_id = r.string("run_id");
  t.task_name = r.string("task_name");
  t.state = r.state("state");
  t.message = r.string_or("message", "");
  t.attempts = r.int32_or("attempts", 0);
  t.result_location = r.string_or("result_location", "");
  t.history = read_history(r);
  r.done();
  return t;
}

Value to_json(const LogLine& l) {
  return Value{{"run_id", l.run_id},   {"task_name", l.task_name}, {"level", l.level},
               {"message", l.message}, {"at", to_millis(l.at)},    {"seq", l.seq}};
}

LogLine log_line_from_json(const Value& v) {
  ObjectReader r(v);
  LogLine l;
  l.run_id = r.string("run_id");
  l.task_name = r.string_or("task_name", "");
  l.level = r.string("level");
  l.message = r.string("message");
  l.at = r.time("at");
  l.seq = r.int64_or("seq", 0);
  r.done();
  return l;
}

Value to_json(const Agent& a) {
  return Value{{"id", a.id},
               {"name", a.name},
               {"labels", a.labels},
               {"started", to_millis(a.started)},
               {"heartbeat", to_millis(a.heartbeat)}};
}

Agent agent_from_json(const Value& v) {
  ObjectReader r(v);
  Agent a;
  a.id = r.string("id");
  a.name = r.string("name");
  a.labels = r.strings_or("labels", {});
  a.started = r.time("started");
  a.heartbeat = r.time("heartbeat");
  r.done();
  return a;
}

Value to_json(const RunFilter& f) {
  return Value{{"project", f.project},
               {"flow_name", f.flow_name},
               {"state", f.state ? Value(to_string(*f.state)) : Value(nullptr)},
               {"limit", f.limit}};
}

RunFilter run_filter_from_json(const Value& v) {
  ObjectReader r(v);
  RunFilter f;
  f.project = r.string_or("project", "");
  f.flow_name = r.string_or("flow_name", "");
  if (r.has("state")) {
    f.state = r.state("state");
  } else {
    r.any_or("state", nullptr);
  }
  f.limit = r.int32_or("limit", 100);
  r.done();
  return f;
}

Value to_json(const ApiKey& k) {
  return Value{
      {"name", k.name}, {"created", to_millis(k.created)}, {"revoked", optional_millis(k.revoked)}};
}

ApiKey api_key_from_json(const Value& v) {
  ObjectReader r(v);
  ApiKey k;
  k.name = r.string("name");
  k.created = r.time("created");
  k.revoked = r.optional_time("revoked");
  r.done();
  return k;
}

}  // namespace ferry::backend
