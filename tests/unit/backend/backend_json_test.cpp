// The JSON codec of the backend structs: every struct round-trips, and parsing is strict
// (missing, mistyped and unknown fields are ValueErrors naming the field).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "backend/backend_json.hpp"
#include "ferry/error.hpp"

namespace {

using namespace ferry::backend;
using ferry::State;
using ferry::Value;
using ferry::ValueError;

Clock::time_point at(std::int64_t ms) { return from_millis(ms); }

StateChange change(State s, const std::string& message, std::int64_t ms) {
  StateChange c;
  c.state = s;
  c.message = message;
  c.at = at(ms);
  return c;
}

// The message of the ValueError that f throws (fails the test when none is thrown).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ValueError thrown";
  return "";
}

FlowRun sample_run() {
  FlowRun r;
  r.id = "0123456789abcdef0123456789abcdef";
  r.flow_version_id = 7;
  r.project = "p";
  r.flow_name = "f \"quoted\" ünï";
  r.flow_version = 3;
  r.parameters = Value{{"n", 1}, {"s", "x"}, {"l", {1, 2}}};
  r.labels = {"gpu", "linux"};
  r.state = State::Running;
  r.message = "go";
  r.agent_id = "agent-1";
  r.result = Value{{"type", "Local"}};
  r.pinned = Value{{"commit", "abc"}};
  r.created = at(1700000000123);
  r.updated = at(1700000000456);
  r.heartbeat = at(1700000000789);
  r.history = {change(State::Scheduled, "", 1700000000123),
               change(State::Running, "go", 1700000000456)};
  return r;
}

TEST(BackendJson, TimesAreIntegerMillisecondsAndRoundTrip) {
  Clock::time_point t = at(1700000000123);
  EXPECT_EQ(to_millis(t), 1700000000123);
  Value v = to_json(change(State::Failed, "boom", 1700000000123));
  EXPECT_TRUE(v["at"].is_number_integer());
  EXPECT_EQ(v["at"], 1700000000123);
  EXPECT_EQ(v["state"], "Failed");
  StateChange back = state_change_from_json(v);
  EXPECT_EQ(back.at, t);
  EXPECT_EQ(back.state, State::Failed);
  EXPECT_EQ(back.message, "boom");
}

TEST(BackendJson, FlowRunRoundTrips) {
  FlowRun r = sample_run();
  Value v = to_json(r);
  FlowRun b = flow_run_from_json(Value::parse(v.dump()));
  EXPECT_EQ(b.id, r.id);
  EXPECT_EQ(b.flow_version_id, 7);
  EXPECT_EQ(b.flow_name, r.flow_name);
  EXPECT_EQ(b.flow_version, 3);
  EXPECT_EQ(b.parameters, r.parameters);
  EXPECT_EQ(b.labels, r.labels);
  EXPECT_EQ(b.state, State::Running);
  EXPECT_EQ(b.agent_id, "agent-1");
  EXPECT_EQ(b.result, r.result);
  EXPECT_EQ(b.pinned, r.pinned);
  EXPECT_EQ(b.created, r.created);
  EXPECT_EQ(b.updated, r.updated);
  ASSERT_TRUE(b.heartbeat);
  EXPECT_EQ(*b.heartbeat, *r.heartbeat);
  ASSERT_EQ(b.history.size(), 2u);
  EXPECT_EQ(b.history[1].state, State::Running);
  EXPECT_EQ(b.history[1].message, "go");
  EXPECT_EQ(to_json(b), v);

  r.heartbeat.reset();
  v = to_json(r);
  EXPECT_TRUE(v["heartbeat"].is_null());
  EXPECT_FALSE(flow_run_from_json(v).heartbeat);
}

TEST(BackendJson, EveryOtherStructRoundTrips) {
  FlowVersionSpec spec;
  spec.project = "p";
  spec.flow_name = "f";
  spec.graph = Value{{"tasks", {"a"}}};
  spec.run_config = Value{{"type", "Universal"}};
  spec.labels = {"x"};
  spec.storage = Value{{"type", "Local"}};
  spec.result = nullptr;
  spec.idempotency_key = "k";
  spec.force_new_version = true;
  EXPECT_EQ(to_json(flow_version_spec_from_json(to_json(spec))), to_json(spec));

  FlowVersion fv;
  fv.id = 9;
  fv.project = "p";
  fv.flow_name = "f";
  fv.version = 2;
  fv.graph = spec.graph;
  fv.run_config = spec.run_config;
  fv.labels = {"a", "b"};
  fv.storage = spec.storage;
  fv.result = Value{{"r", 1}};
  fv.idempotency_key = "k";
  fv.created = at(123456);
  EXPECT_EQ(to_json(flow_version_from_json(to_json(fv))), to_json(fv));

  RegisterOutcome o{fv, true};
  RegisterOutcome ob = register_outcome_from_json(to_json(o));
  EXPECT_TRUE(ob.created);
  EXPECT_EQ(ob.version.id, 9);
  EXPECT_EQ(to_json(ob), to_json(o));

  TaskRun t;
  t.run_id = "r";
  t.task_name = "t";
  t.state = State::Retrying;
  t.message = "m";
  t.attempts = 2;
  t.result_location = "/x";
  t.history = {change(State::Running, "", 5)};
  EXPECT_EQ(to_json(task_run_from_json(to_json(t))), to_json(t));

  LogLine l;
  l.run_id = "r";
  l.task_name = "t";
  l.level = "INFO";
  l.message = "hello\nworld";
  l.at = at(77);
  l.seq = 42;
  EXPECT_EQ(to_json(log_line_from_json(to_json(l))), to_json(l));

  Agent a;
  a.id = "id";
  a.name = "n";
  a.labels = {"l"};
  a.started = at(1);
  a.heartbeat = at(2);
  EXPECT_EQ(to_json(agent_from_json(to_json(a))), to_json(a));

  RunFilter f;
  f.project = "p";
  f.state = State::Lost;
  f.limit = 5;
  RunFilter fb = run_filter_from_json(to_json(f));
  EXPECT_EQ(fb.state, State::Lost);
  EXPECT_EQ(fb.limit, 5);
  EXPECT_EQ(to_json(fb), to_json(f));
  RunFilter empty = run_filter_from_json(Value::object());
  EXPECT_FALSE(empty.state);
  EXPECT_EQ(empty.limit, 100);

  ApiKey k;
  k.name = "ci";
  k.created = at(10);
  k.revoked = at(20);
  ApiKey kb = api_key_from_json(to_json(k));
  ASSERT_TRUE(kb.revoked);
  EXPECT_EQ(*kb.revoked, at(20));
  EXPECT_EQ(to_json(kb), to_json(k));
}

TEST(BackendJson, OptionalFieldsTakeDefaults) {
  FlowVersionSpec s = flow_version_spec_from_json(Value{
      {"project", "p"}, {"flow_name", "f"}, {"graph", Value::object()}, {"storage", nullptr}});
  EXPECT_EQ(s.run_config, Value::object());
  EXPECT_TRUE(s.labels.empty());
  EXPECT_TRUE(s.result.is_null());
  EXPECT_EQ(s.idempotency_key, "");
  EXPECT_FALSE(s.force_new_version);

  LogLine l =
      log_line_from_json(Value{{"run_id", "r"}, {"level", "INFO"}, {"message", "m"}, {"at", 5}});
  EXPECT_EQ(l.task_name, "");
  EXPECT_EQ(l.seq, 0);
}

TEST(BackendJson, WrongTypeNamesFieldAndTypes) {
  EXPECT_EQ(error_of([] {
              run_filter_from_json(Value{{"limit", "10"}});
            }),
            "field \"limit\": expected an integer, got a string");
  EXPECT_EQ(error_of([] {
              run_filter_from_json(Value{{"limit", 1.5}});
            }),
            "field \"limit\": expected an integer, got a number with a fraction");
  EXPECT_EQ(error_of([] {
              run_filter_from_json(Value{{"project", 3}});
            }),
            "field \"project\": expected a string, got an integer");
  EXPECT_EQ(error_of([] {
              run_filter_from_json(Value{{"limit", 1LL << 40}});
            }),
            "field \"limit\": expected a 32-bit integer, got 1099511627776");
  Value agent{{"id", "a"}, {"name", "n"}, {"labels", {"x", 1}}, {"started", 1}, {"heartbeat", 2}};
  EXPECT_EQ(error_of([&] { agent_from_json(agent); }),
            "field \"labels[1]\": expected a string, got an integer");
  agent["labels"] = Value::array();
  agent["started"] = "yesterday";
  EXPECT_EQ(error_of([&] { agent_from_json(agent); }),
            "field \"started\": expected an integer (milliseconds since the epoch), got a string");
  EXPECT_NE(error_of([] {
              run_filter_from_json(Value{{"state", "Sleeping"}});
            }).find("field \"state\": expected a state name"),
            std::string::npos);
  EXPECT_EQ(error_of([] { run_filter_from_json(Value::array()); }),
            "document: expected an object, got an array");
}

TEST(BackendJson, MissingAndUnknownFieldsAreNamed) {
  Value run = to_json(sample_run());
  Value missing = run;
  missing.erase("agent_id");
  EXPECT_EQ(error_of([&] { flow_run_from_json(missing); }),
            "field \"agent_id\": required but missing");
  Value extra = run;
  extra["agnet_id"] = "typo";
  EXPECT_EQ(error_of([&] { flow_run_from_json(extra); }), "field \"agnet_id\": unknown field");
  Value nested = run;
  nested["history"][1]["extra"] = true;
  EXPECT_EQ(error_of([&] { flow_run_from_json(nested); }),
            "field \"history[1].extra\": unknown field");
  nested = run;
  nested["history"][0].erase("at");
  EXPECT_EQ(error_of([&] { flow_run_from_json(nested); }),
            "field \"history[0].at\": required but missing");
  Value outcome = to_json(RegisterOutcome{flow_version_from_json(to_json([] {
                                            FlowVersion v;
                                            v.graph = Value::object();
                                            return v;
                                          }())),
                                          false});
  outcome["version"].erase("version");
  EXPECT_EQ(error_of([&] { register_outcome_from_json(outcome); }),
            "field \"version.version\": required but missing");
}

}  // namespace
