// Results: LocalResult files, locations, the descriptor, and the executor persisting task
// results so a run started again reads them back instead of running its tasks.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include "ferry/ferry.hpp"
#include "unit/storage/storage_test_util.hpp"

namespace fs = std::filesystem;

namespace {

using ferry::LocalResult;
using ferry::Result;
using ferry::Value;
using ferry::storage_test::entries_in;
using ferry::storage_test::error_of;
using ferry::storage_test::files_under;
using ferry::storage_test::has;
using ferry::storage_test::quiet_run;
using ferry::storage_test::ScopedCwd;
using ferry::test::read_text;
using ferry::test::ScopedFerryHome;
using ferry::test::TempDir;
using ferry::test::write_text;

std::atomic<int> g_task_runs{0};
int persisted_source() {
  g_task_runs.fetch_add(1);
  return 20;
}
int persisted_double(int x) {
  g_task_runs.fetch_add(1);
  return 2 * x;
}
std::string persisted_label(int x) {
  g_task_runs.fetch_add(1);
  return "v" + std::to_string(x);
}

ferry::Flow counted_flow() {
  ferry::Flow flow("persisted");
  auto a = flow.task<persisted_source>();
  auto b = flow.task<persisted_double>(a);
  flow.task<persisted_label>(b);
  return flow;
}

ferry::RunOptions with_result(const std::string& run_id, Result result) {
  ferry::RunOptions o = quiet_run();
  o.threads = 2;
  o.run_id = run_id;
  o.result = std::move(result);
  return o;
}

}  // namespace

// ---- LocalResult ------------------------------------------------------------------------

TEST(ResultLocal, WriteThenReadRoundTrip) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string()});
  EXPECT_EQ(r.type(), "LocalResult");
  EXPECT_EQ(r.dir(), dir.path().string());
  Value v = {{"x", 1}, {"y", {1, 2, 3}}, {"s", "text"}};
  r.write("run-1/task.json", v);
  fs::path file = dir.path() / "run-1" / "task.json";
  ASSERT_TRUE(fs::is_regular_file(file));
  EXPECT_EQ(Value::parse(read_text(file)), v);
  std::optional<Value> back = r.read("run-1/task.json");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, v);
}

TEST(ResultLocal, WriteIsAtomicAndOverwrites) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string()});
  r.write("run/t.json", Value(1));
  r.write("run/t.json", Value("second"));
  std::vector<fs::path> files = entries_in(dir.path() / "run");
  ASSERT_EQ(files.size(), 1u) << "no temporary files may be left behind";
  EXPECT_EQ(files[0].filename(), "t.json");
  EXPECT_EQ(r.read("run/t.json"), Value("second"));
}

TEST(ResultLocal, ReadOfAMissingLocationIsNullopt) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string()});
  EXPECT_FALSE(r.read("nope/x.json").has_value());
  EXPECT_FALSE(r.read("").has_value()) << "a folder is not a result";
}

TEST(ResultLocal, ReadOfACorruptFileIsAFlowStorageError) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string()});
  write_text(dir.path() / "run" / "bad.json", "{not json");
  std::string err = error_of<ferry::FlowStorageError>([&] { r.read("run/bad.json"); });
  EXPECT_TRUE(has(err, "bad.json")) << err;
}

TEST(ResultLocal, DefaultDirIsResultsUnderFerryHome) {
  ScopedFerryHome home;
  LocalResult r;
  EXPECT_EQ(r.dir(), (home.path() / "results").string());
  EXPECT_TRUE(fs::is_directory(home.path() / "results"));
  EXPECT_EQ(r.serialize()["location"], "{flow_run_id}/{task_name}.json");
}

TEST(ResultLocal, RelativeDirBecomesAbsolute) {
  TempDir cwd;
  ScopedCwd in(cwd.path());
  LocalResult r({.dir = "res"});
  EXPECT_EQ(r.dir(), (fs::current_path() / "res").string());
  EXPECT_TRUE(fs::is_directory(fs::current_path() / "res"));
}

TEST(ResultLocal, WithoutValidationTheDirIsVerbatimAndNotCreated) {
  TempDir cwd;
  ScopedCwd in(cwd.path());
  LocalResult r({.dir = "C:\\results", .validate_dir = false});
  EXPECT_EQ(r.dir(), "C:\\results");
  EXPECT_TRUE(entries_in(cwd.path()).empty());
}

TEST(ResultLocal, LocationForTheDefaultTemplate) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string()});
  EXPECT_EQ(r.location_for("run-1", "flow", "task"), "run-1/task.json");
}

TEST(ResultLocal, LocationForSubstitutesEveryPlaceholder) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string(),
                 .location = "{flow_name}/{flow_run_id}/{task_name}-{map_index}.json"});
  EXPECT_EQ(r.location_for("run-1", "etl", "load", 3), "etl/run-1/load-3.json");
  EXPECT_EQ(r.location_for("run-1", "etl", "load"), "etl/run-1/load-.json")
      << "map_index -1 (not mapped) is empty";
  EXPECT_EQ(r.location_for("run-1", "etl", "load", 0), "etl/run-1/load-0.json");
}

TEST(ResultLocal, LocationForReplacesSlashesInNames) {
  TempDir dir;
  LocalResult r(
      {.dir = dir.path().string(), .location = "{flow_name}/{flow_run_id}/{task_name}.json"});
  EXPECT_EQ(r.location_for("run/1", "my/flow", "a/b/c"), "my_flow/run_1/a_b_c.json");
}

TEST(ResultLocal, LocationForRepeatedPlaceholders) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string(), .location = "{task_name}/{task_name}.json"});
  EXPECT_EQ(r.location_for("r", "f", "t"), "t/t.json");
}

TEST(ResultLocal, PlaceholdersInsideNamesAreNotExpandedAgain) {
  // The reference formats the template once (str.format): a name that happens to contain
  // "{task_name}" stays as it is.
  TempDir dir;
  LocalResult r(
      {.dir = dir.path().string(), .location = "{flow_name}/{flow_run_id}/{task_name}.json"});
  EXPECT_EQ(r.location_for("run-1", "a{task_name}", "t"), "a{task_name}/run-1/t.json");
  EXPECT_EQ(r.location_for("{flow_name}", "f", "t"), "f/{flow_name}/t.json");
}

TEST(ResultLocal, SerializeDeserializeRoundTrip) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string(), .location = "{flow_run_id}/{map_index}.json"});
  Value d = r.serialize();
  EXPECT_EQ(d, (Value{{"type", "LocalResult"},
                      {"dir", dir.path().string()},
                      {"location", "{flow_run_id}/{map_index}.json"}}));
  Result back = Result::deserialize(d);
  ASSERT_TRUE(static_cast<bool>(back));
  EXPECT_EQ(back.type(), "LocalResult");
  EXPECT_EQ(back.serialize(), d);
  EXPECT_EQ(back.location_for("r", "f", "t", 2), "r/2.json");
  r.write("r/2.json", Value(7));
  EXPECT_EQ(back.read("r/2.json"), Value(7));
}

TEST(ResultLocal, DeserializeDoesNotTouchTheDisk) {
  Result r = Result::deserialize({{"type", "LocalResult"}, {"dir", "/no/such/results/dir"}});
  EXPECT_EQ(r.serialize()["dir"], "/no/such/results/dir");
  EXPECT_EQ(r.serialize()["location"], "{flow_run_id}/{task_name}.json");
  EXPECT_FALSE(fs::exists("/no/such/results/dir"));
  EXPECT_FALSE(r.read("x/y.json").has_value());
}

TEST(ResultLocal, CopiesShareOneResult) {
  TempDir dir;
  LocalResult r({.dir = dir.path().string()});
  Result copy = r;
  EXPECT_EQ(copy.impl(), r.impl());
  copy.write("a.json", Value(true));
  EXPECT_EQ(r.read("a.json"), Value(true));
}

TEST(ResultDeserialize, NullIsAnEmptyResult) {
  Result r = Result::deserialize(Value());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.type(), "");
  EXPECT_TRUE(r.serialize().is_null());
  EXPECT_TRUE(Result().serialize().is_null());
}

TEST(ResultDeserialize, UnknownOrMissingTypeIsAValueError) {
  std::string err = error_of<ferry::ValueError>([] {
    Result::deserialize({{"type", "NoSuchResult"}, {"bucket", "b"}});
  });
  EXPECT_TRUE(has(err, "'NoSuchResult'")) << err;
  EXPECT_THROW(Result::deserialize({{"dir", "/x"}}), ferry::ValueError);
  EXPECT_THROW(Result::deserialize(Value("LocalResult")), ferry::ValueError);
}

TEST(ResultDeserialize, NonStringTypeIsAValueErrorNotAJsonException) {
  EXPECT_THROW(Result::deserialize({{"type", 3}}), ferry::ValueError);
  EXPECT_THROW(Result::deserialize({{"type", nullptr}}), ferry::ValueError);
}

TEST(ResultDeserialize, MalformedLocalResultFieldsAreAValueError) {
  EXPECT_THROW(Result::deserialize({{"type", "LocalResult"}, {"dir", 5}}), ferry::ValueError);
  EXPECT_THROW(Result::deserialize({{"type", "LocalResult"}, {"dir", "/x"}, {"location", nullptr}}),
               ferry::ValueError);
}

// ---- the executor with RunOptions.result ------------------------------------------------

TEST(ResultExecutor, FirstRunPersistsEachTaskResult) {
  TempDir dir;
  LocalResult result({.dir = dir.path().string()});
  g_task_runs = 0;
  ferry::RunResult run = counted_flow().run(Value::object(), with_result("run-1", result));
  ASSERT_TRUE(run.ok()) << run.message;
  EXPECT_EQ(g_task_runs.load(), 3);
  EXPECT_EQ(run.result, "v40");
  ASSERT_EQ(run.tasks.size(), 3u);
  for (const ferry::TaskRunResult& t : run.tasks) {
    EXPECT_EQ(t.result_location, "run-1/" + t.name + ".json");
    fs::path file = dir.path() / t.result_location;
    ASSERT_TRUE(fs::is_regular_file(file)) << file;
    EXPECT_EQ(Value::parse(read_text(file)), t.result) << t.name;
  }
  EXPECT_EQ(files_under(dir.path()).size(), 3u) << "one file per task, no temporary files";
}

TEST(ResultExecutor, RunStartedAgainReadsResultsBackWithoutRunningTasks) {
  TempDir dir;
  LocalResult result({.dir = dir.path().string()});
  g_task_runs = 0;
  ferry::RunResult first = counted_flow().run(Value::object(), with_result("run-1", result));
  ASSERT_TRUE(first.ok()) << first.message;
  ASSERT_EQ(g_task_runs.load(), 3);

  ferry::RunResult again = counted_flow().run(Value::object(), with_result("run-1", result));
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_EQ(g_task_runs.load(), 3) << "no task may run again";
  EXPECT_EQ(again.result, "v40");
  ASSERT_EQ(again.tasks.size(), 3u);
  for (std::size_t i = 0; i < again.tasks.size(); ++i) {
    const ferry::TaskRunResult& t = again.tasks[i];
    EXPECT_EQ(t.state, ferry::State::Success) << t.name;
    EXPECT_TRUE(has(t.message, "Result read from")) << t.name << ": " << t.message;
    EXPECT_TRUE(has(t.message, t.result_location)) << t.message;
    EXPECT_EQ(t.result, first.tasks[i].result) << t.name;
  }
}

TEST(ResultExecutor, OnlyTasksWithoutAStoredResultRunAgain) {
  TempDir dir;
  LocalResult result({.dir = dir.path().string()});
  g_task_runs = 0;
  ferry::RunResult first = counted_flow().run(Value::object(), with_result("run-1", result));
  ASSERT_TRUE(first.ok()) << first.message;
  fs::remove(dir.path() / first.tasks.back().result_location);
  g_task_runs = 0;
  ferry::RunResult again = counted_flow().run(Value::object(), with_result("run-1", result));
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_EQ(g_task_runs.load(), 1);
  EXPECT_EQ(again.result, "v40");
  EXPECT_FALSE(has(again.tasks.back().message, "Result read from"));
  EXPECT_TRUE(fs::is_regular_file(dir.path() / first.tasks.back().result_location));
}

TEST(ResultExecutor, AnotherRunIdRunsEverything) {
  TempDir dir;
  LocalResult result({.dir = dir.path().string()});
  g_task_runs = 0;
  ASSERT_TRUE(counted_flow().run(Value::object(), with_result("run-1", result)).ok());
  ASSERT_TRUE(counted_flow().run(Value::object(), with_result("run-2", result)).ok());
  EXPECT_EQ(g_task_runs.load(), 6);
  EXPECT_TRUE(fs::is_directory(dir.path() / "run-1"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "run-2"));
}

TEST(ResultExecutor, TemplateWithTheFlowName) {
  TempDir dir;
  LocalResult result(
      {.dir = dir.path().string(), .location = "{flow_name}/{flow_run_id}/{task_name}.json"});
  g_task_runs = 0;
  ferry::RunResult run = counted_flow().run(Value::object(), with_result("r9", result));
  ASSERT_TRUE(run.ok()) << run.message;
  for (const ferry::TaskRunResult& t : run.tasks) {
    EXPECT_TRUE(fs::is_regular_file(dir.path() / "persisted" / "r9" / (t.name + ".json")))
        << t.name;
  }
}

TEST(ResultExecutor, WithoutAResultNothingIsPersisted) {
  TempDir dir;
  ScopedCwd in(dir.path());
  ferry::RunOptions o = quiet_run();
  o.run_id = "run-1";
  g_task_runs = 0;
  ferry::RunResult run = counted_flow().run(Value::object(), o);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(counted_flow().run(Value::object(), o).ok());
  EXPECT_EQ(g_task_runs.load(), 6);
  for (const ferry::TaskRunResult& t : run.tasks) EXPECT_EQ(t.result_location, "");
  EXPECT_TRUE(files_under(dir.path()).empty());
}
