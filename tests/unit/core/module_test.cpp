// Flow modules: compile cache, script-form loading and its errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "ferry/ferry.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using ferry::test::fixture;
using ferry::test::read_text;
using ferry::test::TempDir;
using ferry::test::write_text;

namespace {

ferry::CompileOptions shared_cache() {
  ferry::CompileOptions o;
  o.cache = ferry::test::shared_module_cache();
  return o;
}

// A compiler wrapper that counts its invocations, so tests can prove a cache hit never
// runs the compiler.
fs::path counting_compiler(const TempDir& dir) {
  fs::path script = dir / "count-cxx";
  write_text(script, "#!/bin/sh\necho x >> '" + (dir / "calls").string() + "'\nexec g++ \"$@\"\n");
  ::chmod(script.c_str(), 0755);
  return script;
}

std::size_t lines_in(const fs::path& p) {
  std::string text = fs::exists(p) ? read_text(p) : "";
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::size_t files_ending(const fs::path& dir, const std::string& suffix) {
  std::size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      ++n;
  }
  return n;
}

}  // namespace

TEST(ModuleCache, SecondCompileIsAHitAndNeverRunsTheCompiler) {
  TempDir dir;
  fs::path source = dir / "flow.cpp";
  fs::copy_file(fixture("two_flows.cpp"), source);
  ferry::CompileOptions o;
  o.cache = dir / "cache";
  o.cxx = counting_compiler(dir).string();
  ferry::CompiledModule first = ferry::compile_flow_source(source, o);
  EXPECT_FALSE(first.cache_hit);
  EXPECT_TRUE(fs::exists(first.path));
  EXPECT_EQ(lines_in(dir / "calls"), 1u);

  ferry::CompiledModule second = ferry::compile_flow_source(source, o);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(second.path, first.path);
  EXPECT_EQ(lines_in(dir / "calls"), 1u) << "a cache hit ran the compiler";
}

TEST(ModuleCache, KeyChangesWithSourceSiblingHeaderAndFlags) {
  TempDir dir;
  write_text(dir / "helper.hpp", "inline int base() { return 1; }\n");
  std::string source_text =
      "#include <ferry/ferry.hpp>\n#include \"helper.hpp\"\nint f() { return base(); }\n"
      "FERRY_FLOWS(flows) { ferry::Flow fl(\"k\"); fl.task<f>(); flows.add(std::move(fl)); }\n";
  write_text(dir / "flow.cpp", source_text);
  ferry::CompileOptions o;
  o.cache = dir / "cache";
  std::string k1 = ferry::compile_flow_source(dir / "flow.cpp", o).key;

  write_text(dir / "helper.hpp", "inline int base() { return 2; }\n");
  std::string k2 = ferry::compile_flow_source(dir / "flow.cpp", o).key;
  EXPECT_NE(k1, k2) << "editing an included sibling header must give a new module";

  write_text(dir / "flow.cpp", source_text + "// edited\n");
  std::string k3 = ferry::compile_flow_source(dir / "flow.cpp", o).key;
  EXPECT_NE(k2, k3);

  o.cxxflags = "-O0";
  std::string k4 = ferry::compile_flow_source(dir / "flow.cpp", o).key;
  EXPECT_NE(k3, k4);
}

TEST(ModuleCache, CompileErrorShowsDiagnosticsAndCachesNothing) {
  TempDir dir;
  ferry::CompileOptions o;
  o.cache = dir / "cache";
  try {
    ferry::compile_flow_source(fixture("compile_error.cpp"), o);
    FAIL() << "expected a CompileError";
  } catch (const ferry::CompileError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("compile_error.cpp"), std::string::npos) << what;
    EXPECT_NE(what.find("undefined_symbol_here"), std::string::npos) << what;
  }
  EXPECT_EQ(files_ending(dir / "cache", ".so"), 0u);
  for (const auto& e : fs::directory_iterator(dir / "cache")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos)
        << "left a temporary file: " << e.path();
  }
}

TEST(ModuleCache, CapturingLambdaIsRefusedWithAReason) {
  TempDir dir;
  ferry::CompileOptions o;
  o.cache = dir / "cache";
  try {
    ferry::compile_flow_source(fixture("captures.cpp"), o);
    FAIL() << "a capturing task lambda compiled";
  } catch (const ferry::CompileError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("must not capture state"), std::string::npos) << what;
    EXPECT_NE(what.find("task argument or a flow parameter"), std::string::npos) << what;
  }
}

TEST(ModuleCache, ConcurrentCompilesOfOneSourceAgree) {
  TempDir dir;
  fs::path source = dir / "flow.cpp";
  fs::copy_file(fixture("two_flows.cpp"), source);
  ferry::CompileOptions o;
  o.cache = dir / "cache";
  o.cxx = counting_compiler(dir).string();
  ferry::CompiledModule a, b;
  std::thread t1([&] { a = ferry::compile_flow_source(source, o); });
  std::thread t2([&] { b = ferry::compile_flow_source(source, o); });
  t1.join();
  t2.join();
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(lines_in(dir / "calls"), 1u) << "the lock should let only one compile run";
  EXPECT_EQ(files_ending(dir / "cache", ".so"), 1u);
}

TEST(ModuleCache, MissingSourceIsAClearError) {
  try {
    ferry::compile_flow_source("/nonexistent/flow.cpp", shared_cache());
    FAIL();
  } catch (const ferry::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/flow.cpp"), std::string::npos);
  }
}

TEST(ScriptLoading, PicksFlowsByNameOrTheFirst) {
  auto o = shared_cache();
  EXPECT_EQ(ferry::load_flow_from_source(fixture("two_flows.cpp"), "", o).name(), "flow-1");
  ferry::Flow f2 = ferry::load_flow_from_source(fixture("two_flows.cpp"), "flow-2", o);
  EXPECT_EQ(f2.name(), "flow-2");
  ferry::RunResult r = f2.run();
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.result, 2);
  EXPECT_EQ(ferry::load_flows_from_source(fixture("two_flows.cpp"), o).size(), 2u);
}

TEST(ScriptLoading, UnknownFlowNameListsTheFoundFlowsSorted) {
  try {
    ferry::load_flow_from_source(fixture("two_flows.cpp"), "not-real", shared_cache());
    FAIL();
  } catch (const ferry::ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "Flow 'not-real' not found in file. Found flows:\n- 'flow-1'\n- 'flow-2'");
  }
}

TEST(ScriptLoading, NoFlowsFound) {
  try {
    ferry::load_flow_from_source(fixture("no_flows.cpp"), "", shared_cache());
    FAIL();
  } catch (const ferry::ValueError& e) {
    EXPECT_STREQ(e.what(), "No flows found in file.");
  }
}

TEST(ScriptLoading, Utf8FlowNameIsKept) {
  ferry::Flow f = ferry::load_flow_from_source(fixture("unicode.cpp"), "", shared_cache());
  EXPECT_EQ(f.name(), "emoji-flow-❌");
}

TEST(ScriptLoading, FlowFileLetsTasksReadSiblingFiles) {
  ferry::Flow f = ferry::load_flow_from_source(fixture("sibling/flow.cpp"), "", shared_cache());
  ferry::RunResult r = f.run();
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.result, "Hello, Marvin!");
}

TEST(ScriptLoading, SelectFlowLaterDuplicateReplacesEarlierInPlace) {
  std::vector<ferry::Flow> flows;
  flows.emplace_back("a");
  flows.emplace_back("b");
  EXPECT_EQ(ferry::select_flow(flows, "b").name(), "b");
  EXPECT_THROW(ferry::select_flow({}, ""), ferry::ValueError);
}

TEST(ScriptLoading, NotAFlowModuleIsRefused) {
  TempDir dir;
  write_text(dir / "plain.cpp", "extern \"C\" int nothing() { return 0; }\n");
  // A shared object without FERRY_FLOWS.
  auto r = ferry::test::run_command(
      {"g++", "-shared", "-fPIC", "-o", (dir / "plain.so").string(), (dir / "plain.cpp").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  try {
    ferry::load_flows_from_module(dir / "plain.so");
    FAIL();
  } catch (const ferry::FlowStorageError& e) {
    EXPECT_NE(std::string(e.what()).find("not a ferry flow module"), std::string::npos) << e.what();
  }
}
