// The executor: parallelism, data edges, retries, timeouts, triggers, cancellation, events.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/executor.hpp"
#include "core/graph.hpp"
#include "ferry/ferry.hpp"

// Readable states in assertion failures.
namespace ferry {
static void PrintTo(State state, std::ostream* os) { *os << to_string(state); }
}  // namespace ferry

namespace {

using namespace std::chrono_literals;
using ferry::State;
using ferry::TaskOptions;
using ferry::Trigger;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<State> states_of(const ferry::TaskRunResult& t) {
  std::vector<State> out;
  for (const auto& h : t.history) out.push_back(h.state);
  return out;
}

ferry::RunOptions threads(std::size_t n) {
  ferry::RunOptions o;
  o.threads = n;
  return o;
}

// ---- tasks -----------------------------------------------------------------------------

int seven() { return 7; }
int inc(int x) { return x + 1; }
int twice(int x) { return 2 * x; }
int add(int a, int b) { return a + b; }
int fails() { throw std::runtime_error("boom: it broke"); }
int fails_too() { throw std::runtime_error("second failure"); }
int throws_int() { throw 42; }
int throws_value_error() { throw ferry::ValueError("bad input value"); }

// Rendezvous: each caller only returns true if another caller arrived within wait_ms, which
// happens only when two of them run at the same time.
std::atomic<int> g_arrived{0};
bool meet(int wait_ms) {
  g_arrived.fetch_add(1);
  auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  while (g_arrived.load() < 2 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  return g_arrived.load() >= 2;
}

// Fails on its first two calls, then returns the attempt number from the context.
std::atomic<int> g_flaky_calls{0};
int flaky() {
  int n = g_flaky_calls.fetch_add(1) + 1;
  if (n <= 2) throw std::runtime_error("flaky failure " + std::to_string(n));
  return ferry::context().attempt;
}

// Records when each attempt started, fails the first one.
std::mutex g_times_mutex;
std::vector<Clock::time_point> g_attempt_times;
int fails_once_timed() {
  std::lock_guard lock(g_times_mutex);
  g_attempt_times.push_back(Clock::now());
  if (g_attempt_times.size() == 1) throw std::runtime_error("first attempt fails");
  return static_cast<int>(g_attempt_times.size());
}

// Overruns any small timeout; kept short and cheap because the abandoned thread lives on.
int sleeps_300ms() {
  std::this_thread::sleep_for(300ms);
  return 1;
}
int quick_under_timeout(int x) { return x * 3; }
int throws_under_timeout() { throw std::runtime_error("thrown inside a timed task"); }
int throws_int_under_timeout() { throw 7; }

std::atomic<int> g_calls{0};
int counted() {
  g_calls.fetch_add(1);
  return 1;
}

std::atomic<bool> g_cancel{false};
int cancels_the_run() {
  g_calls.fetch_add(1);
  g_cancel.store(true);
  return 5;
}
int cancels_then_fails() {
  g_calls.fetch_add(1);
  g_cancel.store(true);
  throw std::runtime_error("fails after cancelling");
}

int sum9(int a, int b, int c, int d, int e, int f, int g, int h, int i) {
  return a + b + c + d + e + f + g + h + i;
}

std::string fallback(std::optional<int> upstream) {
  return upstream ? "got " + std::to_string(*upstream) : "upstream had no result";
}
std::string handler() { return "handled"; }
std::string runs_anyway() { return "ran"; }

std::string current_run_id() { return ferry::context().run_id; }

}  // namespace

// ---- parallelism and data edges ------------------------------------------------------------

TEST(Executor, IndependentTasksRunInParallel) {
  g_arrived = 0;
  ferry::Flow flow("parallel");
  flow.task<meet>(TaskOptions{.name = "left"}, 5000);
  flow.task<meet>(TaskOptions{.name = "right"}, 5000);
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result["left"], true);
  EXPECT_EQ(r.result["right"], true);
}

TEST(Executor, DefaultThreadCountIsParallelToo) {
  g_arrived = 0;
  ferry::Flow flow("parallel-default");
  flow.task<meet>(TaskOptions{.name = "left"}, 5000);
  flow.task<meet>(TaskOptions{.name = "right"}, 5000);
  ferry::RunResult r = flow.run();  // threads = 0: at least 2
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, (ferry::Value{{"left", true}, {"right", true}}));
}

TEST(Executor, OneThreadRunsTasksOneAtATime) {
  g_arrived = 0;
  ferry::Flow flow("serial");
  flow.task<meet>(TaskOptions{.name = "left"}, 50);
  flow.task<meet>(TaskOptions{.name = "right"}, 50);
  ferry::RunResult r = flow.run({}, threads(1));
  ASSERT_EQ(r.state, State::Success) << r.message;
  // The first to run waited alone and gave up; the second found it had arrived.
  EXPECT_NE(r.result["left"], r.result["right"]);
}

TEST(Executor, ResultsFlowAlongADiamond) {
  ferry::Flow flow("diamond");
  auto n = flow.parameter<int>("n", 5);
  auto a = flow.task<inc>(n);     // 6
  auto b = flow.task<inc>(a);     // 7
  auto c = flow.task<twice>(a);   // 12
  auto d = flow.task<add>(b, c);  // 19
  (void)d;
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  ASSERT_EQ(r.tasks.size(), 4u);
  EXPECT_EQ(r.tasks[0].result, 6);
  EXPECT_EQ(r.tasks[1].result, 7);
  EXPECT_EQ(r.tasks[2].result, 12);
  EXPECT_EQ(r.tasks[3].result, 19);
  EXPECT_EQ(r.result, 19);
  for (const auto& t : r.tasks) {
    EXPECT_EQ(t.state, State::Success) << t.name;
    EXPECT_EQ(t.attempts, 1) << t.name;
    EXPECT_EQ(states_of(t), (std::vector<State>{State::Running, State::Success})) << t.name;
  }
  r = flow.run({{"n", 0}}, threads(2));
  EXPECT_EQ(r.result, 1 + 1 + 2);
}

TEST(Executor, SameUpstreamTwiceIsOneDependency) {
  ferry::Flow flow("square");
  auto a = flow.task<seven>();
  flow.task<add>(a, a);
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 14);
}

TEST(Executor, ManyArguments) {
  // More arguments than the executor keeps inline.
  ferry::Flow flow("nine");
  auto p = flow.parameter<int>("p", 100);
  auto a = flow.task<seven>();
  flow.task<sum9>(1, 2, 3, 4, 5, 6, a, p, 9);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 1 + 2 + 3 + 4 + 5 + 6 + 7 + 100 + 9);
}

TEST(Executor, WideFanOutAndFanIn) {
  ferry::Flow flow("fan");
  auto root = flow.task<seven>();
  std::vector<ferry::Task<int>> mids;
  for (int i = 0; i < 50; ++i) mids.push_back(flow.task<inc>(root));
  auto acc = flow.task<add>(mids[0], mids[1]);
  for (int i = 2; i < 50; ++i) acc = flow.task<add>(acc, mids[i]);
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 50 * 8);
}

// ---- failures and retries --------------------------------------------------------------

TEST(Executor, FailedTaskCarriesTheExceptionMessage) {
  ferry::Flow flow("fails");
  flow.task<fails>();
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.tasks.size(), 1u);
  EXPECT_EQ(r.tasks[0].state, State::Failed);
  EXPECT_EQ(r.tasks[0].message, "boom: it broke");
  EXPECT_EQ(r.tasks[0].attempts, 1);
  EXPECT_TRUE(r.tasks[0].result.is_null());
  EXPECT_EQ(states_of(r.tasks[0]), (std::vector<State>{State::Running, State::Failed}));
  EXPECT_TRUE(contains(r.message, "'fails'")) << r.message;
  EXPECT_TRUE(contains(r.message, "1 of 1")) << r.message;
}

TEST(Executor, RetriesUntilSuccess) {
  g_flaky_calls = 0;
  ferry::Flow flow("flaky");
  auto f = flow.task<flaky>(TaskOptions{.max_retries = 2});
  flow.task<twice>(f);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, State::Success) << r.message;
  const ferry::TaskRunResult& t = r.tasks[0];
  EXPECT_EQ(t.state, State::Success);
  EXPECT_EQ(t.attempts, 3);
  EXPECT_EQ(t.result, 3) << "context().attempt is 3 on the third try";
  EXPECT_EQ(g_flaky_calls.load(), 3);
  EXPECT_EQ(states_of(t), (std::vector<State>{State::Running, State::Retrying, State::Running,
                                              State::Retrying, State::Running, State::Success}));
  EXPECT_TRUE(contains(t.history[1].message, "flaky failure 1")) << t.history[1].message;
  EXPECT_TRUE(contains(t.history[1].message, "retry 1 of 2")) << t.history[1].message;
  EXPECT_TRUE(contains(t.history[3].message, "flaky failure 2")) << t.history[3].message;
  EXPECT_TRUE(contains(t.history[3].message, "retry 2 of 2")) << t.history[3].message;
  EXPECT_EQ(r.result, 6);
}

TEST(Executor, FailsAfterExhaustingRetries) {
  g_flaky_calls = 0;
  ferry::Flow flow("not-enough");
  flow.task<flaky>(TaskOptions{.max_retries = 1});
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  const ferry::TaskRunResult& t = r.tasks[0];
  EXPECT_EQ(t.state, State::Failed);
  EXPECT_EQ(t.attempts, 2);
  EXPECT_EQ(t.message, "flaky failure 2");
  EXPECT_EQ(g_flaky_calls.load(), 2);
  EXPECT_EQ(states_of(t),
            (std::vector<State>{State::Running, State::Retrying, State::Running, State::Failed}));
}

TEST(Executor, AlwaysFailingTaskUsesEveryRetry) {
  ferry::Flow flow("always");
  flow.task<fails>(TaskOptions{.max_retries = 3});
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[0].attempts, 4);
  EXPECT_EQ(r.tasks[0].message, "boom: it broke");
}

TEST(Executor, RetryDelayIsHonoured) {
  {
    std::lock_guard lock(g_times_mutex);
    g_attempt_times.clear();
  }
  ferry::Flow flow("delayed");
  flow.task<fails_once_timed>(TaskOptions{.max_retries = 1, .retry_delay = 60ms});
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 2);
  std::lock_guard lock(g_times_mutex);
  ASSERT_EQ(g_attempt_times.size(), 2u);
  EXPECT_GE(g_attempt_times[1] - g_attempt_times[0], 60ms);
}

TEST(Executor, RetryDelayWithOneThread) {
  {
    std::lock_guard lock(g_times_mutex);
    g_attempt_times.clear();
  }
  ferry::Flow flow("delayed-serial");
  auto a = flow.task<fails_once_timed>(TaskOptions{.max_retries = 2, .retry_delay = 30ms});
  flow.task<inc>(a);
  ferry::RunResult r = flow.run({}, threads(1));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 3);
  std::lock_guard lock(g_times_mutex);
  ASSERT_EQ(g_attempt_times.size(), 2u);
  EXPECT_GE(g_attempt_times[1] - g_attempt_times[0], 30ms);
}

TEST(Executor, NonStdExceptionFailsCleanly) {
  ferry::Flow flow("non-std");
  auto a = flow.task<throws_int>();
  flow.task<inc>(a);
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[0].state, State::Failed);
  EXPECT_TRUE(contains(r.tasks[0].message, "not a std::exception")) << r.tasks[0].message;
  EXPECT_EQ(r.tasks[1].state, State::TriggerFailed);
}

TEST(Executor, FerryErrorInATaskFails) {
  ferry::Flow flow("value-error");
  flow.task<throws_value_error>();
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[0].message, "bad input value");
}

TEST(Executor, ArgumentThatDoesNotDecodeFailsTheTask) {
  ferry::Flow flow("bad-argument");
  auto v = flow.parameter<ferry::Value>("v", ferry::Value("not a number"));
  flow.task<twice>(v);
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[0].state, State::Failed);
  EXPECT_TRUE(contains(r.tasks[0].message, "Argument 1")) << r.tasks[0].message;

  // A good value through the same "any" parameter works.
  r = flow.run({{"v", 21}});
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 42);
}

TEST(Executor, ArgumentErrorNamesItsPosition) {
  ferry::Flow flow("bad-second-argument");
  auto v = flow.parameter<ferry::Value>("v", ferry::Value::array({1}));
  flow.task<add>(1, v);
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_TRUE(contains(r.tasks[0].message, "Argument 2")) << r.tasks[0].message;
}

TEST(Executor, IntegerArgumentOutOfRangeFailsTheTask) {
  ferry::Flow flow("narrowing");
  auto n = flow.parameter<int>("n", 1);
  flow.task<twice>(n);
  ferry::RunResult r = flow.run({{"n", (1LL << 40) + 1}});
  EXPECT_EQ(r.state, State::Failed) << "got " << r.result.dump();
  EXPECT_TRUE(contains(r.tasks[0].message, "Argument 1")) << r.tasks[0].message;
  r = flow.run({{"n", 1e20}});
  EXPECT_EQ(r.state, State::Failed) << "got " << r.result.dump();
}

TEST(Executor, FlowMessageListsAtMostFiveFailures) {
  ferry::Flow flow("many-failures");
  for (int i = 0; i < 7; ++i) flow.task<fails>();
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_TRUE(contains(r.message, "7 of 7")) << r.message;
  EXPECT_TRUE(contains(r.message, "'fails-5'")) << r.message;
  EXPECT_FALSE(contains(r.message, "'fails-6'")) << r.message;
  EXPECT_TRUE(contains(r.message, "...")) << r.message;
}

// ---- timeouts --------------------------------------------------------------------------

TEST(Executor, TimeoutEndsTimedOut) {
  ferry::Flow flow("timeout");
  auto a = flow.task<sleeps_300ms>(TaskOptions{.timeout = 50ms});
  flow.task<inc>(a);
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  const ferry::TaskRunResult& t = r.tasks[0];
  EXPECT_EQ(t.state, State::TimedOut);
  EXPECT_TRUE(contains(t.message, "timed out")) << t.message;
  EXPECT_TRUE(contains(t.message, "50 ms")) << t.message;
  EXPECT_TRUE(t.result.is_null());
  EXPECT_EQ(r.tasks[1].state, State::TriggerFailed);
  EXPECT_TRUE(contains(r.tasks[1].message, "TimedOut")) << r.tasks[1].message;
}

TEST(Executor, TimedOutTaskIsRetried) {
  ferry::Flow flow("timeout-retry");
  flow.task<sleeps_300ms>(TaskOptions{.max_retries = 1, .timeout = 30ms});
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  const ferry::TaskRunResult& t = r.tasks[0];
  EXPECT_EQ(t.state, State::TimedOut);
  EXPECT_EQ(t.attempts, 2);
  EXPECT_EQ(states_of(t),
            (std::vector<State>{State::Running, State::Retrying, State::Running, State::TimedOut}));
  EXPECT_TRUE(contains(t.history[1].message, "timed out")) << t.history[1].message;
}

TEST(Executor, TaskWithinItsTimeoutSucceeds) {
  ferry::Flow flow("in-time");
  auto a = flow.task<seven>();
  auto b = flow.task<quick_under_timeout>(TaskOptions{.timeout = 5s}, a);
  flow.task<inc>(b);
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.tasks[1].result, 21);
  EXPECT_EQ(r.result, 22);
}

TEST(Executor, ExceptionsCrossTheTimeoutThread) {
  ferry::Flow flow("timed-throw");
  flow.task<throws_under_timeout>(TaskOptions{.timeout = 5s});
  flow.task<throws_int_under_timeout>(TaskOptions{.timeout = 5s});
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[0].state, State::Failed);
  EXPECT_EQ(r.tasks[0].message, "thrown inside a timed task");
  EXPECT_EQ(r.tasks[1].state, State::Failed);
  EXPECT_TRUE(contains(r.tasks[1].message, "not a std::exception")) << r.tasks[1].message;
}

// ---- triggers --------------------------------------------------------------------------

TEST(Executor, AllSuccessfulAfterAFailureIsTriggerFailed) {
  g_calls = 0;
  ferry::Flow flow("trigger-failed");
  auto ok = flow.task<seven>();
  auto bad = flow.task<fails>();
  auto down = flow.task<counted>(TaskOptions{.after = {ok, bad}});
  flow.task<inc>(down);
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(g_calls.load(), 0) << "a task whose trigger failed must not run";
  const ferry::TaskRunResult& d = r.tasks[2];
  EXPECT_EQ(d.state, State::TriggerFailed);
  EXPECT_EQ(d.attempts, 0);
  EXPECT_TRUE(contains(d.message, "'fails'")) << d.message;
  EXPECT_TRUE(contains(d.message, "Failed")) << d.message;
  EXPECT_EQ(states_of(d), (std::vector<State>{State::TriggerFailed}));
  // The failure travels down the chain, naming the nearest upstream task.
  EXPECT_EQ(r.tasks[3].state, State::TriggerFailed);
  EXPECT_TRUE(contains(r.tasks[3].message, "'counted'")) << r.tasks[3].message;
  EXPECT_TRUE(contains(r.tasks[3].message, "TriggerFailed")) << r.tasks[3].message;
  EXPECT_TRUE(contains(r.message, "3 of 4")) << r.message;
}

TEST(Executor, AllFinishedRunsAfterAFailure) {
  ferry::Flow flow("all-finished");
  auto bad = flow.task<fails>();
  flow.task<runs_anyway>(TaskOptions{.trigger = Trigger::all_finished, .after = {bad}});
  // A data edge from a failed task passes null, which an optional argument accepts.
  flow.task<fallback>(TaskOptions{.trigger = Trigger::all_finished}, bad);
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed) << "a failed task fails the flow even if others ran";
  EXPECT_EQ(r.tasks[1].state, State::Success);
  EXPECT_EQ(r.tasks[1].result, "ran");
  EXPECT_EQ(r.tasks[2].state, State::Success);
  EXPECT_EQ(r.tasks[2].result, "upstream had no result");
}

TEST(Executor, AllFinishedRunsAfterSuccessToo) {
  ferry::Flow flow("all-finished-ok");
  auto a = flow.task<seven>();
  flow.task<fallback>(TaskOptions{.trigger = Trigger::all_finished}, a);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, "got 7");
}

TEST(Executor, AnyFailedRunsWhenAnUpstreamFailed) {
  ferry::Flow flow("any-failed");
  auto ok = flow.task<seven>();
  auto bad = flow.task<fails>();
  flow.task<handler>(TaskOptions{.trigger = Trigger::any_failed, .after = {ok, bad}});
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[2].state, State::Success);
  EXPECT_EQ(r.tasks[2].result, "handled");
}

TEST(Executor, AnyFailedIsSkippedWhenNothingFailed) {
  g_calls = 0;
  ferry::Flow flow("any-failed-skipped");
  auto a = flow.task<seven>();
  flow.task<counted>(TaskOptions{.trigger = Trigger::any_failed, .after = {a}});
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Success) << "Skipped is not a failure";
  EXPECT_EQ(g_calls.load(), 0);
  EXPECT_EQ(r.tasks[1].state, State::Skipped);
  EXPECT_EQ(r.tasks[1].attempts, 0);
  EXPECT_TRUE(contains(r.tasks[1].message, "any_failed")) << r.tasks[1].message;
  EXPECT_TRUE(r.result.is_null()) << "the skipped terminal task has no result";
}

TEST(Executor, AnyFailedWithoutUpstreamRuns) {
  ferry::Flow flow("any-failed-root");
  flow.task<handler>(TaskOptions{.trigger = Trigger::any_failed});
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, "handled");
}

TEST(Executor, AnySuccessfulRunsWhenOneUpstreamSucceeded) {
  ferry::Flow flow("any-successful");
  auto ok = flow.task<seven>();
  auto bad = flow.task<fails>();
  flow.task<runs_anyway>(TaskOptions{.trigger = Trigger::any_successful, .after = {bad, ok}});
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks[2].state, State::Success);
  EXPECT_EQ(r.tasks[2].result, "ran");
}

TEST(Executor, AnySuccessfulFailsWhenNoUpstreamSucceeded) {
  g_calls = 0;
  ferry::Flow flow("any-successful-none");
  auto a = flow.task<fails>();
  auto b = flow.task<fails_too>();
  flow.task<counted>(TaskOptions{.trigger = Trigger::any_successful, .after = {a, b}});
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(g_calls.load(), 0);
  EXPECT_EQ(r.tasks[2].state, State::TriggerFailed);
  EXPECT_TRUE(contains(r.tasks[2].message, "any_successful")) << r.tasks[2].message;
}

TEST(Executor, SkippedPropagatesToAllSuccessful) {
  g_calls = 0;
  ferry::Flow flow("skip-chain");
  auto a = flow.task<seven>();
  auto h = flow.task<handler>(TaskOptions{.trigger = Trigger::any_failed, .after = {a}});
  auto c = flow.task<counted>(TaskOptions{.after = {h}});
  flow.task<runs_anyway>(TaskOptions{.trigger = Trigger::all_finished, .after = {c}});
  ferry::RunResult r = flow.run();
  EXPECT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(g_calls.load(), 0);
  EXPECT_EQ(r.tasks[1].state, State::Skipped);
  EXPECT_EQ(r.tasks[2].state, State::Skipped);
  EXPECT_TRUE(contains(r.tasks[2].message, "'handler'")) << r.tasks[2].message;
  EXPECT_TRUE(contains(r.tasks[2].message, "skipped")) << r.tasks[2].message;
  // all_finished still runs after a skipped task.
  EXPECT_EQ(r.tasks[3].state, State::Success);
  EXPECT_EQ(r.result, "ran");
}

TEST(Executor, FailureWinsOverSkipForAllSuccessful) {
  ferry::Flow flow("fail-and-skip");
  auto ok = flow.task<seven>();
  auto skipped = flow.task<handler>(TaskOptions{.trigger = Trigger::any_failed, .after = {ok}});
  auto bad = flow.task<fails>();
  flow.task<runs_anyway>(TaskOptions{.after = {skipped, bad}});
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.tasks[1].state, State::Skipped);
  EXPECT_EQ(r.tasks[3].state, State::TriggerFailed);
}

// ---- the flow's result ---------------------------------------------------------------------

TEST(Executor, ResultOfTheSingleTerminalTask) {
  ferry::Flow flow("single-terminal");
  auto a = flow.task<seven>();
  flow.task<twice>(a);
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 14);
  EXPECT_EQ(r.message, "All tasks succeeded.");
}

TEST(Executor, ResultKeyedByTerminalTaskNames) {
  ferry::Flow flow("several-terminals");
  auto a = flow.task<seven>();
  flow.task<twice>(a);
  flow.task<inc>(a);
  flow.task<fails>();
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  ASSERT_TRUE(r.result.is_object());
  EXPECT_EQ(r.result.size(), 3u);
  EXPECT_EQ(r.result["twice"], 14);
  EXPECT_EQ(r.result["inc"], 8);
  EXPECT_TRUE(r.result["fails"].is_null());
  EXPECT_FALSE(r.result.contains("seven")) << "a task with downstream tasks is not terminal";
}

TEST(Executor, TaskResultsAreInTheOrderTasksWereAdded) {
  ferry::Flow flow("order");
  auto a = flow.task<seven>(TaskOptions{.name = "z-first"});
  flow.task<twice>(TaskOptions{.name = "a-second"}, a);
  flow.task<fails>(TaskOptions{.name = "m-third"});
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.tasks.size(), 3u);
  EXPECT_EQ(r.tasks[0].name, "z-first");
  EXPECT_EQ(r.tasks[1].name, "a-second");
  EXPECT_EQ(r.tasks[2].name, "m-third");
  EXPECT_EQ(r.flow_name, "order");
}

// ---- cancellation ----------------------------------------------------------------------

TEST(Executor, CancelBeforeRunCancelsEveryTask) {
  g_calls = 0;
  std::atomic<bool> cancel{true};
  ferry::Flow flow("cancelled");
  auto a = flow.task<counted>();
  auto b = flow.task<counted>();
  flow.task<add>(a, b);
  ferry::RunOptions o = threads(2);
  o.cancel = &cancel;
  ferry::RunResult r = flow.run({}, o);
  EXPECT_EQ(r.state, State::Cancelled);
  EXPECT_EQ(g_calls.load(), 0);
  for (const auto& t : r.tasks) {
    EXPECT_EQ(t.state, State::Cancelled) << t.name;
    EXPECT_EQ(t.attempts, 0) << t.name;
    EXPECT_TRUE(contains(t.message, "cancelled")) << t.message;
  }
}

TEST(Executor, UnsetCancelFlagDoesNothing) {
  std::atomic<bool> cancel{false};
  ferry::Flow flow("not-cancelled");
  flow.task<seven>();
  ferry::RunOptions o;
  o.cancel = &cancel;
  EXPECT_EQ(flow.run({}, o).state, State::Success);
}

TEST(Executor, CancelDuringRunCancelsUnstartedTasks) {
  g_calls = 0;
  g_cancel = false;
  ferry::Flow flow("cancel-midway");
  auto a = flow.task<cancels_the_run>();
  auto b = flow.task<inc>(a);
  flow.task<inc>(b);
  ferry::RunOptions o = threads(2);
  o.cancel = &g_cancel;
  ferry::RunResult r = flow.run({}, o);
  EXPECT_EQ(r.state, State::Cancelled);
  EXPECT_EQ(g_calls.load(), 1);
  EXPECT_EQ(r.tasks[0].state, State::Success) << "a task that already ran keeps its state";
  EXPECT_EQ(r.tasks[0].result, 5);
  EXPECT_EQ(r.tasks[1].state, State::Cancelled);
  EXPECT_EQ(r.tasks[2].state, State::Cancelled);
}

TEST(Executor, CancelStopsRetries) {
  g_calls = 0;
  g_cancel = false;
  ferry::Flow flow("cancel-retry");
  flow.task<cancels_then_fails>(TaskOptions{.max_retries = 5, .retry_delay = 10ms});
  ferry::RunOptions o = threads(2);
  o.cancel = &g_cancel;
  ferry::RunResult r = flow.run({}, o);
  EXPECT_EQ(r.state, State::Cancelled);
  EXPECT_EQ(g_calls.load(), 1);
  EXPECT_EQ(r.tasks[0].state, State::Cancelled);
  EXPECT_EQ(r.tasks[0].attempts, 1);
  EXPECT_EQ(states_of(r.tasks[0]),
            (std::vector<State>{State::Running, State::Retrying, State::Cancelled}));
}

// ---- events and run ids ----------------------------------------------------------------

TEST(Executor, StateEventsAreDelivered) {
  std::vector<ferry::StateEvent> events;  // on_state calls are serialized
  ferry::Flow flow("events");
  auto a = flow.task<seven>();
  flow.task<twice>(a);
  flow.task<inc>(a);
  ferry::RunOptions o = threads(2);
  o.on_state = [&](const ferry::StateEvent& e) { events.push_back(e); };
  ferry::RunResult r = flow.run({}, o);
  ASSERT_EQ(r.state, State::Success) << r.message;

  ASSERT_EQ(events.size(), 2u + 3u * 2u);
  EXPECT_EQ(events.front().task_index, -1);
  EXPECT_EQ(events.front().task_name, "events");
  EXPECT_EQ(events.front().record.state, State::Running);
  EXPECT_EQ(events.back().task_index, -1);
  EXPECT_EQ(events.back().task_name, "events");
  EXPECT_EQ(events.back().record.state, State::Success);
  EXPECT_EQ(events.back().record.message, r.message);

  for (long i = 0; i < 3; ++i) {
    std::vector<State> seen;
    for (const auto& e : events) {
      if (e.task_index != i) continue;
      EXPECT_EQ(e.task_name, r.tasks[i].name);
      seen.push_back(e.record.state);
    }
    EXPECT_EQ(seen, (std::vector<State>{State::Running, State::Success})) << "task " << i;
  }
  // The root's Success comes before its downstream tasks start.
  std::size_t root_done = 0, first_downstream = events.size();
  for (std::size_t k = 0; k < events.size(); ++k) {
    if (events[k].task_index == 0 && events[k].record.state == State::Success) root_done = k;
    if (events[k].task_index > 0 && first_downstream == events.size()) first_downstream = k;
  }
  EXPECT_LT(root_done, first_downstream);
  // The flow's own history matches its events.
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.history[0].state, State::Running);
  EXPECT_EQ(r.history[1].state, State::Success);
}

TEST(Executor, StateEventsForRetriesAndTriggers) {
  g_flaky_calls = 0;
  std::vector<ferry::StateEvent> events;
  ferry::Flow flow("events-2");
  flow.task<flaky>(TaskOptions{.max_retries = 2});
  auto bad = flow.task<fails>();
  flow.task<inc>(bad);
  ferry::RunOptions o = threads(2);
  o.on_state = [&](const ferry::StateEvent& e) { events.push_back(e); };
  ferry::RunResult r = flow.run({}, o);
  EXPECT_EQ(r.state, State::Failed);
  auto states_for = [&](long index) {
    std::vector<State> out;
    for (const auto& e : events) {
      if (e.task_index == index) out.push_back(e.record.state);
    }
    return out;
  };
  EXPECT_EQ(states_for(0), states_of(r.tasks[0]));
  EXPECT_EQ(states_for(0).size(), 6u);
  EXPECT_EQ(states_for(1), (std::vector<State>{State::Running, State::Failed}));
  EXPECT_EQ(states_for(2), (std::vector<State>{State::TriggerFailed}));
  EXPECT_EQ(states_for(-1), (std::vector<State>{State::Running, State::Failed}));
}

TEST(Executor, RunIdIsUsed) {
  ferry::Flow flow("run-id");
  flow.task<current_run_id>();
  ferry::RunOptions o;
  o.run_id = "my-run-0001";
  ferry::RunResult r = flow.run({}, o);
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.run_id, "my-run-0001");
  EXPECT_EQ(r.result, "my-run-0001");
}

TEST(Executor, RunIdIsGeneratedWhenEmpty) {
  ferry::Flow flow("generated-id");
  flow.task<current_run_id>();
  ferry::RunResult r1 = flow.run();
  ferry::RunResult r2 = flow.run();
  ASSERT_EQ(r1.state, State::Success) << r1.message;
  EXPECT_EQ(r1.run_id.size(), 32u);
  EXPECT_EQ(r1.run_id.find_first_not_of("0123456789abcdef"), std::string::npos) << r1.run_id;
  EXPECT_EQ(r1.result, r1.run_id);
  EXPECT_NE(r1.run_id, r2.run_id);
  std::string id = ferry::detail::new_run_id();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_NE(id, ferry::detail::new_run_id());
}

// ---- long chains -----------------------------------------------------------------------

namespace {

constexpr std::size_t kChain = 100000;

// A chain of kChain tasks built on the graph directly: the public Flow API names tasks in
// quadratic time (see Flow.LongChainThroughThePublicApi).
std::shared_ptr<ferry::detail::Graph> chain_graph(ferry::detail::TaskFn first) {
  auto g = std::make_shared<ferry::detail::Graph>();
  g->name = "long-chain";
  g->tasks.reserve(kChain);
  for (std::size_t i = 0; i < kChain; ++i) {
    ferry::detail::TaskNode node;
    node.name = "t" + std::to_string(i);
    node.key = "chain";
    node.fn = i == 0 ? first : &ferry::detail::invoke<inc>;
    if (i > 0) {
      node.args.push_back({ferry::detail::ArgSpec::Kind::TaskResult, ferry::Value(), {}, i - 1});
    }
    g->tasks.push_back(std::move(node));
  }
  ferry::detail::link_edges(*g);
  return g;
}

}  // namespace

TEST(Executor, LongChainWhoseFirstTaskFails) {
  ferry::Flow flow(chain_graph(&ferry::detail::invoke<fails>));
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  ASSERT_EQ(r.tasks.size(), kChain);
  EXPECT_EQ(r.tasks[0].state, State::Failed);
  std::size_t trigger_failed = 0;
  for (std::size_t i = 1; i < kChain; ++i) {
    if (r.tasks[i].state == State::TriggerFailed && r.tasks[i].attempts == 0) ++trigger_failed;
  }
  EXPECT_EQ(trigger_failed, kChain - 1);
  EXPECT_TRUE(contains(r.tasks[kChain - 1].message, "'t99998'")) << r.tasks[kChain - 1].message;
  EXPECT_TRUE(contains(r.message, "100000 of 100000")) << r.message;
  EXPECT_TRUE(r.result.is_null());
}

TEST(Executor, LongChainThatSucceeds) {
  ferry::Flow flow(chain_graph(&ferry::detail::invoke<seven>));
  ferry::RunResult r = flow.run({}, threads(2));
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result, 7 + static_cast<int>(kChain) - 1);
  EXPECT_EQ(r.tasks[kChain - 1].attempts, 1);
}

TEST(Flow, LongChainThroughThePublicApi) {
  ferry::Flow flow("public-chain");
  auto t = flow.task<fails>();
  for (std::size_t i = 1; i < kChain; ++i) t = flow.task<inc>(t);
  ferry::RunResult r = flow.run({}, threads(2));
  EXPECT_EQ(r.state, State::Failed);
  EXPECT_EQ(r.tasks.back().state, State::TriggerFailed);
  EXPECT_EQ(r.tasks.back().name, "inc-" + std::to_string(kChain - 1));
}
