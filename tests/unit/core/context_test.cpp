// What a task sees of its run: ferry::context(), ferry::flow_file() and the run logger.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ferry/ferry.hpp"

// Readable states in assertion failures.
namespace ferry {
static void PrintTo(State state, std::ostream* os) { *os << to_string(state); }
}  // namespace ferry

namespace {

using namespace std::chrono_literals;
using ferry::State;
using ferry::TaskOptions;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ferry::Value context_snapshot() {
  const ferry::Context& c = ferry::context();
  ferry::Value secrets = ferry::Value::object();
  for (const auto& [k, v] : c.secrets) secrets[k] = v;
  return {{"run_id", c.run_id},         {"flow_name", c.flow_name},
          {"task_name", c.task_name},   {"attempt", c.attempt},
          {"parameters", c.parameters}, {"secrets", secrets},
          {"flow_file", c.flow_file},   {"flow_file_fn", ferry::flow_file()}};
}

ferry::Value snapshot_with(int) { return context_snapshot(); }

int g_attempts_seen = 0;
ferry::Value fails_first_then_snapshot() {
  if (++g_attempts_seen == 1) throw std::runtime_error("first try fails");
  return context_snapshot();
}

int logs_lines() {
  ferry::logger().debug("debug line");
  ferry::logger().info("hello from a task");
  ferry::logger().warning("careful");
  ferry::logger().error("bad thing");
  return 1;
}

int logs_under_timeout() {
  ferry::logger().info("timed hello");
  return 2;
}

struct Collected {
  std::mutex mutex;
  std::vector<ferry::LogRecord> records;
};

ferry::RunOptions collecting(Collected& c) {
  ferry::RunOptions o;
  o.threads = 2;
  o.on_log = [&c](const ferry::LogRecord& r) {
    std::lock_guard lock(c.mutex);
    c.records.push_back(r);
  };
  return o;
}

}  // namespace

// ---- context ---------------------------------------------------------------------------

TEST(Context, EmptyOutsideARun) {
  const ferry::Context& c = ferry::context();
  EXPECT_TRUE(c.run_id.empty());
  EXPECT_TRUE(c.flow_name.empty());
  EXPECT_TRUE(c.task_name.empty());
  EXPECT_EQ(c.attempt, 0);
  EXPECT_EQ(c.parameters, ferry::Value::object());
  EXPECT_TRUE(c.secrets.empty());
  EXPECT_TRUE(c.flow_file.empty());
  EXPECT_TRUE(ferry::flow_file().empty());
}

TEST(Context, SeenByATask) {
  ferry::Flow flow("ctx-flow");
  auto n = flow.parameter<int>("n", 3);
  flow.parameter<std::string>("label");
  flow.task<snapshot_with>(TaskOptions{.name = "look"}, n);
  ferry::RunOptions o;
  o.run_id = "run-ctx-1";
  o.secrets = {{"token", "s3cret"}};
  ferry::RunResult r = flow.run({{"label", "x"}}, o);
  ASSERT_EQ(r.state, State::Success) << r.message;
  const ferry::Value& c = r.result;
  EXPECT_EQ(c["run_id"], "run-ctx-1");
  EXPECT_EQ(c["flow_name"], "ctx-flow");
  EXPECT_EQ(c["task_name"], "look");
  EXPECT_EQ(c["attempt"], 1);
  // Defaults are filled in next to the given values.
  EXPECT_EQ(c["parameters"], (ferry::Value{{"n", 3}, {"label", "x"}}));
  EXPECT_EQ(c["secrets"], (ferry::Value{{"token", "s3cret"}}));
  EXPECT_EQ(c["flow_file"], "");
  EXPECT_EQ(c["flow_file_fn"], "") << "flows built in-process have no flow file";
}

TEST(Context, EachTaskSeesItsOwnName) {
  ferry::Flow flow("ctx-names");
  auto a = flow.task<context_snapshot>(TaskOptions{.name = "first"});
  flow.task<context_snapshot>(TaskOptions{.name = "second", .after = {a}});
  flow.task<context_snapshot>(TaskOptions{.name = "third", .after = {a}});
  ferry::RunOptions o;
  o.threads = 2;
  ferry::RunResult r = flow.run({}, o);
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.tasks[0].result["task_name"], "first");
  EXPECT_EQ(r.tasks[1].result["task_name"], "second");
  EXPECT_EQ(r.tasks[2].result["task_name"], "third");
  for (const auto& t : r.tasks) EXPECT_EQ(t.result["run_id"], r.run_id) << t.name;
}

TEST(Context, AttemptCountsRetries) {
  g_attempts_seen = 0;
  ferry::Flow flow("ctx-retry");
  flow.task<fails_first_then_snapshot>(TaskOptions{.max_retries = 1});
  ferry::RunResult r = flow.run();
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result["attempt"], 2);
  EXPECT_EQ(r.result["task_name"], "fails_first_then_snapshot");
}

TEST(Context, SeenByATaskWithATimeout) {
  ferry::Flow flow("ctx-timed");
  flow.parameter<int>("n", 9);
  flow.task<context_snapshot>(TaskOptions{.name = "timed", .timeout = 5s});
  ferry::RunOptions o;
  o.run_id = "run-timed";
  ferry::RunResult r = flow.run({}, o);
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_EQ(r.result["run_id"], "run-timed");
  EXPECT_EQ(r.result["flow_name"], "ctx-timed");
  EXPECT_EQ(r.result["task_name"], "timed");
  EXPECT_EQ(r.result["attempt"], 1);
  EXPECT_EQ(r.result["parameters"], (ferry::Value{{"n", 9}}));
}

TEST(Context, StillEmptyOnTheCallingThreadAfterARun) {
  ferry::Flow flow("ctx-after");
  flow.task<context_snapshot>();
  ASSERT_EQ(flow.run().state, State::Success);
  EXPECT_TRUE(ferry::context().run_id.empty());
  EXPECT_TRUE(ferry::context().task_name.empty());
}

// ---- logging ---------------------------------------------------------------------------

TEST(Logging, LevelNames) {
  EXPECT_STREQ(ferry::to_string(ferry::LogLevel::Debug), "DEBUG");
  EXPECT_STREQ(ferry::to_string(ferry::LogLevel::Info), "INFO");
  EXPECT_STREQ(ferry::to_string(ferry::LogLevel::Warning), "WARNING");
  EXPECT_STREQ(ferry::to_string(ferry::LogLevel::Error), "ERROR");
}

TEST(Logging, TaskLinesReachOnLog) {
  Collected c;
  ferry::Flow flow("log-flow");
  flow.task<logs_lines>(TaskOptions{.name = "talker"});
  ferry::RunOptions o = collecting(c);
  o.run_id = "run-log-1";
  long long before = now_ms();
  ferry::RunResult r = flow.run({}, o);
  long long after = now_ms();
  ASSERT_EQ(r.state, State::Success) << r.message;
  std::lock_guard lock(c.mutex);
  ASSERT_EQ(c.records.size(), 4u);
  const std::vector<std::pair<ferry::LogLevel, std::string>> want = {
      {ferry::LogLevel::Debug, "debug line"},
      {ferry::LogLevel::Info, "hello from a task"},
      {ferry::LogLevel::Warning, "careful"},
      {ferry::LogLevel::Error, "bad thing"},
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    const ferry::LogRecord& rec = c.records[i];
    EXPECT_EQ(rec.level, want[i].first);
    EXPECT_EQ(rec.message, want[i].second);
    EXPECT_EQ(rec.run_id, "run-log-1");
    EXPECT_EQ(rec.flow_name, "log-flow");
    EXPECT_EQ(rec.task_name, "talker");
    EXPECT_GE(rec.time_ms, before - 1000);
    EXPECT_LE(rec.time_ms, after + 1000);
  }
}

TEST(Logging, TaskLinesFromATimedTaskReachOnLog) {
  Collected c;
  ferry::Flow flow("log-timed");
  flow.task<logs_under_timeout>(TaskOptions{.timeout = 5s});
  ferry::RunResult r = flow.run({}, collecting(c));
  ASSERT_EQ(r.state, State::Success) << r.message;
  std::lock_guard lock(c.mutex);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].message, "timed hello");
  EXPECT_EQ(c.records[0].task_name, "logs_under_timeout");
  EXPECT_EQ(c.records[0].run_id, r.run_id);
}

TEST(Logging, LinesOfSeveralTasksAreTagged) {
  Collected c;
  ferry::Flow flow("log-many");
  auto a = flow.task<logs_lines>(TaskOptions{.name = "one"});
  flow.task<logs_lines>(TaskOptions{.name = "two", .after = {a}});
  flow.task<logs_lines>(TaskOptions{.name = "three"});
  ferry::RunResult r = flow.run({}, collecting(c));
  ASSERT_EQ(r.state, State::Success) << r.message;
  std::lock_guard lock(c.mutex);
  ASSERT_EQ(c.records.size(), 12u);
  std::map<std::string, int> per_task;
  for (const auto& rec : c.records) {
    per_task[rec.task_name] += 1;
    EXPECT_EQ(rec.run_id, r.run_id);
  }
  EXPECT_EQ(per_task, (std::map<std::string, int>{{"one", 4}, {"two", 4}, {"three", 4}}));
}

TEST(Logging, DefaultSinkIsStderr) {
  ferry::Flow flow("log-stderr");
  flow.task<logs_lines>(TaskOptions{.name = "talker"});
  ferry::RunOptions o;
  o.run_id = "run-stderr";
  testing::internal::CaptureStderr();
  ferry::RunResult r = flow.run({}, o);
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_EQ(r.state, State::Success) << r.message;
  EXPECT_TRUE(contains(err, "INFO run=run-stderr log-stderr/talker | hello from a task")) << err;
  EXPECT_TRUE(contains(err, "ERROR run=run-stderr log-stderr/talker | bad thing")) << err;
}

TEST(Logging, OutsideARunGoesToStderrUntagged) {
  testing::internal::CaptureStderr();
  ferry::logger().warning("no run here");
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "WARNING | no run here")) << err;
  EXPECT_FALSE(contains(err, "run=")) << err;
}

TEST(Logging, FormatLogLine) {
  ferry::LogRecord r{ferry::LogLevel::Info, "abc123", "my-flow", "my-task", "it works",
                     1700000000123LL};
  EXPECT_EQ(ferry::format_log_line(r),
            "2023-11-14 22:13:20.123Z INFO run=abc123 my-flow/my-task | it works");
}

TEST(Logging, FormatLogLineLeavesOutEmptyFields) {
  ferry::LogRecord no_task{ferry::LogLevel::Warning, "r1", "flow-only", "", "m", 0};
  EXPECT_EQ(ferry::format_log_line(no_task),
            "1970-01-01 00:00:00.000Z WARNING run=r1 flow-only | m");
  ferry::LogRecord bare{ferry::LogLevel::Error, "", "", "", "plain", 61000};
  EXPECT_EQ(ferry::format_log_line(bare), "1970-01-01 00:01:01.000Z ERROR | plain");
}

TEST(Logging, FormatLogLineKeepsTheMessageAsIs) {
  ferry::LogRecord r{ferry::LogLevel::Debug, "id", "f", "t", "50% | done\twith {braces}", 999};
  std::string line = ferry::format_log_line(r);
  EXPECT_TRUE(contains(line, " DEBUG ")) << line;
  EXPECT_TRUE(contains(line, "run=id")) << line;
  EXPECT_TRUE(contains(line, "f/t")) << line;
  EXPECT_TRUE(contains(line, ".999Z")) << line;
  EXPECT_EQ(line.substr(line.size() - 24), "50% | done\twith {braces}");
}
