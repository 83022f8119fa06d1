// The flow model: parameters, task names, edges, constants and the graph as data.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "core/graph.hpp"
#include "ferry/ferry.hpp"

// Readable states in assertion failures.
namespace ferry {
static void PrintTo(State state, std::ostream* os) { *os << to_string(state); }
}  // namespace ferry

namespace {

using namespace std::chrono_literals;

// Messages of the exception a callable throws as E, or a test failure if it does not throw.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::atomic<int> g_calls{0};

int add(int a, int b) {
  g_calls.fetch_add(1);
  return a + b;
}
int twice(int a) { return 2 * a; }
int seven() { return 7; }
std::string greet(const std::string& who) { return "hello " + who; }

struct Holder {
  static int triple(int x) { return 3 * x; }
};

// The order in which tasks of the edge tests started and ended.
std::mutex g_log_mutex;
std::vector<std::string> g_log;

void log_event(const std::string& what) {
  std::lock_guard lock(g_log_mutex);
  g_log.push_back(what);
}
void reset_log() {
  std::lock_guard lock(g_log_mutex);
  g_log.clear();
}
std::vector<std::string> log_copy() {
  std::lock_guard lock(g_log_mutex);
  return g_log;
}

void slow_first() {
  log_event("first:start");
  std::this_thread::sleep_for(40ms);
  log_event("first:end");
}
int then_second() {
  log_event("second:start");
  return 2;
}

struct Point {
  int x = 0;
  int y = 0;
};
void to_json(nlohmann::json& j, const Point& p) { j = {{"x", p.x}, {"y", p.y}}; }
void from_json(const nlohmann::json& j, Point& p) {
  j.at("x").get_to(p.x);
  j.at("y").get_to(p.y);
}

std::string describe(int i, double d, const std::string& s, bool b, std::vector<int> v,
                     std::map<std::string, int> m, std::optional<int> o, Point p) {
  std::string out =
      std::to_string(i) + "|" + std::to_string(d) + "|" + s + "|" + (b ? "true" : "false") + "|";
  for (int x : v) out += std::to_string(x) + ",";
  out += "|";
  for (const auto& [k, val] : m) out += k + "=" + std::to_string(val) + ",";
  out += "|" + (o ? std::to_string(*o) : std::string("none"));
  out += "|" + std::to_string(p.x) + ":" + std::to_string(p.y);
  return out;
}

ferry::RunOptions two_threads() {
  ferry::RunOptions o;
  o.threads = 2;
  return o;
}

}  // namespace

// ---- flows and parameters ------------------------------------------------------------------

TEST(Flow, NeedsAName) {
  EXPECT_THROW(ferry::Flow(""), ferry::ValueError);
  ferry::Flow flow("named");
  EXPECT_EQ(flow.name(), "named");
  EXPECT_EQ(flow.task_count(), 0u);
}

TEST(Flow, ParameterDefaultsAreUsed) {
  ferry::Flow flow("defaults");
  auto x = flow.parameter<int>("x", 4);
  auto y = flow.parameter<int>("y", 5);
  flow.task<add>(x, y);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 9);
  r = flow.run({{"y", 10}});
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 14);
}

TEST(Flow, RequiredParameterMustBeGiven) {
  ferry::Flow flow("required");
  auto n = flow.parameter<int>("n");
  flow.task<add>(n, 1);
  g_calls = 0;
  std::string msg = error_of<ferry::ValueError>([&] { flow.run(); });
  EXPECT_TRUE(contains(msg, "'n'")) << msg;
  EXPECT_TRUE(contains(msg, "integer")) << msg;
  EXPECT_TRUE(contains(msg, "required")) << msg;
  EXPECT_EQ(g_calls.load(), 0) << "no task may start when parameters are refused";

  ferry::RunResult r = flow.run({{"n", 41}});
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 42);
}

TEST(Flow, UnknownParameterIsNamedWithTheKnownOnes) {
  ferry::Flow flow("unknown");
  auto a = flow.parameter<int>("alpha", 1);
  auto b = flow.parameter<int>("beta", 2);
  flow.task<add>(a, b);
  std::string msg = error_of<ferry::ValueError>([&] { flow.run({{"gamma", 3}}); });
  EXPECT_TRUE(contains(msg, "'gamma'")) << msg;
  EXPECT_TRUE(contains(msg, "alpha")) << msg;
  EXPECT_TRUE(contains(msg, "beta")) << msg;
  EXPECT_TRUE(contains(msg, "'unknown'")) << msg;
}

TEST(Flow, UnknownParameterOfAFlowWithoutParameters) {
  ferry::Flow flow("bare");
  flow.task<seven>();
  std::string msg = error_of<ferry::ValueError>([&] { flow.run({{"x", 1}}); });
  EXPECT_TRUE(contains(msg, "'x'")) << msg;
  EXPECT_TRUE(contains(msg, "takes none")) << msg;
}

TEST(Flow, MistypedParameterIsRefused) {
  ferry::Flow flow("typed");
  auto n = flow.parameter<int>("n", 1);
  flow.task<twice>(n);
  std::string msg = error_of<ferry::ValueError>([&] { flow.run({{"n", "three"}}); });
  EXPECT_TRUE(contains(msg, "'n'")) << msg;
  EXPECT_TRUE(contains(msg, "expects integer")) << msg;
  EXPECT_TRUE(contains(msg, "\"three\"")) << msg;

  msg = error_of<ferry::ValueError>([&] { flow.run({{"n", 1.5}}); });
  EXPECT_TRUE(contains(msg, "not a whole number")) << msg;
}

TEST(Flow, ParametersMustBeAnObject) {
  ferry::Flow flow("object");
  flow.parameter<int>("n", 1);
  flow.task<seven>();
  EXPECT_THROW(flow.run(ferry::Value::array({1})), ferry::ValueError);
  EXPECT_THROW(flow.run(ferry::Value(3)), ferry::ValueError);
  ferry::RunResult r = flow.run(ferry::Value());  // null: no parameters given
  EXPECT_EQ(r.state, ferry::State::Success) << r.message;
}

TEST(Flow, WholeFloatPassesAsInteger) {
  ferry::Flow flow("whole");
  auto n = flow.parameter<int>("n", 1);
  flow.task<twice>(n);
  ferry::RunResult r = flow.run({{"n", 21.0}});
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 42);
}

TEST(Flow, StructuredParameters) {
  ferry::Flow flow("structured");
  auto xs = flow.parameter<std::vector<int>>("xs", {1, 2, 3});
  flow.task(
      [](std::vector<int> v) {
        int s = 0;
        for (int x : v) s += x;
        return s;
      },
      xs);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 6);
  r = flow.run({{"xs", {10, 20}}});
  EXPECT_EQ(r.result, 30);
  std::string msg = error_of<ferry::ValueError>([&] { flow.run({{"xs", {1, "x"}}}); });
  EXPECT_TRUE(contains(msg, "array<integer>")) << msg;
  EXPECT_TRUE(contains(msg, "item 1")) << msg;
}

TEST(Flow, StringParameterFromCString) {
  ferry::Flow flow("strings");
  auto who = flow.parameter("who", "world");
  flow.task<greet>(who);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, "hello world");
  EXPECT_EQ(flow.to_json()["parameters"][0]["type"], "string");
}

TEST(Flow, DuplicateParameterNameThrows) {
  ferry::Flow flow("dupe");
  flow.parameter<int>("x", 1);
  std::string msg = error_of<ferry::ValueError>([&] { flow.parameter<std::string>("x"); });
  EXPECT_TRUE(contains(msg, "'x'")) << msg;
  EXPECT_TRUE(contains(msg, "already")) << msg;
  EXPECT_THROW(flow.parameter<int>("", 0), ferry::ValueError);
}

TEST(Flow, ParameterOfAnotherFlowIsRefused) {
  ferry::Flow other("other");
  auto only_there = other.parameter<int>("only_there", 1);
  ferry::Flow flow("this");
  std::string msg = error_of<ferry::ValueError>([&] { flow.task<twice>(only_there); });
  EXPECT_TRUE(contains(msg, "only_there")) << msg;
  EXPECT_EQ(flow.task_count(), 0u);
}

TEST(Flow, ParameterOfAnotherFlowWithTheSameNameIsRefused) {
  ferry::Flow other("other");
  auto foreign = other.parameter<int>("n", 1);
  ferry::Flow flow("this");
  flow.parameter<std::string>("n", "text");  // same name, another type
  std::string msg = error_of<ferry::ValueError>([&] { flow.task<twice>(foreign); });
  EXPECT_TRUE(contains(msg, "'n'")) << msg;
  EXPECT_TRUE(contains(msg, "another flow")) << msg;
  EXPECT_EQ(flow.task_count(), 0u);
}

TEST(Flow, TaskHandleOfAnotherFlowIsRefused) {
  ferry::Flow other("other");
  auto foreign = other.task<seven>();
  ferry::Flow flow("this");
  flow.task<seven>();  // index 0 exists here too
  std::string msg = error_of<ferry::ValueError>([&] { flow.task<twice>(foreign); });
  EXPECT_TRUE(contains(msg, "'this'")) << msg;
  EXPECT_EQ(flow.task_count(), 1u);
}

// ---- task names -------------------------------------------------------------------------

TEST(Flow, TaskNamesComeFromFunctionNames) {
  ferry::Flow flow("names");
  auto a = flow.task<seven>();
  auto b = flow.task<add>(a, 1);
  flow.task<Holder::triple>(b);
  flow.task([](int x) { return x; }, b);
  EXPECT_EQ(flow.task_names(), (std::vector<std::string>{"seven", "add", "triple", "lambda"}));
  EXPECT_EQ(flow.task_count(), 4u);
}

TEST(Flow, DuplicateTaskNamesAreSuffixed) {
  ferry::Flow flow("suffix");
  auto a = flow.task<add>(1, 2);
  auto b = flow.task<add>(a, 3);
  flow.task<add>(b, 4);
  flow.task([] { return 1; });
  flow.task([] { return 2; });
  EXPECT_EQ(flow.task_names(),
            (std::vector<std::string>{"add", "add-2", "add-3", "lambda", "lambda-2"}));
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  ASSERT_NE(r.task("add-3"), nullptr);
  EXPECT_EQ(r.task("add-3")->result, 10);
  EXPECT_EQ(r.task("missing"), nullptr);
}

TEST(Flow, TaskOptionsNameOverridesTheDefault) {
  ferry::Flow flow("named-tasks");
  auto a = flow.task<seven>(ferry::TaskOptions{.name = "start"});
  flow.task<twice>(ferry::TaskOptions{.name = "double"}, a);
  flow.task<twice>(ferry::TaskOptions{.name = "double"}, a);  // taken: suffixed
  flow.task(
      ferry::TaskOptions{.name = "ident"}, [](int x) { return x; }, a);
  EXPECT_EQ(flow.task_names(), (std::vector<std::string>{"start", "double", "double-2", "ident"}));
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.tasks[0].name, "start");
  EXPECT_EQ(r.task("double-2")->result, 14);
  EXPECT_EQ(r.task("ident")->result, 7);
}

TEST(Flow, NegativeMaxRetriesIsRefused) {
  ferry::Flow flow("retries");
  std::string msg = error_of<ferry::ValueError>(
      [&] { flow.task<seven>(ferry::TaskOptions{.name = "neg", .max_retries = -1}); });
  EXPECT_TRUE(contains(msg, "max_retries")) << msg;
  EXPECT_EQ(flow.task_count(), 0u);
}

// ---- the graph as data ------------------------------------------------------------------

TEST(Flow, ToJsonShape) {
  ferry::Flow flow("shape");
  auto n = flow.parameter<int>("n", 3);
  auto who = flow.parameter<std::string>("who");
  auto a = flow.task<add>(n, 1);
  auto g = flow.task<greet>(ferry::TaskOptions{.name = "hi",
                                               .max_retries = 2,
                                               .retry_delay = 15ms,
                                               .timeout = 500ms,
                                               .tags = {"io", "slow"},
                                               .trigger = ferry::Trigger::all_finished,
                                               .after = {a}},
                            who);
  flow.task<add>(a, 5);
  (void)g;

  ferry::Value j = flow.to_json();
  EXPECT_EQ(j["name"], "shape");

  const ferry::Value& params = j["parameters"];
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0]["name"], "n");
  EXPECT_EQ(params[0]["type"], "integer");
  EXPECT_EQ(params[0]["required"], false);
  EXPECT_EQ(params[0]["default"], 3);
  EXPECT_EQ(params[1]["name"], "who");
  EXPECT_EQ(params[1]["type"], "string");
  EXPECT_EQ(params[1]["required"], true);
  EXPECT_FALSE(params[1].contains("default"));

  const ferry::Value& tasks = j["tasks"];
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0]["name"], "add");
  EXPECT_TRUE(tasks[0]["key"].is_string());
  EXPECT_FALSE(tasks[0]["key"].get<std::string>().empty());
  EXPECT_EQ(tasks[0]["args"], (ferry::Value::array({{{"parameter", "n"}}, {{"constant", 1}}})));
  EXPECT_EQ(tasks[0]["after"], ferry::Value::array());
  EXPECT_EQ(tasks[0]["trigger"], "all_successful");
  EXPECT_EQ(tasks[0]["max_retries"], 0);
  EXPECT_EQ(tasks[0]["timeout_ms"], 0);

  EXPECT_EQ(tasks[1]["name"], "hi");
  EXPECT_EQ(tasks[1]["args"], (ferry::Value::array({{{"parameter", "who"}}})));
  EXPECT_EQ(tasks[1]["after"], ferry::Value::array({0}));
  EXPECT_EQ(tasks[1]["trigger"], "all_finished");
  EXPECT_EQ(tasks[1]["max_retries"], 2);
  EXPECT_EQ(tasks[1]["retry_delay_ms"], 15);
  EXPECT_EQ(tasks[1]["timeout_ms"], 500);
  EXPECT_EQ(tasks[1]["tags"], (ferry::Value::array({"io", "slow"})));

  EXPECT_EQ(tasks[2]["name"], "add-2");
  EXPECT_EQ(tasks[2]["args"], (ferry::Value::array({{{"task", 0}}, {{"constant", 5}}})));
  // The same callable has the same key wherever it is used.
  EXPECT_EQ(tasks[2]["key"], tasks[0]["key"]);
  EXPECT_NE(tasks[1]["key"], tasks[0]["key"]);
}

TEST(Flow, TriggerNames) {
  EXPECT_STREQ(ferry::to_string(ferry::Trigger::all_successful), "all_successful");
  EXPECT_STREQ(ferry::to_string(ferry::Trigger::all_finished), "all_finished");
  EXPECT_STREQ(ferry::to_string(ferry::Trigger::any_failed), "any_failed");
  EXPECT_STREQ(ferry::to_string(ferry::Trigger::any_successful), "any_successful");
}

TEST(Graph, JsonRoundTripKeepsTheGraphAndItsEdges) {
  ferry::Flow flow("round");
  auto n = flow.parameter<int>("n", 2);
  auto a = flow.task<twice>(n);
  auto b = flow.task<add>(ferry::TaskOptions{.max_retries = 1, .tags = {"t"}}, a, a);
  auto c = flow.task<seven>(ferry::TaskOptions{.trigger = ferry::Trigger::any_failed});
  flow.add_edge(b, c);

  ferry::Value j = flow.to_json();
  ferry::detail::Graph g = ferry::detail::graph_from_json(j);
  EXPECT_EQ(ferry::detail::graph_to_json(g), j);
  ASSERT_EQ(g.tasks.size(), 3u);
  EXPECT_EQ(g.tasks[1].upstream, (std::vector<std::size_t>{0}));  // a used twice: one edge
  EXPECT_EQ(g.tasks[0].downstream, (std::vector<std::size_t>{1}));
  EXPECT_EQ(g.tasks[2].upstream, (std::vector<std::size_t>{1}));
  EXPECT_EQ(g.tasks[1].downstream, (std::vector<std::size_t>{2}));
  EXPECT_EQ(g.tasks[2].trigger, ferry::Trigger::any_failed);
  for (const auto& t : g.tasks) EXPECT_EQ(t.fn, nullptr) << "tasks come back unbound";
}

TEST(Graph, UnboundTasksRefuseToRun) {
  ferry::Flow flow("unbound-src");
  flow.task<seven>();
  auto g = std::make_shared<ferry::detail::Graph>(ferry::detail::graph_from_json(flow.to_json()));
  ferry::Flow unbound(g);
  std::string msg = error_of<ferry::FlowStorageError>([&] { unbound.run(); });
  EXPECT_TRUE(contains(msg, "'seven'")) << msg;
  EXPECT_TRUE(contains(msg, "not bound")) << msg;
}

TEST(Graph, MalformedJsonIsAStorageError) {
  ferry::Flow flow("bad");
  auto a = flow.task<seven>();
  flow.task<twice>(a);
  ferry::Value good = flow.to_json();

  ferry::Value forward = good;
  forward["tasks"][0]["args"] = ferry::Value::array({{{"task", 1}}});
  EXPECT_THROW(ferry::detail::graph_from_json(forward), ferry::FlowStorageError);

  ferry::Value forward_after = good;
  forward_after["tasks"][0]["after"] = ferry::Value::array({5});
  EXPECT_THROW(ferry::detail::graph_from_json(forward_after), ferry::FlowStorageError);

  ferry::Value trigger = good;
  trigger["tasks"][1]["trigger"] = "sometimes";
  std::string msg =
      error_of<ferry::FlowStorageError>([&] { ferry::detail::graph_from_json(trigger); });
  EXPECT_TRUE(contains(msg, "sometimes")) << msg;

  ferry::Value missing = good;
  missing.erase("tasks");
  EXPECT_THROW(ferry::detail::graph_from_json(missing), ferry::FlowStorageError);
  EXPECT_THROW(ferry::detail::graph_from_json(ferry::Value(3)), ferry::FlowStorageError);
}

TEST(Graph, JsonTaskArgumentNamingAnUnknownParameterIsRefused) {
  ferry::Flow flow("bad-param-ref");
  auto n = flow.parameter<int>("n", 1);
  flow.task<twice>(n);
  ferry::Value j = flow.to_json();
  j["tasks"][0]["args"][0]["parameter"] = "nope";
  std::string msg = error_of<ferry::FlowStorageError>([&] { ferry::detail::graph_from_json(j); });
  EXPECT_TRUE(contains(msg, "nope")) << msg;
}

// ---- edges ---------------------------------------------------------------------------------

TEST(Flow, AfterOptionOrdersTasks) {
  reset_log();
  ferry::Flow flow("after");
  auto first = flow.task<slow_first>();
  static_assert(std::is_same_v<decltype(first), ferry::Task<void>>);
  flow.task<then_second>(ferry::TaskOptions{.after = {first}});
  EXPECT_EQ(flow.to_json()["tasks"][1]["after"], ferry::Value::array({0}));
  ferry::RunResult r = flow.run({}, two_threads());
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(log_copy(), (std::vector<std::string>{"first:start", "first:end", "second:start"}));
  // The void task is not terminal, so the flow's result is the second task's.
  EXPECT_EQ(r.result, 2);
  EXPECT_TRUE(r.tasks[0].result.is_null());
}

TEST(Flow, AddEdgeOrdersTasks) {
  reset_log();
  ferry::Flow flow("add-edge");
  auto first = flow.task<slow_first>();
  auto second = flow.task<then_second>();
  flow.add_edge(first, second);
  EXPECT_EQ(flow.to_json()["tasks"][1]["after"], ferry::Value::array({0}));
  ferry::RunResult r = flow.run({}, two_threads());
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(log_copy(), (std::vector<std::string>{"first:start", "first:end", "second:start"}));
  EXPECT_EQ(r.result, 2);
}

TEST(Flow, WithoutAnEdgeTasksAreIndependent) {
  // The control for the two tests above: both tasks are roots and terminals.
  ferry::Flow flow("no-edge");
  flow.task<slow_first>();
  flow.task<then_second>();
  ferry::RunResult r = flow.run({}, two_threads());
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  ASSERT_TRUE(r.result.is_object());
  EXPECT_EQ(r.result.size(), 2u);
  EXPECT_EQ(r.result["then_second"], 2);
  EXPECT_TRUE(r.result["slow_first"].is_null());
}

TEST(Flow, AddEdgeNeedsUpstreamFirst) {
  ferry::Flow flow("backwards");
  auto a = flow.task<seven>();
  auto b = flow.task<seven>();
  std::string msg = error_of<ferry::ValueError>([&] { flow.add_edge(b, a); });
  EXPECT_TRUE(contains(msg, "add_edge")) << msg;
  EXPECT_THROW(flow.add_edge(a, a), ferry::ValueError);
  EXPECT_EQ(flow.to_json()["tasks"][0]["after"], ferry::Value::array());
}

TEST(Flow, AddEdgeRefusesTasksOfAnotherFlow) {
  ferry::Flow other("other");
  auto foreign = other.task<seven>();
  ferry::Flow flow("this");
  auto a = flow.task<seven>();
  auto b = flow.task<seven>();
  EXPECT_THROW(flow.add_edge(foreign, b), ferry::ValueError);
  EXPECT_THROW(flow.add_edge(a, foreign), ferry::ValueError);
  std::string msg = error_of<ferry::ValueError>(
      [&] { flow.task<seven>(ferry::TaskOptions{.after = {foreign}}); });
  EXPECT_TRUE(contains(msg, "another flow")) << msg;
}

TEST(Flow, RepeatedAddEdgeIsRecordedOnce) {
  ferry::Flow flow("repeat-edge");
  auto a = flow.task<seven>();
  auto b = flow.task<seven>();
  flow.add_edge(a, b);
  flow.add_edge(a, b);
  EXPECT_EQ(flow.to_json()["tasks"][1]["after"], ferry::Value::array({0}));
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 7) << "a is no longer terminal";
}

TEST(Flow, EdgeAndDataEdgeToTheSameTaskCountOnce) {
  ferry::Flow flow("both");
  auto a = flow.task<seven>();
  auto b = flow.task<twice>(ferry::TaskOptions{.after = {a}}, a);
  flow.add_edge(a, b);
  ferry::RunResult r = flow.run({}, two_threads());
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, 14);
  EXPECT_EQ(r.tasks[1].attempts, 1);
}

// ---- constants -------------------------------------------------------------------------

TEST(Flow, ConstantsOfSeveralTypes) {
  ferry::Flow flow("constants");
  flow.task<describe>(3, 2.5, "text", true, std::vector<int>{1, 2},
                      std::map<std::string, int>{{"k", 9}}, std::optional<int>{}, Point{4, 5});
  ferry::Value args = flow.to_json()["tasks"][0]["args"];
  ASSERT_EQ(args.size(), 8u);
  EXPECT_EQ(args[0]["constant"], 3);
  EXPECT_EQ(args[1]["constant"], 2.5);
  EXPECT_EQ(args[2]["constant"], "text");
  EXPECT_EQ(args[3]["constant"], true);
  EXPECT_EQ(args[4]["constant"], ferry::Value::array({1, 2}));
  EXPECT_EQ(args[5]["constant"], (ferry::Value{{"k", 9}}));
  EXPECT_TRUE(args[6]["constant"].is_null());
  EXPECT_EQ(args[7]["constant"], (ferry::Value{{"x", 4}, {"y", 5}}));

  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_EQ(r.result, "3|" + std::to_string(2.5) + "|text|true|1,2,|k=9,|none|4:5");
}

TEST(Flow, ConstantIsConvertedToTheArgumentType) {
  ferry::Flow flow("convert");
  // A char is passed to an int parameter; a float to a double one.
  flow.task([](int c, double d) { return c + d; }, 'A', 0.5f);
  ferry::Value args = flow.to_json()["tasks"][0]["args"];
  EXPECT_EQ(args[0]["constant"], 65);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, ferry::State::Success) << r.message;
  EXPECT_DOUBLE_EQ(r.result.get<double>(), 65.5);
}

TEST(Flow, EmptyFlowSucceeds) {
  ferry::Flow flow("empty");
  std::vector<ferry::StateEvent> events;
  ferry::RunOptions o;
  o.on_state = [&](const ferry::StateEvent& e) { events.push_back(e); };
  ferry::RunResult r = flow.run({}, o);
  EXPECT_EQ(r.state, ferry::State::Success);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.tasks.empty());
  EXPECT_EQ(r.flow_name, "empty");
  EXPECT_EQ(r.result, ferry::Value::object());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].record.state, ferry::State::Running);
  EXPECT_EQ(events[1].record.state, ferry::State::Success);
}

TEST(Flow, ParameterOnlyFlowStillChecksParameters) {
  ferry::Flow flow("params-only");
  flow.parameter<int>("n");
  EXPECT_THROW(flow.run(), ferry::ValueError);
  EXPECT_EQ(flow.run({{"n", 1}}).state, ferry::State::Success);
}

TEST(Flow, RunsRepeatedlyAndCopiesShareTheGraph) {
  ferry::Flow flow("again");
  auto n = flow.parameter<int>("n", 1);
  flow.task<twice>(n);
  ferry::Flow copy = flow;
  EXPECT_EQ(copy.graph(), flow.graph());
  for (int i = 0; i < 3; ++i) {
    ferry::RunResult r = copy.run({{"n", i}});
    ASSERT_EQ(r.state, ferry::State::Success) << r.message;
    EXPECT_EQ(r.result, 2 * i);
  }
}
