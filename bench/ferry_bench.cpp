// ferry_bench: ferry's benchmarks, each figure next to a baseline measured in the same run
// of this program, so the ratios hold on a noisy machine. Prints one Markdown table:
//   benchmark | ferry | baseline | ratio | target | ok?
// The targets are reported, never asserted: the exit status only says whether every
// benchmark ran (a flow that failed or a command that exited non-zero is an error).
//
//   ferry_bench [all | executor compile load freeze register storage agent latency git
//                objects server ...]
//                                                          (default: all)
//   ferry_bench --once script|frozen|dlopen PATH      (helper: times one load, prints ns)
//   ferry_bench --once storage DESCRIPTOR.json        (helper: deserializes a storage
//                                                      descriptor, times one get_flow)
//
// $FERRY_HOME must point at a scratch folder (bench/run.sh makes one); when it is unset this
// program makes one under /tmp and removes it at the end, so ~/.ferry is never touched.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ferry/ferry.hpp>

// The backend API (not public): the agent benchmarks create runs and read their
// millisecond state history through it.
#include "backend/backend.hpp"
// The server benchmarks: ferry's server in this process, its client, and bare claims on
// SQLite (ferry's connection wrapper) and PostgreSQL (libpqxx).
#include <pqxx/pqxx>

#include "backend/remote_backend.hpp"
#include "backend/sqlite_db.hpp"
#include "server/api_keys.hpp"
#include "server/server.hpp"
// The object-storage benchmarks start azurite and sign its SAS with the library's helpers.
#include "core/digest.hpp"
#include "core/text.hpp"
#include "net/azure_blob.hpp"
#include "net/azure_connection_string.hpp"
#include "net/http_client.hpp"
#include "net/s3_client.hpp"
#include "net/sigv4.hpp"
// Ceph RGW, started as the tests start it (tests/support, compiled into this program).
#include "support/azurite_server.hpp"
#include "support/ceph_rgw.hpp"
#include "support/ports.hpp"
#include "support/postgres_server.hpp"

extern char** environ;

// Task bodies of the executor benchmarks (trivial on purpose: the figure is ferry's own cost).
int bench_one() { return 1; }
int bench_pass(int x) { return x; }
int bench_inc(int x) { return x + 1; }
void bench_noop() {}

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kThreads = 2;  // the benchmark machine has 2 cores

double ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

template <class F>
double time_ns(F&& f) {
  auto t0 = Clock::now();
  f();
  return ns_between(t0, Clock::now());
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The spread of a set of samples (per `unit`), on stderr: min / median / max.
void spread(const char* what, std::vector<double> v, double unit = 1,
            const char* unit_name = "ns") {
  std::sort(v.begin(), v.end());
  std::fprintf(stderr, "[ferry_bench]     %s: min %.0f, median %.0f, max %.0f %s (%zu samples)\n",
               what, v.front() / unit, median(v) / unit, v.back() / unit, unit_name, v.size());
}

void progress(const std::string& what) {
  std::fprintf(stderr, "[ferry_bench] %s\n", what.c_str());
  std::fflush(stderr);
}

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error(why); }

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string fmt_time(double ns) {
  if (ns < 1e3) return fmt("%.0f ns", ns);
  if (ns < 1e6) return fmt("%.1f us", ns / 1e3);
  if (ns < 1e9) return fmt("%.2f ms", ns / 1e6);
  return fmt("%.2f s", ns / 1e9);
}

std::string fmt_ratio(double r) { return r < 10 ? fmt("%.2fx", r) : fmt("%.1fx", r); }

// ---------------------------------------------------------------------------------------
// The table.

struct Row {
  std::string benchmark, ferry, baseline, ratio, target, ok;
};
std::vector<Row> g_rows;

enum class Target { None, Ratio, Absolute };

// One row: ferry and baseline times (ns), and a target that is either a ratio (ferry /
// baseline must not exceed `limit`), an absolute time (ferry must not exceed `limit` ns), or
// none (an informational row).
// `broken` (when not empty) marks the row failed whatever the figures: the benchmark ran
// but what it measured did not behave (a file written where none should be, a run that
// did not succeed).
void add_row(std::string name, double ferry_ns, double base_ns, std::string base_label,
             Target target, double limit, std::string target_text = {}, std::string broken = {}) {
  Row r;
  r.benchmark = std::move(name);
  r.ferry = fmt_time(ferry_ns);
  r.baseline = fmt_time(base_ns) + (base_label.empty() ? "" : " (" + base_label + ")");
  double ratio = base_ns > 0 ? ferry_ns / base_ns : 0;
  r.ratio = fmt_ratio(ratio);
  switch (target) {
    case Target::None:
      r.target = "-";
      r.ok = "-";
      break;
    case Target::Ratio:
      r.target = target_text.empty() ? "<= " + fmt("%g", limit) + "x" : target_text;
      r.ok = ratio <= limit ? "yes" : "NO";
      break;
    case Target::Absolute:
      r.target = target_text.empty() ? "< " + fmt_time(limit) : target_text;
      r.ok = ferry_ns <= limit ? "yes" : "NO";
      break;
  }
  if (!broken.empty()) r.ok = "NO: " + broken;
  std::fprintf(stderr, "[ferry_bench]   %s: ferry %s, baseline %s, ratio %s, target %s, ok %s\n",
               r.benchmark.c_str(), r.ferry.c_str(), r.baseline.c_str(), r.ratio.c_str(),
               r.target.c_str(), r.ok.c_str());
  g_rows.push_back(std::move(r));
}

// A row whose cells are already formatted (rates, rows without a baseline).
void add_text_row(Row r) {
  std::fprintf(stderr, "[ferry_bench]   %s: ferry %s, baseline %s, ratio %s, target %s, ok %s\n",
               r.benchmark.c_str(), r.ferry.c_str(), r.baseline.c_str(), r.ratio.c_str(),
               r.target.c_str(), r.ok.c_str());
  g_rows.push_back(std::move(r));
}

// A throughput row (runs per second). The ratio stays "ferry's cost over the baseline's",
// as in every other row: the baseline's rate over ferry's (time per run, ferry / baseline).
void add_rate_row(std::string name, double ferry_rate, double base_rate, std::string base_label,
                  double min_rate, std::string broken = {}) {
  Row r;
  r.benchmark = std::move(name);
  r.ferry = fmt("%.1f runs/s", ferry_rate);
  r.baseline = fmt("%.1f runs/s", base_rate) + " (" + base_label + ")";
  r.ratio = fmt_ratio(ferry_rate > 0 ? base_rate / ferry_rate : 0);
  r.target = ">= " + fmt("%g", min_rate) + " runs/s";
  r.ok = ferry_rate >= min_rate ? "yes" : "NO";
  if (!broken.empty()) r.ok = "NO: " + broken;
  add_text_row(std::move(r));
}

void print_table() {
  std::vector<Row> all;
  all.push_back({"benchmark", "ferry", "baseline", "ratio", "target", "ok?"});
  all.insert(all.end(), g_rows.begin(), g_rows.end());
  std::size_t w[6] = {};
  auto cells = [](const Row& r) {
    return std::vector<const std::string*>{&r.benchmark, &r.ferry,  &r.baseline,
                                           &r.ratio,     &r.target, &r.ok};
  };
  for (const Row& r : all) {
    auto c = cells(r);
    for (int i = 0; i < 6; ++i) w[i] = std::max(w[i], c[i]->size());
  }
  auto line = [&](const Row& r) {
    auto c = cells(r);
    std::string s = "|";
    for (int i = 0; i < 6; ++i) {
      std::string cell = *c[i];
      // Numbers read best right-aligned.
      bool right = i >= 1 && i <= 3;
      std::string pad(w[i] - cell.size(), ' ');
      s += ' ';
      s += right ? pad : cell;
      s += right ? cell : pad;
      s += " |";
    }
    std::printf("%s\n", s.c_str());
  };
  line(all[0]);
  std::string sep = "|";
  for (int i = 0; i < 6; ++i) {
    bool right = i >= 1 && i <= 3;
    sep += ' ';
    sep.append(right ? w[i] - 1 : w[i], '-');
    sep += right ? ": |" : " |";
  }
  std::printf("%s\n", sep.c_str());
  for (std::size_t i = 1; i < all.size(); ++i) line(all[i]);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------
// Processes.

struct Spawned {
  int exit_code = -1;
  std::string output;
  double ns = 0;
};

enum class Output { Null, Capture, CaptureStdout };

// Spawns argv (posix_spawn, PATH not searched), waits, and times spawn to exit. Null sends
// stdout and stderr to /dev/null; Capture reads both through one pipe (as ferry runs the
// compiler); CaptureStdout reads stdout and leaves stderr alone.
Spawned spawn(const std::vector<std::string>& argv, Output output) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int fds[2] = {-1, -1};
  if (output == Output::Null) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    if (::pipe2(fds, O_CLOEXEC) != 0) fail(std::string("pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    if (output == Output::Capture) posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  }
  Spawned out;
  auto t0 = Clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (fds[1] >= 0) ::close(fds[1]);
  if (rc != 0) {
    if (fds[0] >= 0) ::close(fds[0]);
    fail("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  if (fds[0] >= 0) {
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.output.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.ns = ns_between(t0, Clock::now());
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

Spawned spawn_ok(const std::vector<std::string>& argv, Output output) {
  Spawned s = spawn(argv, output);
  if (s.exit_code != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    fail("'" + cmd + "' exited with " + std::to_string(s.exit_code) + ":\n" + s.output);
  }
  return s;
}

std::string g_self;  // this program, for the --once helpers

// Runs `ferry_bench --once kind path` in a new process: the time of one load, measured
// inside that process (so it excludes exec and the dynamic linker).
double once_in_new_process(const std::string& kind, const fs::path& path) {
  Spawned s = spawn_ok({g_self, "--once", kind, path.string()}, Output::CaptureStdout);
  return std::strtod(s.output.c_str(), nullptr);
}

fs::path g_home;  // $FERRY_HOME

fs::path fresh_dir(const std::string& name) {
  static int counter = 0;
  fs::path p = g_home / "bench" / (name + "-" + std::to_string(++counter));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// ---------------------------------------------------------------------------------------
// 1. Executor per-task overhead against a bare thread pool.

// The baseline: a mutex + condition variable queue of std::function<void()>.
class BasicPool {
 public:
  explicit BasicPool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~BasicPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (!queue_.empty()) {
        std::function<void()> job = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        job();
        job = nullptr;
        lock.lock();
        continue;
      }
      if (stopping_) return;
      wake_.wait(lock);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// Counts jobs down; wait() returns once all are done (ferry's run waits the same way).
class Latch {
 public:
  explicit Latch(std::size_t n) : left_(n) {}
  void count_down() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      done_ = true;
      wake_.notify_all();
    }
  }
  void wait() {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return done_; });
  }

 private:
  std::atomic<std::size_t> left_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
};

// Each baseline creates and joins its pool inside the timed region, as flow.run() does.
double baseline_fanout(std::size_t n) {
  return time_ns([&] {
    Latch latch(n);
    BasicPool pool(kThreads);
    // One root job releases the other n-1 jobs from a worker thread.
    pool.submit([&] {
      for (std::size_t i = 1; i < n; ++i) pool.submit([&latch] { latch.count_down(); });
      latch.count_down();
    });
    latch.wait();
  });
}

double baseline_independent(std::size_t n) {
  return time_ns([&] {
    Latch latch(n);
    BasicPool pool(kThreads);
    for (std::size_t i = 0; i < n; ++i) pool.submit([&latch] { latch.count_down(); });
    latch.wait();
  });
}

struct ChainStep {
  BasicPool* pool;
  Latch* latch;
  std::size_t left;
  void step() {
    if (--left == 0) {
      latch->count_down();
      return;
    }
    pool->submit([this] { step(); });
  }
};

double baseline_chain(std::size_t n) {
  return time_ns([&] {
    Latch latch(1);
    BasicPool pool(kThreads);
    ChainStep chain{&pool, &latch, n};
    pool.submit([&chain] { chain.step(); });
    latch.wait();
  });
}

// (Names are appended piecewise: `"t" + std::to_string(i)` trips a GCC 12 -Wrestrict false
// positive.)
ferry::TaskOptions named(std::string name) {
  ferry::TaskOptions o;
  o.name = std::move(name);
  return o;
}

ferry::TaskOptions named(std::size_t i, std::size_t j = SIZE_MAX) {
  std::string name = "t";
  name += std::to_string(i);
  if (j != SIZE_MAX) {
    name += '_';
    name += std::to_string(j);
  }
  return named(std::move(name));
}

// Tasks get explicit unique names, so these flows do not depend on how ferry derives default
// names (up to 128d741 that scan was quadratic per task: see docs/benchmarks.md); the
// "flow build 1k tasks, default names" row watches that path.
ferry::Flow build_fanout(std::size_t n) {
  ferry::Flow flow("fanout");
  auto root = flow.task<bench_one>(named("root"));
  for (std::size_t i = 1; i < n; ++i) flow.task<bench_pass>(named(i), root);
  return flow;
}

ferry::Flow build_chain(std::size_t n) {
  ferry::Flow flow("chain");
  auto prev = flow.task<bench_one>(named("t0"));
  for (std::size_t i = 1; i < n; ++i) {
    prev = flow.task<bench_inc>(named(i), prev);
  }
  return flow;
}

constexpr std::size_t kDiamondWidth = 100;

// Layers of kDiamondWidth no-op tasks; task j of a layer runs after tasks j and j+1 (mod the
// width) of the previous layer (order-only edges, TaskOptions::after).
ferry::Flow build_diamond(std::size_t n) {
  ferry::Flow flow("diamond");
  std::vector<ferry::TaskHandle> prev, cur;
  std::size_t layers = n / kDiamondWidth;
  for (std::size_t l = 0; l < layers; ++l) {
    cur.clear();
    for (std::size_t j = 0; j < kDiamondWidth; ++j) {
      ferry::TaskOptions o = named(l, j);
      if (l > 0) o.after = {prev[j], prev[(j + 1) % kDiamondWidth]};
      cur.push_back(flow.task<bench_noop>(std::move(o)));
    }
    std::swap(prev, cur);
  }
  return flow;
}

// Times flow.run() including the destruction of its RunResult (both are the cost of a run).
double run_flow(const ferry::Flow& flow, const ferry::Value* expect) {
  ferry::RunOptions options;
  options.threads = kThreads;
  bool ok = false;
  std::string why;
  double ns = time_ns([&] {
    ferry::RunResult r = flow.run(ferry::Value::object(), options);
    ok = r.ok() && (!expect || r.result == *expect);
    if (!ok) why = r.message + " result=" + r.result.dump().substr(0, 200);
  });
  if (!ok) fail("flow '" + flow.name() + "' did not run as expected: " + why);
  return ns;
}

std::string count_label(std::size_t n) {
  return n >= 1000 ? std::to_string(n / 1000) + "k" : std::to_string(n);
}

void bench_executor() {
  progress("executor: per-task overhead against a bare std::function thread pool");
  struct Shape {
    const char* name;
    ferry::Flow (*build)(std::size_t);
    double (*baseline)(std::size_t);
  };
  const Shape shapes[] = {
      {"fan-out", &build_fanout, &baseline_fanout},
      {"chain", &build_chain, &baseline_chain},
      {"diamond", &build_diamond, &baseline_independent},
  };
  // Per-task cost of building each shape at 10k tasks: the baseline of the 100k build rows
  // (per-task cost should not grow with the flow's size).
  double small_build_ns[3] = {};
  for (std::size_t n : {std::size_t{10000}, std::size_t{100000}}) {
    int reps = n <= 10000 ? 21 : 15;
    for (const Shape& shape : shapes) {
      std::string label = std::string(shape.name) + " " + count_label(n);
      progress("  building " + label);
      ferry::Flow flow("x");
      double build_ns = time_ns([&] { flow = shape.build(n); });
      if (flow.task_count() != n) fail(label + ": built " + std::to_string(flow.task_count()));
      ferry::Value chain_result = static_cast<int>(n);
      const ferry::Value* expect = std::string(shape.name) == "chain" ? &chain_result : nullptr;
      progress("  running " + label + " (built in " + fmt_time(build_ns) + ")");
      run_flow(flow, expect);  // warm-up: page in code and the allocator
      shape.baseline(n);
      std::vector<double> f, b;
      for (int i = 0; i < reps; ++i) {
        if (i % 2 == 0) {
          f.push_back(run_flow(flow, expect));
          b.push_back(shape.baseline(n));
        } else {
          b.push_back(shape.baseline(n));
          f.push_back(run_flow(flow, expect));
        }
      }
      double dn = static_cast<double>(n);
      spread("ferry", f, dn);
      spread("baseline", b, dn);
      add_row("executor " + label + " (per task)", median(f) / dn, median(b) / dn, "",
              Target::Ratio, 10);
      if (n == 10000) {
        small_build_ns[&shape - shapes] = build_ns / dn;
      } else {
        add_row("flow build " + label + " (per task)", build_ns / dn,
                small_build_ns[&shape - shapes], "10k flow", Target::None, 0);
      }
    }
  }
  // Building a flow with default names: ferry names repeated tasks "f", "f-2", "f-3", ...;
  // this should cost about what explicit names cost.
  progress("  flow build, 1,000 tasks: default names against explicit names");
  std::vector<double> defaults, explicit_names;
  for (int i = 0; i < 3; ++i) {
    defaults.push_back(time_ns([] {
      ferry::Flow flow("defaults");
      auto root = flow.task<bench_one>();
      for (int j = 1; j < 1000; ++j) flow.task<bench_pass>(root);
    }));
    explicit_names.push_back(time_ns([] { build_fanout(1000); }));
  }
  add_row("flow build 1k tasks, default names", median(defaults), median(explicit_names),
          "explicit names", Target::None, 0);
}

// ---------------------------------------------------------------------------------------
// 2. Cold compile of examples/hello.cpp against the bare compiler command.

const fs::path kHello = fs::path(FERRY_EXAMPLES_DIR) / "hello.cpp";

std::vector<std::string> compiler_argv(const fs::path& out) {
  std::string lib = FERRY_LIBDIR;
  return {FERRY_BENCH_CXX,
          "-std=c++20",
          "-fPIC",
          "-shared",
          "-O2",
          "-I" FERRY_INCLUDE,
          "-o",
          out.string(),
          fs::absolute(kHello).lexically_normal().string(),
          "-L" + lib,
          "-Wl,-rpath," + lib,
          "-lferry"};
}

ferry::CompileOptions compile_options(const fs::path& cache) {
  ferry::CompileOptions o;
  o.cxx = FERRY_BENCH_CXX;
  o.cxxflags = "-O2";
  o.cache = cache;
  return o;
}

void bench_compile() {
  progress("compile: cold compile of examples/hello.cpp against the bare compiler command");
  auto ferry_once = [] {
    fs::path cache = fresh_dir("compile-cache");
    ferry::CompiledModule m;
    double ns = time_ns([&] { m = ferry::compile_flow_source(kHello, compile_options(cache)); });
    if (m.cache_hit || !fs::exists(m.path)) fail("cold compile: expected a fresh module");
    return ns;
  };
  auto compiler_once = [] {
    fs::path out = fresh_dir("compile-bare") / "hello.so";
    return spawn_ok(compiler_argv(out), Output::Capture).ns;
  };
  // Warm-up (not counted): the page cache and ferry's once-per-process header digest.
  ferry_once();
  compiler_once();
  std::vector<double> f, b;
  for (int i = 0; i < 3; ++i) {
    if (i % 2 == 0) {
      f.push_back(ferry_once());
      b.push_back(compiler_once());
    } else {
      b.push_back(compiler_once());
      f.push_back(ferry_once());
    }
  }
  spread("ferry", f);
  spread("compiler", b);
  add_row("cold compile hello.cpp (median of 3)", median(f), median(b), "c++ alone", Target::Ratio,
          1.2);
}

// ---------------------------------------------------------------------------------------
// 3. Warm loads: in this process, in a new process, and `ferry run` end to end.

const std::string kFerry = FERRY_BIN;

double dlopen_once(const fs::path& so) {
  return time_ns([&] {
    void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) fail(std::string("dlopen: ") + ::dlerror());
    if (!::dlsym(h, "ferry_module_v1")) fail("dlsym ferry_module_v1 failed");
  });
}

fs::path package_module(const fs::path& package) {
  std::ifstream in(package, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ferry::cache_dir() / "packages" /
         (ferry::inspect_package(bytes, package.string()).payload_sha256 + ".so");
}

void bench_load() {
  progress("load: warm loads of examples/hello.cpp (script) and hello.ferry (frozen)");
  const std::string hello = kHello.string();
  const fs::path pkg = g_home / "hello.ferry";
  // Warm the cache the way a user does: a first run compiles, a freeze writes the package,
  // and a first package run writes its module into the cache.
  spawn_ok({kFerry, "run", "--path", hello}, Output::Capture);
  spawn_ok({kFerry, "flow", "freeze", "--path", hello, "-o", pkg.string()}, Output::Capture);
  spawn_ok({kFerry, "run", "--package", pkg.string()}, Output::Capture);
  ferry::CompiledModule module = ferry::compile_flow_source(kHello);  // the default options
  if (!module.cache_hit) fail("ferry run did not leave hello.cpp's module in the cache");
  const fs::path pkg_so = package_module(pkg);
  if (!fs::exists(pkg_so)) fail("ferry run --package did not cache the package's module");

  // (a) A new process per sample, timed inside it: the first load, with a warm cache.
  progress("  new process, first load (timed inside the process)");
  std::vector<double> script, frozen, raw_script, raw_frozen;
  for (int i = 0; i < 7; ++i) {
    script.push_back(once_in_new_process("script", kHello));
    raw_script.push_back(once_in_new_process("dlopen", module.path));
    frozen.push_back(once_in_new_process("frozen", pkg));
    raw_frozen.push_back(once_in_new_process("dlopen", pkg_so));
  }
  add_row("warm load, script hello.cpp (new process, first load)", median(script),
          median(raw_script), "dlopen", Target::Absolute, 10e6, "< 10 ms");
  add_row("warm load, frozen hello.ferry (new process, first load)", median(frozen),
          median(raw_frozen), "dlopen", Target::Absolute, 5e6, "< 5 ms");

  // (b) Again in this process: the module is already loaded after the first time.
  progress("  this process, repeated loads (module already loaded)");
  ferry::load_flow_from_source(kHello);
  ferry::thaw_flow(pkg);
  std::vector<double> s2, f2, d2;
  for (int i = 0; i < 21; ++i) {
    s2.push_back(time_ns([&] { ferry::load_flow_from_source(kHello); }));
    f2.push_back(time_ns([&] { ferry::thaw_flow(pkg); }));
    d2.push_back(dlopen_once(module.path));  // a loaded library: a reference count
  }
  add_row("warm load, script hello.cpp (same process, again)", median(s2), median(d2),
          "dlopen again", Target::None, 0);
  add_row("warm load, frozen hello.ferry (same process, again)", median(f2), median(d2),
          "dlopen again", Target::None, 0);

  // (c) `ferry run` end to end against /bin/true, spawned the same way, round robin.
  progress("  ferry run end to end against /bin/true");
  std::vector<double> run_script, run_frozen, truth;
  for (int i = 0; i < 11; ++i) {
    run_script.push_back(spawn_ok({kFerry, "run", "--path", hello}, Output::Null).ns);
    run_frozen.push_back(spawn_ok({kFerry, "run", "--package", pkg.string()}, Output::Null).ns);
    truth.push_back(spawn_ok({"/bin/true"}, Output::Null).ns);
  }
  spread("ferry run --path", run_script);
  spread("ferry run --package", run_frozen);
  spread("/bin/true", truth);
  add_row("ferry run --path hello.cpp (process, warm cache)", median(run_script), median(truth),
          "/bin/true", Target::Absolute, 30e6, "< 30 ms");
  add_row("ferry run --package hello.ferry (process)", median(run_frozen), median(truth),
          "/bin/true", Target::Absolute, 20e6, "< 20 ms");
}

// ---------------------------------------------------------------------------------------
// 4. Freeze and thaw of a 1,000-task flow against nlohmann::json dump + parse.

void bench_freeze() {
  progress("freeze: freeze and thaw of bench/flows/wide1000.cpp (1,000 tasks)");
  const fs::path source = fs::path(FERRY_BENCH_FLOWS_DIR) / "wide1000.cpp";
  ferry::Flow flow("x");
  double first_ns = time_ns([&] { flow = ferry::load_flow_from_source(source); });
  if (flow.task_count() != 1000) fail("wide1000.cpp: expected 1000 tasks");
  progress("  compiled and loaded in " + fmt_time(first_ns));

  // A script reload (cache hit, module loaded) runs the FERRY_FLOWS block again; the
  // baseline builds the same 1,000-task graph in this binary with explicit task names.
  std::vector<double> reload, build;
  for (int i = 0; i < 3; ++i) {
    reload.push_back(time_ns([&] { ferry::load_flow_from_source(source); }));
    build.push_back(time_ns([] { build_fanout(1000); }));
  }
  add_row("script reload wide1000.cpp (same process)", median(reload), median(build),
          "build, named", Target::None, 0);

  std::string bytes = ferry::freeze_flow(flow);
  std::string dumped = flow.to_json().dump();
  ferry::thaw_flow_bytes(bytes);  // the first thaw writes the package's module into the cache
  std::vector<double> fr, th, dump, parse;
  for (int i = 0; i < 21; ++i) {
    fr.push_back(time_ns([&] { bytes = ferry::freeze_flow(flow); }));
    dump.push_back(time_ns([&] { dumped = flow.to_json().dump(); }));
    th.push_back(time_ns([&] {
      if (ferry::thaw_flow_bytes(bytes).task_count() != 1000) fail("thaw lost tasks");
    }));
    parse.push_back(time_ns([&] {
      if (ferry::Value::parse(dumped).at("tasks").size() != 1000) fail("parse lost tasks");
    }));
  }
  add_row("freeze 1k-task flow", median(fr), median(dump), "to_json+dump", Target::None, 0);
  add_row("thaw 1k-task flow (warm, module loaded)", median(th), median(parse), "json parse",
          Target::None, 0);
  add_row("freeze+thaw 1k-task flow", median(fr) + median(th), median(dump) + median(parse),
          "dump+parse", Target::None, 0);

  // A new process thawing the stored flow: what the Python reference does in ~7 ms.
  const fs::path pkg = g_home / "wide1000.ferry";
  ferry::freeze_flow(flow, pkg);
  const fs::path pkg_so = package_module(pkg);
  std::vector<double> fresh, raw;
  for (int i = 0; i < 7; ++i) {
    fresh.push_back(once_in_new_process("frozen", pkg));
    raw.push_back(once_in_new_process("dlopen", pkg_so));
  }
  add_row("thaw 1k-task flow (new process, first load)", median(fresh), median(raw), "dlopen",
          Target::Absolute, 7e6, "< 7 ms (Python ref)");

  std::vector<double> run_frozen, truth;
  for (int i = 0; i < 5; ++i) {
    run_frozen.push_back(spawn_ok({kFerry, "run", "--package", pkg.string()}, Output::Null).ns);
    truth.push_back(spawn_ok({"/bin/true"}, Output::Null).ns);
  }
  add_row("ferry run --package wide1000.ferry (process)", median(run_frozen), median(truth),
          "/bin/true", Target::None, 0);
}

// ---------------------------------------------------------------------------------------
// Helpers of the registration, storage and agent benchmarks.

double percentile(std::vector<double> v, double p) {  // nearest rank
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) ++n;
  }
  return n;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) fail("cannot write " + path.string());
}

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::unique_ptr<ferry::backend::Backend> open_backend() {
  return ferry::backend::open_sqlite_backend((g_home / "ferry.db").string());
}

double ms_between(ferry::backend::Clock::time_point a, ferry::backend::Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A process left running in the background (an agent), its stdout and stderr in a log file.
// Killed (SIGKILL) if still running when this object goes away, so an error in a benchmark
// never leaves an agent behind; the agent's own runs die with it (PR_SET_PDEATHSIG).
class Child {
 public:
  Child(const std::vector<std::string>& argv, fs::path log) : log_(std::move(log)) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      fail("cannot run " + argv[0] + ": " + std::strerror(rc));
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }

  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // The exit code if it has exited (reaped now), else nullopt.
  std::optional<int> poll() {
    if (pid_ <= 0) return code_;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return std::nullopt;
    pid_ = -1;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return code_;
  }
  // Waits for the exit (checking every millisecond) and returns the exit code; after
  // `timeout` kills the process and throws.
  int wait(std::chrono::milliseconds timeout, const std::string& what) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto code = poll()) return *code;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        fail(what + " did not exit within " + std::to_string(timeout.count() / 1000) +
             " s; its output:\n" + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::string log() const { return tail(read_text(log_)); }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

// Fails when runs are waiting: an agent benchmark must start from an empty queue.
void expect_no_scheduled_runs(ferry::backend::Backend& backend) {
  ferry::backend::RunFilter filter;
  filter.state = ferry::State::Scheduled;
  filter.limit = 0;
  std::size_t n = backend.list_flow_runs(filter).size();
  if (n) fail(std::to_string(n) + " runs are already Scheduled in " + g_home.string());
}

// Waits until every run is in a final state (checking every 20 ms), then returns how many
// ended in Success; `bad` gets the first other final state and its message.
int wait_final(ferry::backend::Backend& backend, const std::vector<std::string>& ids,
               std::chrono::seconds timeout, std::string& bad) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int final_count = 0, success = 0;
    std::string first_bad;
    for (const std::string& id : ids) {
      std::optional<ferry::backend::FlowRun> run = backend.get_flow_run(id);
      if (!run) fail("run " + id + " vanished");
      if (!ferry::is_final(run->state)) continue;
      ++final_count;
      if (run->state == ferry::State::Success) {
        ++success;
      } else if (first_bad.empty()) {
        first_bad = std::string(ferry::to_string(run->state)) + ": " + run->message;
      }
    }
    if (final_count == static_cast<int>(ids.size())) {
      bad = first_bad;
      return success;
    }
    if (Clock::now() > deadline) {
      fail(std::to_string(ids.size() - final_count) + " of " + std::to_string(ids.size()) +
           " runs did not end within " + std::to_string(timeout.count()) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---------------------------------------------------------------------------------------
// 5. Registering an unchanged flow: a new `ferry register` process each time.

void bench_register() {
  progress("register: `ferry register` of an unchanged flow against `ferry --version`");
  const std::string hello = kHello.string();
  const std::vector<std::string> reg = {kFerry, "register", "--path", hello};
  const std::vector<std::string> version_cmd = {kFerry, "--version"};
  // The first registration compiles (on a cold cache) and records version 1; later ones
  // find nothing changed.
  Spawned first = spawn_ok(reg, Output::Capture);
  progress("  first: " + first_line(first.output) + " (" + fmt_time(first.ns) + ")");
  // The database is opened only to check, never held open while `ferry register` runs:
  // SQLite's last connection to close checkpoints the WAL, as it does for a user without a
  // running agent.
  auto latest = [] { return open_backend()->get_flow_version("default", "hello"); };
  std::optional<ferry::backend::FlowVersion> before = latest();
  if (!before) fail("ferry register did not record flow 'hello'");
  spawn_ok(reg, Output::Capture);  // warm-up (page cache)
  spawn_ok(version_cmd, Output::Capture);

  const fs::path flows_dir = g_home / "flows";
  const std::size_t files_before = count_files(flows_dir);
  std::vector<double> f, b;
  int not_skipped = 0;
  std::string unexpected;
  auto one_register = [&] {
    Spawned s = spawn_ok(reg, Output::Capture);
    if (s.output.find("Skipped flow 'hello' (unchanged") == std::string::npos) {
      ++not_skipped;
      unexpected = first_line(s.output);
    }
    f.push_back(s.ns);
  };
  auto one_version = [&] { b.push_back(spawn_ok(version_cmd, Output::Capture).ns); };
  for (int i = 0; i < 15; ++i) {
    if (i % 2 == 0) {
      one_register();
      one_version();
    } else {
      one_version();
      one_register();
    }
  }
  const std::size_t files_after = count_files(flows_dir);
  std::optional<ferry::backend::FlowVersion> after = latest();
  std::string broken;
  if (files_after != files_before) {
    broken =
        "files under flows/ " + std::to_string(files_before) + " -> " + std::to_string(files_after);
  }
  if (not_skipped) {
    broken += (broken.empty() ? "" : "; ") + std::to_string(not_skipped) + " not skipped (\"" +
              unexpected + "\")";
  }
  if (!after || after->version != before->version) {
    broken += (broken.empty() ? "" : "; ") + std::string("a new version was recorded");
  }
  spread("ferry register (unchanged)", f);
  spread("ferry --version", b);
  add_row("register hello.cpp again, unchanged (process)", median(f), median(b), "ferry --version",
          Target::Absolute, 50e6, "< 50 ms", broken);

  // For comparison, a registration that does record a new version (it freezes, writes the
  // package, fetches it back for the load check, and inserts the version): a label that
  // changes each time, in a project of its own so the other benchmarks' flow is untouched.
  std::vector<double> changed;
  for (int i = 0; i < 5; ++i) {
    Spawned s = spawn_ok({kFerry, "register", "--path", hello, "--project", "bench-register", "-l",
                          "bench-" + std::to_string(i)},
                         Output::Capture);
    if (s.output.find("Registered flow 'hello'") == std::string::npos) {
      fail("ferry register with a new label did not register: " + s.output);
    }
    changed.push_back(s.ns);
  }
  add_row("register hello.cpp, new version (process)", median(changed), median(b),
          "ferry --version", Target::None, 0);
}

// ---------------------------------------------------------------------------------------
// 6. get_flow through Local storage, frozen and script, against dlopen of the module.

// Deserializes a storage descriptor and times one get_flow of its first flow.
double storage_get_flow_ns(const ferry::Value& descriptor) {
  ferry::storage::Storage storage = ferry::storage::Storage::deserialize(descriptor);
  const std::string name = descriptor.at("flows").begin().key();
  return time_ns([&] {
    if (storage.get_flow(name).task_count() == 0) fail("get_flow: no tasks");
  });
}

void bench_storage() {
  progress("storage: get_flow through Local storage (frozen and script) against dlopen");
  const std::string hello = kHello.string();
  ferry::Flow flow = ferry::load_flow_from_source(kHello);  // compiles on a cold cache
  const fs::path script_so = ferry::compile_flow_source(kHello).path;
  const fs::path dir = fresh_dir("storage-local");

  ferry::storage::LocalOptions frozen_options;
  frozen_options.directory = (dir / "flows").string();
  ferry::storage::Local frozen(frozen_options);
  frozen.add_flow(flow);
  frozen.build();
  ferry::storage::LocalOptions script_options;
  script_options.directory = (dir / "flows").string();
  script_options.path = hello;
  script_options.stored_as_script = true;
  ferry::storage::Local script(script_options);
  script.add_flow(flow);
  script.build();

  const ferry::Value frozen_descriptor = frozen.serialize();
  const ferry::Value script_descriptor = script.serialize();
  const fs::path frozen_file = dir / "frozen-descriptor.json";
  const fs::path script_file = dir / "script-descriptor.json";
  write_text(frozen_file, frozen_descriptor.dump());
  write_text(script_file, script_descriptor.dump());
  const fs::path package = frozen_descriptor.at("flows").at("hello").get<std::string>();

  // The first calls load the modules (the frozen one writes its module into the cache).
  double first_frozen = storage_get_flow_ns(frozen_descriptor);
  double first_script = storage_get_flow_ns(script_descriptor);
  progress("  first calls in this process: frozen " + fmt_time(first_frozen) + ", script " +
           fmt_time(first_script));
  const fs::path package_so = package_module(package);
  if (!fs::exists(package_so)) fail("get_flow did not cache the package's module");

  // (a) Again in this process, each time from a freshly deserialized copy of the descriptor.
  std::vector<double> fz, sc, d_fz, d_sc;
  for (int i = 0; i < 21; ++i) {
    fz.push_back(storage_get_flow_ns(frozen_descriptor));
    d_fz.push_back(dlopen_once(package_so));
    sc.push_back(storage_get_flow_ns(script_descriptor));
    d_sc.push_back(dlopen_once(script_so));
  }
  spread("frozen get_flow (same process)", fz);
  spread("script get_flow (same process)", sc);
  add_row("get_flow, frozen Local (same process, again)", median(fz), median(d_fz), "dlopen again",
          Target::Absolute, 5e6, "< 5 ms");
  add_row("get_flow, script Local (same process, again)", median(sc), median(d_sc), "dlopen again",
          Target::Absolute, 10e6, "< 10 ms");

  // (b) A new process per sample, timed inside it: what an agent's run process pays.
  progress("  new process, first get_flow (timed inside the process)");
  std::vector<double> nfz, nsc, nd_fz, nd_sc;
  for (int i = 0; i < 7; ++i) {
    nfz.push_back(once_in_new_process("storage", frozen_file));
    nd_fz.push_back(once_in_new_process("dlopen", package_so));
    nsc.push_back(once_in_new_process("storage", script_file));
    nd_sc.push_back(once_in_new_process("dlopen", script_so));
  }
  spread("frozen get_flow (new process)", nfz);
  spread("script get_flow (new process)", nsc);
  add_row("get_flow, frozen Local (new process, first call)", median(nfz), median(nd_fz), "dlopen",
          Target::Absolute, 5e6, "< 5 ms");
  add_row("get_flow, script Local (new process, warm cache)", median(nsc), median(nd_sc), "dlopen",
          Target::Absolute, 10e6, "< 10 ms");
}

// ---------------------------------------------------------------------------------------
// 7. Agent throughput: 200 queued runs of hello through `ferry agent local start`.

constexpr int kAgentRuns = 200;

// Queues kAgentRuns runs of the registered hello flow through the backend API (spawning
// `ferry run hello` that many times would be most of the time), then times `ferry agent
// local start --max-runs kAgentRuns` from spawn to exit. `broken` says what went wrong with
// the runs, if anything.
double agent_batch_ns(ferry::backend::Backend& backend, const ferry::backend::FlowVersion& version,
                      int concurrency, std::string& broken) {
  expect_no_scheduled_runs(backend);
  const ferry::Value params = {{"name", "world"}};  // complete, as `ferry run` makes them
  std::vector<std::string> ids;
  double create_ns = time_ns([&] {
    for (int i = 0; i < kAgentRuns; ++i) {
      ids.push_back(backend.create_flow_run(version.id, params, version.labels).id);
    }
  });
  const std::string n = std::to_string(kAgentRuns);
  progress("  created " + n + " runs in " + fmt_time(create_ns) + "; agent with concurrency " +
           std::to_string(concurrency));
  const fs::path log = fresh_dir("agent-throughput") / "agent.log";
  auto t0 = Clock::now();
  Child agent({kFerry, "agent", "local", "start", "--max-runs", n, "--poll-interval", "0.05",
               "--concurrency", std::to_string(concurrency)},
              log);
  int code = agent.wait(std::chrono::seconds(180), "ferry agent local start --max-runs " + n);
  double ns = ns_between(t0, Clock::now());
  if (code != 0) fail("the agent exited with " + std::to_string(code) + ":\n" + agent.log());
  progress("  the agent ran " + n + " runs in " + fmt_time(ns));
  std::string bad;
  int success = wait_final(backend, ids, std::chrono::seconds(10), bad);
  broken.clear();
  if (success != kAgentRuns) {
    broken = std::to_string(kAgentRuns - success) + " runs not Success (" + bad + ")";
  }
  return ns;
}

void bench_agent() {
  progress("agent: " + std::to_string(kAgentRuns) +
           " queued runs of hello through a local agent against as many `ferry run --package`");
  spawn_ok({kFerry, "register", "--path", kHello.string()}, Output::Capture);
  auto backend = open_backend();
  std::optional<ferry::backend::FlowVersion> version =
      backend->get_flow_version("default", "hello");
  if (!version) fail("ferry register did not record flow 'hello'");

  // The baseline: the same flow, from the same stored package, without agent or backend.
  const std::string package = version->storage.at("flows").at("hello").get<std::string>();
  spawn_ok({kFerry, "run", "--package", package}, Output::Null);  // warm-up
  auto baseline_batch_ns = [&] {
    return time_ns([&] {
      for (int i = 0; i < kAgentRuns; ++i) {
        spawn_ok({kFerry, "run", "--package", package}, Output::Null);
      }
    });
  };
  // Three rounds of an agent batch (concurrency 2) and a baseline batch, alternating
  // (medians), then one agent batch at concurrency 1.
  const std::string n = std::to_string(kAgentRuns);
  std::vector<double> agent2, base;
  std::string broken2, broken1, round_broken;
  for (int round = 0; round < 3; ++round) {
    agent2.push_back(agent_batch_ns(*backend, *version, 2, round_broken));
    if (!round_broken.empty()) broken2 = round_broken;
    base.push_back(baseline_batch_ns());
    progress("  " + n + " sequential `ferry run --package` took " + fmt_time(base.back()));
  }
  double agent1_ns = agent_batch_ns(*backend, *version, 1, broken1);
  double agent2_ns = median(agent2), base_ns = median(base);
  auto rate = [](double ns) { return kAgentRuns / (ns / 1e9); };
  add_rate_row("agent throughput, " + n + " runs of hello (concurrency 2, median of 3)",
               rate(agent2_ns), rate(base_ns), "ferry run --package, sequential", 20, broken2);
  Row r;
  r.benchmark = "agent throughput, " + n + " runs of hello (concurrency 1)";
  r.ferry = fmt("%.1f runs/s", rate(agent1_ns));
  r.baseline = fmt("%.1f runs/s", rate(base_ns)) + " (ferry run --package, sequential)";
  r.ratio = fmt_ratio(agent1_ns / base_ns);
  r.target = "-";
  r.ok = broken1.empty() ? "-" : "NO: " + broken1;
  add_text_row(std::move(r));
}

// ---------------------------------------------------------------------------------------
// 8. Scheduled to Running with an idle agent: the wake-up by notification.

constexpr int kLatencyRuns = 20;

void bench_latency() {
  progress(
      "latency: Scheduled -> Running of `ferry run hello` with an idle agent "
      "(--poll-interval 1: woken by inotify)");
  spawn_ok({kFerry, "register", "--path", kHello.string()}, Output::Capture);
  auto backend = open_backend();
  expect_no_scheduled_runs(*backend);
  const std::size_t agents_before = backend->list_agents().size();

  const fs::path log = fresh_dir("agent-latency") / "agent.log";
  Child agent({kFerry, "agent", "local", "start", "--poll-interval", "1", "--concurrency", "2"},
              log);
  // Ready once it has registered itself (it watches $FERRY_HOME right after).
  for (auto deadline = Clock::now() + std::chrono::seconds(10);
       backend->list_agents().size() <= agents_before;) {
    if (auto code = agent.poll()) {
      fail("the agent exited with " + std::to_string(*code) + ":\n" + agent.log());
    }
    if (Clock::now() > deadline) fail("the agent did not start within 10 s:\n" + agent.log());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  auto create = [&] {
    Spawned s = spawn_ok({kFerry, "run", "hello", "--json"}, Output::CaptureStdout);
    return ferry::Value::parse(s.output).at("run_id").get<std::string>();
  };
  std::string bad;
  // Warm-up: two runs (page cache, the package's module in the cache).
  wait_final(*backend, {create(), create()}, std::chrono::seconds(30), bad);

  std::vector<std::string> ids;
  for (int i = 0; i < kLatencyRuns; ++i) {
    ids.push_back(create());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int success = wait_final(*backend, ids, std::chrono::seconds(60), bad);

  // The baseline: starting a ferry process at all (the agent starts one per run).
  std::vector<double> spawn_ns;
  for (int i = 0; i < kLatencyRuns; ++i) {
    spawn_ns.push_back(spawn_ok({kFerry, "--version"}, Output::Null).ns);
  }

  agent.signal(SIGTERM);
  int code = agent.wait(std::chrono::seconds(15), "the agent, after SIGTERM,");
  std::string broken;
  if (code != 0) broken = "agent exited with " + std::to_string(code) + " on SIGTERM";
  if (success != kLatencyRuns) {
    broken += (broken.empty() ? "" : "; ") + std::to_string(kLatencyRuns - success) +
              " runs not Success (" + bad + ")";
  }

  // Millisecond timestamps of each run's first Scheduled, Pending (claimed) and Running.
  std::vector<double> to_running, to_claimed;
  int slow = 0;
  for (const std::string& id : ids) {
    std::optional<ferry::backend::FlowRun> run = backend->get_flow_run(id);
    std::map<ferry::State, ferry::backend::Clock::time_point> at;
    for (const ferry::backend::StateChange& c : run->history) at.emplace(c.state, c.at);
    if (!at.count(ferry::State::Scheduled) || !at.count(ferry::State::Pending) ||
        !at.count(ferry::State::Running)) {
      fail("run " + id + " lacks a Scheduled, Pending or Running history entry");
    }
    double ms = ms_between(at[ferry::State::Scheduled], at[ferry::State::Running]);
    to_running.push_back(ms * 1e6);
    to_claimed.push_back(ms_between(at[ferry::State::Scheduled], at[ferry::State::Pending]) * 1e6);
    if (ms >= 500) ++slow;
  }
  spread("scheduled -> running", to_running, 1e6, "ms");
  spread("scheduled -> claimed", to_claimed, 1e6, "ms");
  spread("ferry --version", spawn_ns);
  if (slow) {
    progress("  " + std::to_string(slow) + " of " + std::to_string(kLatencyRuns) +
             " runs took 500 ms or more: woken by the 1 s poll, not by the notification?");
  }
  // The history's timestamps are whole milliseconds: the ferry cells say so ("%.1f ms").
  const std::string n = std::to_string(kLatencyRuns);
  auto ms_cell = [](double ns) { return fmt("%.1f ms", ns / 1e6); };
  const double run50 = median(to_running), run90 = percentile(to_running, 0.9);
  const double spawn50 = median(spawn_ns), spawn90 = percentile(spawn_ns, 0.9);
  add_text_row({"scheduled -> running, idle agent (median of " + n + ")", ms_cell(run50),
                fmt_time(spawn50) + " (ferry --version)", fmt_ratio(run50 / spawn50), "< 100 ms",
                !broken.empty() ? "NO: " + broken
                : run50 < 100e6 ? "yes"
                                : "NO"});
  add_text_row({"scheduled -> running, idle agent (p90 of " + n + ")", ms_cell(run90),
                fmt_time(spawn90) + " (ferry --version p90)", fmt_ratio(run90 / spawn90), "-",
                "-"});
  add_text_row({"scheduled -> claimed, idle agent (median of " + n + ")",
                ms_cell(median(to_claimed)), "-", "-", "-", "-"});
}

// ---------------------------------------------------------------------------------------
// Git storage: a cold get_flow (no cached checkout) from a repository with 50 MB of history
// against `git clone --depth 1` of the same commit from the same git daemon, and a warm one
// (the commit's checkout cached, so no network at all).

void bench_git() {
  progress("git: cold and warm get_flow from a repository with 50 MB of history");
  const fs::path dir = fresh_dir("git");
  const fs::path work = dir / "work";
  const std::string git = "/usr/bin/git";
  auto in_work = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {git, "-C", work.string(), "-c", "user.name=bench", "-c",
                               "user.email=bench@localhost"});
    return spawn_ok(args, Output::Capture);
  };
  spawn_ok({git, "init", "-q", "-b", "main", work.string()}, Output::Capture);
  // 50 MB of incompressible history that the flow's commit no longer holds.
  {
    std::ifstream random("/dev/urandom", std::ios::binary);
    std::string chunk(1 << 20, '\0');
    std::ofstream out(work / "data.bin", std::ios::binary);
    for (int i = 0; i < 50; ++i) {
      random.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
  }
  in_work({"add", "data.bin"});
  in_work({"commit", "-q", "-m", "history"});
  in_work({"rm", "-q", "data.bin"});
  fs::create_directories(work / "flows");
  fs::copy_file(kHello, work / "flows" / "hello.cpp");
  in_work({"add", "flows/hello.cpp"});
  in_work({"commit", "-q", "-m", "the flow"});
  std::string sha = in_work({"rev-parse", "HEAD"}).output;
  sha.erase(sha.find_last_not_of("\n") + 1);
  spawn_ok({git, "clone", "-q", "--bare", work.string(), (dir / "flows.git").string()},
           Output::Capture);
  ferry::test::GitDaemon daemon(dir);
  const std::string url = daemon.url("flows.git");
  ::setenv("FERRY_BENCH_GIT_URL", url.c_str(), 1);

  // The storage as registered: the default branch, resolved to a commit at every get_flow.
  ferry::Flow flow = ferry::load_flow_from_source(kHello);  // warms the module cache
  ferry::storage::GitOptions o;
  o.flow_path = "flows/hello.cpp";
  o.git_clone_url_secret_name = "FERRY_BENCH_GIT_URL";
  ferry::storage::Git storage(o);
  storage.add_flow(flow);
  const ferry::Value branch_descriptor = storage.serialize();
  o.commit = sha;
  ferry::storage::Git pinned(o);
  pinned.add_flow(flow);
  const ferry::Value commit_descriptor = pinned.serialize();
  const fs::path checkouts = g_home / "cache" / "git";
  auto get_flow_ns = [&](const ferry::Value& descriptor) {
    ferry::storage::Storage s = ferry::storage::Storage::deserialize(descriptor);
    return time_ns([&] {
      if (s.get_flow("hello").name() != "hello") fail("git get_flow loaded another flow");
    });
  };
  get_flow_ns(branch_descriptor);  // compiles the source once, from its checkout path

  // Baselines of the warm rows: a script flow in Local storage (the same compile cache, no
  // repository) and one `git ls-remote` (what a branch costs when nothing else is fetched).
  ferry::storage::LocalOptions local_options;
  local_options.directory = (dir / "local").string();
  local_options.path = kHello.string();
  local_options.stored_as_script = true;
  ferry::storage::Local local(local_options);
  local.add_flow(flow);
  const ferry::Value local_descriptor = local.serialize();

  std::vector<double> cold, clone, warm_commit, warm_branch, local_script, ls_remote;
  for (int i = 0; i < 7; ++i) {
    fs::remove_all(checkouts);
    cold.push_back(get_flow_ns(branch_descriptor));
    const fs::path target = dir / ("clone-" + std::to_string(i));
    clone.push_back(
        spawn_ok({git, "clone", "-q", "--depth", "1", "--no-tags", url, target.string()},
                 Output::Capture)
            .ns);
    fs::remove_all(target);
  }
  for (int i = 0; i < 21; ++i) {
    warm_commit.push_back(get_flow_ns(commit_descriptor));
    warm_branch.push_back(get_flow_ns(branch_descriptor));
    local_script.push_back(storage_get_flow_ns(local_descriptor));
    ls_remote.push_back(spawn_ok({git, "ls-remote", url, "HEAD"}, Output::Capture).ns);
  }
  add_row("git: cold get_flow, 50 MB history (one shallow clone, nothing cached)", median(cold),
          median(clone), "git clone --depth 1", Target::Ratio, 1.2);
  add_row("git: warm get_flow, commit pinned and cached (no network)", median(warm_commit),
          median(local_script), "Local script get_flow", Target::Absolute, 10e6, "< 10 ms");
  add_row("git: warm get_flow, branch (ls-remote + cached checkout)", median(warm_branch),
          median(ls_remote), "git ls-remote", Target::None, 0);
}

// ---------------------------------------------------------------------------------------
// 10. Object storage: a 5 MB flow package through Azure storage on azurite and S3 storage on
// Ceph RGW, against curl moving the same bytes to and from the same server with the same
// credentials (a SAS; SigV4 with curl --aws-sigv4).

// Two flows whose packages are ~5 MB, each with hello's task: one holds 5,000,000 characters
// in a parameter default (made when the module loads: a 5 MB literal would only slow the
// compiler down), so the package's graph JSON is 5 MB; the other links 5 MB of random bytes
// into its module (.incbin, at BLOB_PATH), so the graph is small and the module 5 MB.
constexpr const char* kBigGraphSource = R"(#include <ferry/ferry.hpp>

std::string greet(const std::string& name) { return "Hello, " + name; }

// Printable pseudo-random text: the package's graph JSON carries it unescaped.
std::string payload() {
  std::string out(5000000, ' ');
  unsigned long long x = 88172645463325252ULL;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>('a' + x % 26);
  }
  return out;
}

FERRY_FLOWS(flows) {
  ferry::Flow flow("big");
  auto name = flow.parameter<std::string>("name", "world");
  flow.parameter<std::string>("payload", payload());
  flow.task<greet>(name);
  flows.add(std::move(flow));
}
)";

constexpr const char* kBigModuleSource = R"(#include <ferry/ferry.hpp>

asm(".section .rodata.bench_blob,\"a\"\n"
    ".global bench_blob\n"
    "bench_blob:\n"
    ".incbin \"BLOB_PATH\"\n"
    ".previous\n");
extern "C" const char bench_blob[];

std::string greet(const std::string& name) { return "Hello, " + name + bench_blob[0]; }

FERRY_FLOWS(flows) {
  ferry::Flow flow("big");
  auto name = flow.parameter<std::string>("name", "world");
  flow.task<greet>(name);
  flows.add(std::move(flow));
}
)";

// One object store as the benchmark sees it: ferry's storage for the package, the same
// client get_flow uses (for the download-only figure), and curl's GET of the package's
// object and PUT of a package file (to another key) with the same credentials.
struct ObjectStore {
  std::string name;                                  // "azure (azurite, SAS)", ...
  std::function<ferry::storage::Storage()> storage;  // a fresh storage, flow not added yet
  std::function<std::string()> download;             // the client's get of the package
  std::vector<std::string> curl_get;
  std::function<std::vector<std::string>(const fs::path&)> curl_put;
};

// A flow and its frozen package, and what the rows say is big in it.
struct BigPackage {
  ferry::Flow flow;
  fs::path file;
  std::string what;  // "5 MB graph", "5 MB module"
};

// build() against curl PUT, cold get_flow against curl GET, and where a get_flow's time goes.
void bench_object_store(const ObjectStore& store, const BigPackage& package, const fs::path& dir) {
  const std::string label = store.name + ", " + package.what;
  const std::vector<std::string> curl_put = store.curl_put(package.file);
  progress("  " + label + ": build() against curl PUT");
  auto build_ns = [&]() {
    ferry::storage::Storage storage = store.storage();
    storage.add_flow(package.flow);
    return time_ns([&] { storage.build(); });
  };
  build_ns();  // warm-up: the first request in this process loads libcurl
  spawn_ok(curl_put, Output::Capture);
  std::vector<double> build, put;
  for (int i = 0; i < 7; ++i) {
    build.push_back(build_ns());
    put.push_back(spawn_ok(curl_put, Output::Capture).ns);
  }
  spread("build()", build);
  spread("curl PUT", put);

  ferry::storage::Storage storage = store.storage();
  storage.add_flow(package.flow);
  storage.build();
  const fs::path descriptor_file = dir / (ferry::storage::slugify(label) + ".json");
  write_text(descriptor_file, storage.serialize().dump());
  const fs::path module_so = package_module(package.file);

  // Cold: a new process (libcurl and the module not loaded yet) and no cached module, timed
  // inside the process from get_flow's call to the thawed flow.
  progress("  " + label + ": cold get_flow (new process) against curl GET");
  std::vector<double> cold, get;
  for (int i = 0; i < 7; ++i) {
    fs::remove(module_so);
    cold.push_back(once_in_new_process("storage", descriptor_file));
    if (!fs::exists(module_so)) fail("get_flow did not write the package's module");
    get.push_back(spawn_ok(store.curl_get, Output::Capture).ns);
  }
  spread("cold get_flow (new process)", cold);
  spread("curl GET", get);

  // Where a get_flow's time goes, in this process: the download alone (the client get_flow
  // makes), the digest check, and the thaw (its own digest check, the graph JSON, the module
  // written with fsync; this process has loaded the module already).
  std::vector<double> download, digest, thaw;
  std::string bytes;
  for (int i = 0; i < 7; ++i) {
    download.push_back(time_ns([&] { bytes = store.download(); }));
    digest.push_back(time_ns([&] { (void)ferry::detail::sha256_hex(bytes); }));
    fs::remove(module_so);
    thaw.push_back(time_ns([&] { ferry::thaw_flow_bytes(bytes, "bench"); }));
  }
  spread("download only (client get, same process)", download);
  spread("SHA-256 of the package", digest);
  spread("thaw_flow_bytes (module written, already loaded)", thaw);

  add_row(label + ": cold get_flow (download + digest + thaw; new process)", median(cold),
          median(get), "curl GET", Target::Ratio, 1.2);
  add_row(label + ": build() (freeze + one PUT)", median(build), median(put), "curl PUT",
          Target::None, 0);
  add_row(label + ": download only (client get, same process)", median(download), median(get),
          "curl GET", Target::None, 0);
  add_row(label + ": thaw only (same process, module loaded)", median(thaw), median(get),
          "curl GET", Target::None, 0);
}

// curl's --data-binary argument for a file. (Appended piecewise: `"@" + file.string()`
// trips the GCC 12 -Wrestrict false positive noted at named().)
std::string curl_data_file(const fs::path& file) {
  std::string arg = "@";
  arg += file.string();
  return arg;
}

BigPackage make_big_package(const fs::path& dir, const std::string& what, std::string source) {
  fs::create_directories(dir);
  write_text(dir / "big.cpp", source);
  BigPackage p{ferry::load_flow_from_source(dir / "big.cpp"), dir / "big.ferry", what};
  ferry::freeze_flow(p.flow, p.file);
  progress("  " + what + " package: " + std::to_string(fs::file_size(p.file)) + " bytes");
  return p;
}

void bench_objects() {
  progress("objects: 5 MB flow packages through object storages, against curl");
  const fs::path dir = fresh_dir("objects");
  std::vector<BigPackage> packages;
  packages.push_back(make_big_package(dir / "graph", "5 MB graph", kBigGraphSource));
  {
    std::ifstream random("/dev/urandom", std::ios::binary);
    std::string blob(5000000, '\0');
    random.read(blob.data(), static_cast<std::streamsize>(blob.size()));
    write_text(dir / "blob.bin", blob);
    std::string source = kBigModuleSource;
    source.replace(source.find("BLOB_PATH"), 9, (dir / "blob.bin").string());
    packages.push_back(make_big_package(dir / "module", "5 MB module", source));
  }
  const std::string curl = "/usr/bin/curl";

  if (!fs::exists(ferry::test::AzuriteServer::binary())) {
    progress("  azurite is not installed (" + ferry::test::AzuriteServer::binary() +
             "): no Azure rows");
  } else {
    ferry::test::AzuriteServer azurite;
    const std::string sas = ferry::test::make_account_sas(
        std::string(ferry::net::kDevStorageAccount), std::string(ferry::net::kDevStorageKey),
        "rwdlac", "2099-01-01T00:00:00Z");
    const std::string connection =
        "BlobEndpoint=" + azurite.blob_endpoint() + ";SharedAccessSignature=" + sas;
    ::setenv("FERRY_BENCH_AZURE", connection.c_str(), 1);
    ferry::net::AzureBlobClient("bench", connection).create_container();
    auto client = std::make_shared<ferry::net::AzureBlobClient>("bench", connection);
    const std::string blob = azurite.blob_endpoint() + "/bench/";
    ObjectStore store;
    store.name = "azure (azurite, SAS)";
    store.storage = [] {
      ferry::storage::AzureOptions o;
      o.container = "bench";
      o.connection_string_secret = "FERRY_BENCH_AZURE";
      o.blob_name = "big/package";
      o.overwrite = true;  // every build() sample replaces the blob
      return ferry::storage::Azure(o);
    };
    store.download = [client] { return client->get("big/package").bytes; };
    store.curl_get = {curl, "-sS", "-f", "-o", "/dev/null", blob + "big/package?" + sas};
    store.curl_put = [=](const fs::path& file) {
      return std::vector<std::string>{curl,
                                      "-sS",
                                      "-f",
                                      "-o",
                                      "/dev/null",
                                      "-X",
                                      "PUT",
                                      "-H",
                                      "x-ms-blob-type: BlockBlob",
                                      "-H",
                                      "Content-Type: application/octet-stream",
                                      "-H",
                                      "Expect:",
                                      "--data-binary",
                                      curl_data_file(file),
                                      blob + "curl/package?" + sas};
    };
    for (const BigPackage& p : packages) bench_object_store(store, p, dir);
  }

  if (!ferry::test::CephRgw::available()) {
    progress("  Ceph RGW is not installed: no S3 rows");
    return;
  }
  progress("  starting Ceph RGW (a one-node Ceph cluster)");
  ferry::test::CephRgw& rgw = ferry::test::CephRgw::shared();
  progress("  Ceph RGW started in " + fmt("%.1f s", rgw.start_seconds()));
  // The agent's way: credentials in the environment (the --once process inherits them).
  ::setenv("AWS_ACCESS_KEY_ID", rgw.access_key().c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", rgw.secret_key().c_str(), 1);
  const ferry::Value client_options = {{"endpoint_url", rgw.endpoint()}};
  ferry::net::S3Client("bench", client_options).create_bucket();
  auto client = std::make_shared<ferry::net::S3Client>("bench", client_options);
  const std::string bucket = rgw.endpoint() + "/bench/";
  const std::string user = rgw.access_key() + ":" + rgw.secret_key();
  ObjectStore store;
  store.name = "s3 (Ceph RGW)";
  store.storage = [client_options] {
    ferry::storage::S3Options o;
    o.bucket = "bench";
    o.key = "big/package";
    o.client_options = client_options;
    return ferry::storage::S3(o);
  };
  store.download = [client] { return client->get("big/package").bytes; };
  // curl 7.88 signs without x-amz-content-sha256, which RGW requires: given here (the
  // digest of the empty body, and the file's, computed before the timing), so curl signs it.
  // No "Expect:" to suppress 100-continue: curl 7.88 then signs a header it does not send
  // (RGW answers 403); RGW answers the 100 at once.
  store.curl_get = {curl,
                    "-sS",
                    "-f",
                    "-o",
                    "/dev/null",
                    "--aws-sigv4",
                    "aws:amz:us-east-1:s3",
                    "--user",
                    user,
                    "-H",
                    "x-amz-content-sha256: " + ferry::detail::sha256_hex(""),
                    bucket + "big/package"};
  store.curl_put = [=](const fs::path& file) {
    return std::vector<std::string>{
        curl,
        "-sS",
        "-f",
        "-o",
        "/dev/null",
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        user,
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/octet-stream",
        "-H",
        "x-amz-content-sha256: " + ferry::detail::sha256_hex(read_text(file)),
        "--data-binary",
        curl_data_file(file),
        bucket + "curl/package"};
  };
  for (const BigPackage& p : packages) bench_object_store(store, p, dir);
}

// ---------------------------------------------------------------------------------------
// 11. ferry server: runs created and claimed through the HTTP API of an in-process Server
// (SQLite, PostgreSQL) against the same calls on the backend object and the bare SQL of a
// claim; Scheduled -> Running with 4 agents of a `ferry server start` process.

constexpr int kServerRuns = 500;   // runs created, and runs claimed, per figure
constexpr int kServerClients = 4;  // client threads
constexpr int kServerLatencyRuns = 100;
// Between two runs of the latency benchmark. At 20 ms (50 runs/s) the 4 agents could not keep
// up on the 2-core benchmark machine (each run is a new `ferry execute` process): runs queued
// for seconds and the figure measured the backlog, not the hand-off.
constexpr int kServerLatencyGapMs = 100;
constexpr int kServerAgents = 4;

// Runs f(t) for t = 0 .. n-1 on n threads and returns the wall time of all of them; the
// first exception of any thread is rethrown once all have ended.
template <class F>
double threads_ns(int n, F f) {
  std::mutex mutex;
  std::exception_ptr error;
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      try {
        f(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  double ns = ns_between(t0, Clock::now());
  if (error) std::rethrow_exception(error);
  return ns;
}

double per_second(int n, double ns) { return ns > 0 ? n / (ns / 1e9) : 0; }

// A throughput row without a target (runs/s; the ratio is ferry's time over the baseline's).
void rate_row(std::string name, double ferry_rate, double base_rate, std::string base_label,
              std::string broken = {}) {
  add_text_row({std::move(name), fmt("%.1f runs/s", ferry_rate),
                fmt("%.1f runs/s", base_rate) + " (" + base_label + ")",
                fmt_ratio(ferry_rate > 0 ? base_rate / ferry_rate : 0), "-",
                broken.empty() ? "-" : "NO: " + broken});
}

// A Server on an ephemeral loopback port over the backend at `database_url`, serving from
// a thread of this process, with one API key.
class InProcessServer {
 public:
  explicit InProcessServer(const std::string& database_url)
      : backend_(ferry::backend::open_backend_url(database_url)),
        key_(ferry::server::new_api_key()) {
    backend_->add_api_key("bench", ferry::server::hash_api_key(key_));
    server_ = std::make_unique<ferry::server::Server>(*backend_, ferry::server::ServerOptions{});
    server_->start();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    thread_ = std::thread([this] {
      try {
        server_->run();
      } catch (const std::exception& e) {
        progress(std::string("  the in-process server failed: ") + e.what());
      }
    });
  }
  ~InProcessServer() {
    server_->stop();
    thread_.join();
  }
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  ferry::backend::Backend& backend() { return *backend_; }
  std::unique_ptr<ferry::backend::Backend> client() const {
    ferry::backend::RemoteOptions o;
    o.url = url_;
    o.api_key = key_;
    o.retry_for = std::chrono::seconds(30);
    return ferry::backend::open_remote_backend(o);
  }

 private:
  std::unique_ptr<ferry::backend::Backend> backend_;
  std::string key_;
  std::unique_ptr<ferry::server::Server> server_;
  std::string url_;
  std::thread thread_;
};

// A flow version to create runs of (never run: nothing reads its storage).
ferry::backend::FlowVersion server_bench_version(ferry::backend::Backend& backend) {
  ferry::backend::FlowVersionSpec s;
  s.project = "bench";
  s.flow_name = "server";
  s.graph = ferry::Value{{"tasks", ferry::Value::array()}};
  s.run_config = ferry::Value{{"type", "Universal"}};
  s.storage = ferry::Value{{"type", "Local"}, {"path", "/nonexistent"}};
  s.result = nullptr;
  s.idempotency_key = "bench-server";
  return backend.register_flow_version(s).version;
}

// kServerRuns runs created from as many threads as `backends` holds, each through its own.
double create_runs_ns(const std::vector<ferry::backend::Backend*>& backends,
                      std::int64_t version_id) {
  std::atomic<int> next{0};
  return threads_ns(static_cast<int>(backends.size()), [&](int t) {
    for (int i; (i = next++) < kServerRuns;) {
      backends[t]->create_flow_run(version_id, ferry::Value{{"i", i}}, {});
    }
  });
}

// Queues kServerRuns runs through the backend itself (untimed).
void queue_runs(ferry::backend::Backend& backend, std::int64_t version_id) {
  for (int i = 0; i < kServerRuns; ++i) {
    backend.create_flow_run(version_id, ferry::Value{{"i", i}}, {});
  }
}

// Each thread claims one run at a time (claim(t) is false once none is left); returns the
// wall time and sets `claimed`.
template <class Claim>
double drain_ns(int threads, int& claimed, Claim claim) {
  std::atomic<int> n{0};
  double ns = threads_ns(threads, [&](int t) {
    while (claim(t)) ++n;
  });
  claimed = n;
  return ns;
}

// What is wrong with a drain that did not claim exactly kServerRuns runs, if anything.
std::string claimed_broken(int claimed, const std::string& how) {
  if (claimed == kServerRuns) return {};
  return how + " claimed " + std::to_string(claimed) + " of " + std::to_string(kServerRuns);
}

// The bare claim on PostgreSQL: one UPDATE ... FOR UPDATE SKIP LOCKED per claim (autocommit),
// each thread on its own connection (opened before the clock starts).
double postgres_bare_claims_ns(const std::string& url, int& claimed) {
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int t = 0; t < kServerClients; ++t) {
    conns.push_back(std::make_unique<pqxx::connection>(url));
    conns.back()->prepare("claim",
                          "UPDATE flow_runs SET state = 'Pending', agent_id = $1 WHERE id = "
                          "(SELECT id FROM flow_runs WHERE state = 'Scheduled' ORDER BY created "
                          "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id");
  }
  return drain_ns(kServerClients, claimed, [&](int t) {
    pqxx::nontransaction tx(*conns[t]);
    return !tx.exec_prepared("claim", "bare-" + std::to_string(t)).empty();
  });
}

// The bare claim on SQLite: the same UPDATE in a BEGIN IMMEDIATE transaction, each thread
// on its own connection (WAL, busy timeout: src/backend/sqlite_db.hpp).
double sqlite_bare_claims_ns(const std::string& path, int& claimed) {
  namespace sq = ferry::backend::sqlite;
  std::vector<std::unique_ptr<sq::Database>> dbs;
  for (int t = 0; t < kServerClients; ++t) dbs.push_back(std::make_unique<sq::Database>(path));
  return drain_ns(kServerClients, claimed, [&](int t) {
    sq::Transaction tx(*dbs[t]);
    bool got = false;
    {
      auto q = dbs[t]->prepare(
          "UPDATE flow_runs SET state = 'Pending', agent_id = ?1 WHERE id = "
          "(SELECT id FROM flow_runs WHERE state = 'Scheduled' ORDER BY created LIMIT 1) "
          "RETURNING id");
      q.bind(1, "bare-" + std::to_string(t));
      got = q.step();
    }
    tx.commit();
    return got;
  });
}

// Creates and claims through an in-process server on one database. `bare_claims` drains
// the queue with the bare SQL of a claim.
void bench_server_api(const std::string& db, const std::string& database_url,
                      const std::function<double(int&)>& bare_claims) {
  const std::string n = std::to_string(kServerRuns), c = std::to_string(kServerClients);
  progress("  " + db + ": in-process server on " + database_url.substr(0, 60));
  InProcessServer server(database_url);
  ferry::backend::Backend& direct = server.backend();
  const ferry::backend::FlowVersion version = server_bench_version(direct);
  std::vector<std::unique_ptr<ferry::backend::Backend>> clients;
  for (int t = 0; t < kServerClients; ++t) clients.push_back(server.client());
  auto remote_claim = [&](int t) {
    return !clients[t]->claim_flow_runs("bench-" + std::to_string(t), {}, 1).empty();
  };
  // Warm-up: a few runs created and claimed over HTTP.
  for (int i = 0; i < 8; ++i) {
    clients[i % kServerClients]->create_flow_run(version.id, ferry::Value{{"i", i}}, {});
  }
  int warm = 0;
  drain_ns(kServerClients, warm, remote_claim);

  // Claims: the queue holds kServerRuns runs for each way of claiming, which empties it.
  int claimed_http = 0, claimed_direct = 0, claimed_bare = 0;
  queue_runs(direct, version.id);
  double http_ns = drain_ns(kServerClients, claimed_http, remote_claim);
  queue_runs(direct, version.id);
  double direct_ns = drain_ns(kServerClients, claimed_direct, [&](int t) {
    return !direct.claim_flow_runs("direct-" + std::to_string(t), {}, 1).empty();
  });
  queue_runs(direct, version.id);
  double bare_ns = bare_claims(claimed_bare);
  std::string http_broken = claimed_broken(claimed_http, "server");
  if (std::string b = claimed_broken(claimed_bare, "bare SQL"); !b.empty()) {
    http_broken += (http_broken.empty() ? "" : "; ") + b;
  }
  progress("  claims: server " + fmt_time(http_ns) + ", backend object " + fmt_time(direct_ns) +
           ", bare SQL " + fmt_time(bare_ns));
  rate_row("server claims, " + db + " (" + n + " runs, " + c + " clients, 1 per claim)",
           per_second(claimed_http, http_ns), per_second(claimed_bare, bare_ns), "bare SQL claim",
           http_broken);
  rate_row("backend claims, " + db + " (no HTTP, " + c + " threads)",
           per_second(claimed_direct, direct_ns), per_second(claimed_bare, bare_ns),
           "bare SQL claim", claimed_broken(claimed_direct, "backend"));

  // Creates: the backend object itself, then the same through the server.
  std::vector<ferry::backend::Backend*> same(kServerClients, &direct), remote;
  for (auto& client : clients) remote.push_back(client.get());
  double create_direct_ns = create_runs_ns(same, version.id);
  double create_http_ns = create_runs_ns(remote, version.id);
  progress("  creates: server " + fmt_time(create_http_ns) + ", backend object " +
           fmt_time(create_direct_ns));
  rate_row("server runs created, " + db + " (" + n + " runs, " + c + " clients)",
           per_second(kServerRuns, create_http_ns), per_second(kServerRuns, create_direct_ns),
           "backend object, no HTTP");
}

// Sets environment variables for the processes started meanwhile; unsets them at the end.
class ScopedEnv {
 public:
  void set(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    names_.push_back(name);
  }
  ~ScopedEnv() {
    for (const std::string& name : names_) ::unsetenv(name.c_str());
  }

 private:
  std::vector<std::string> names_;
};

// `ferry server start` on `database_url` with kServerAgents agents (other processes, given
// only FERRY_API and FERRY_API_KEY); kServerLatencyRuns runs of the trivial flow created
// kServerLatencyGapMs apart; Scheduled -> Running from each run's history.
// Baseline: `ferry --version`.
void bench_server_latency(const std::string& db, const std::string& database_url) {
  const fs::path dir = fresh_dir("server-latency-" + db);
  progress("  " + db + ": ferry server start with " + std::to_string(kServerAgents) + " agents");
  // (--database belongs to `api-key`: given after `create`, CLI11 rejects it.)
  Spawned made = spawn_ok(
      {kFerry, "server", "api-key", "--database", database_url, "create", "bench", "--json"},
      Output::CaptureStdout);
  const std::string key = ferry::Value::parse(made.output).at("key").get<std::string>();
  const int port = ferry::test::free_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  Child server(
      {kFerry, "server", "start", "--port", std::to_string(port), "--database", database_url},
      dir / "server.log");
  for (auto deadline = Clock::now() + std::chrono::seconds(20); !ferry::test::port_accepts(port);) {
    if (auto code = server.poll()) {
      fail("ferry server exited with " + std::to_string(*code) + ":\n" + server.log());
    }
    if (Clock::now() > deadline) fail("ferry server did not start within 20 s:\n" + server.log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ScopedEnv env;
  env.set("FERRY_API", url);
  env.set("FERRY_API_KEY", key);
  spawn_ok(
      {kFerry, "register", "--path", (fs::path(FERRY_TEST_FIXTURES) / "e2e/trivial.cpp").string()},
      Output::Capture);
  ferry::backend::RemoteOptions options;
  options.url = url;
  options.api_key = key;
  options.retry_for = std::chrono::seconds(30);
  auto backend = ferry::backend::open_remote_backend(options);
  std::optional<ferry::backend::FlowVersion> version =
      backend->get_flow_version("default", "trivial");
  if (!version) fail("ferry register did not record flow 'trivial' on the server");

  std::vector<std::unique_ptr<Child>> agents;
  for (int a = 0; a < kServerAgents; ++a) {
    agents.push_back(std::make_unique<Child>(
        std::vector<std::string>{kFerry, "agent", "local", "start", "--no-hostname-label",
                                 "--poll-interval", "0.1"},
        dir / ("agent-" + std::to_string(a) + ".log")));
  }
  for (auto deadline = Clock::now() + std::chrono::seconds(20);
       backend->list_agents().size() < static_cast<std::size_t>(kServerAgents);) {
    for (auto& agent : agents) {
      if (auto code = agent->poll()) {
        fail("an agent exited with " + std::to_string(*code) + ":\n" + agent->log());
      }
    }
    if (Clock::now() > deadline) fail("the agents did not start within 20 s:\n" + agents[0]->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string bad;
  // Warm-up: a run per agent (page cache, the module in the cache).
  std::vector<std::string> warm;
  for (int i = 0; i < kServerAgents; ++i) {
    warm.push_back(backend->create_flow_run(version->id, ferry::Value{{"i", i}}, {}).id);
  }
  wait_final(*backend, warm, std::chrono::seconds(60), bad);

  std::vector<std::string> ids;
  for (int i = 0; i < kServerLatencyRuns; ++i) {
    ids.push_back(backend->create_flow_run(version->id, ferry::Value{{"i", i}}, {}).id);
    std::this_thread::sleep_for(std::chrono::milliseconds(kServerLatencyGapMs));
  }
  int success = wait_final(*backend, ids, std::chrono::seconds(120), bad);

  // The baseline: starting a ferry process (every run is a new `ferry execute`), while the
  // agents are idle.
  std::vector<double> spawn_ns;
  for (int i = 0; i < kServerLatencyRuns; ++i) {
    spawn_ns.push_back(spawn_ok({kFerry, "--version"}, Output::Null).ns);
  }

  std::vector<double> to_running, to_claimed, to_final;
  for (const std::string& id : ids) {
    std::optional<ferry::backend::FlowRun> run = backend->get_flow_run(id);
    if (!run) fail("run " + id + " vanished");
    std::map<ferry::State, ferry::backend::Clock::time_point> at;
    for (const ferry::backend::StateChange& ch : run->history) at.emplace(ch.state, ch.at);
    if (!at.count(ferry::State::Scheduled) || !at.count(ferry::State::Pending) ||
        !at.count(ferry::State::Running)) {
      fail("run " + id + " lacks a Scheduled, Pending or Running history entry");
    }
    to_running.push_back(ms_between(at[ferry::State::Scheduled], at[ferry::State::Running]) * 1e6);
    to_claimed.push_back(ms_between(at[ferry::State::Scheduled], at[ferry::State::Pending]) * 1e6);
    if (at.count(ferry::State::Success)) {
      to_final.push_back(ms_between(at[ferry::State::Running], at[ferry::State::Success]) * 1e6);
    }
  }

  std::string broken;
  for (auto& agent : agents) agent->signal(SIGTERM);
  for (auto& agent : agents) {
    int code = agent->wait(std::chrono::seconds(15), "an agent, after SIGTERM,");
    if (code != 0 && broken.empty()) broken = "agent exited with " + std::to_string(code);
  }
  server.signal(SIGTERM);
  int code = server.wait(std::chrono::seconds(15), "ferry server, after SIGTERM,");
  if (code != 0) {
    broken +=
        (broken.empty() ? "" : "; ") + std::string("server exited with ") + std::to_string(code);
  }
  if (success != kServerLatencyRuns) {
    broken += (broken.empty() ? "" : "; ") + std::to_string(kServerLatencyRuns - success) +
              " runs not Success (" + bad + ")";
  }

  spread("scheduled -> running", to_running, 1e6, "ms");
  spread("scheduled -> claimed", to_claimed, 1e6, "ms");
  if (!to_final.empty()) spread("running -> success", to_final, 1e6, "ms");
  spread("ferry --version", spawn_ns, 1e6, "ms");
  const std::string n = std::to_string(kServerLatencyRuns), a = std::to_string(kServerAgents);
  auto ms_cell = [](double ns) { return fmt("%.1f ms", ns / 1e6); };
  const double run50 = median(to_running), run99 = percentile(to_running, 0.99);
  const double spawn50 = median(spawn_ns), spawn99 = percentile(spawn_ns, 0.99);
  add_text_row({"server scheduled -> running, " + db + ", " + a + " agents (p50 of " + n + ")",
                ms_cell(run50), fmt_time(spawn50) + " (ferry --version)",
                fmt_ratio(run50 / spawn50), "< 100 ms",
                !broken.empty() ? "NO: " + broken
                : run50 < 100e6 ? "yes"
                                : "NO"});
  add_text_row({"server scheduled -> running, " + db + ", " + a + " agents (p99 of " + n + ")",
                ms_cell(run99), fmt_time(spawn99) + " (ferry --version p99)",
                fmt_ratio(run99 / spawn99), "-", "-"});
  add_text_row({"server scheduled -> claimed, " + db + ", " + a + " agents (p50 of " + n + ")",
                ms_cell(median(to_claimed)), "-", "-", "-", "-"});
}

void bench_server() {
  progress("server: runs created and claimed through `ferry server` (" +
           std::to_string(kServerClients) +
           " client threads) against the backend object and "
           "bare SQL; Scheduled -> Running with " +
           std::to_string(kServerAgents) + " agents");
  const fs::path dir = fresh_dir("server");
  const std::string sqlite_path = (dir / "api.db").string();
  bench_server_api("SQLite", "sqlite://" + sqlite_path,
                   [&](int& claimed) { return sqlite_bare_claims_ns(sqlite_path, claimed); });
  const bool postgres = ferry::test::PostgresServer::available();
  if (postgres) {
    const std::string url = ferry::test::PostgresServer::shared().create_database();
    bench_server_api("PostgreSQL", url,
                     [&](int& claimed) { return postgres_bare_claims_ns(url, claimed); });
  } else {
    progress("  PostgreSQL 15 is not installed (initdb, postgres): no PostgreSQL rows");
  }
  bench_server_latency("SQLite", "sqlite://" + (dir / "latency.db").string());
  if (postgres) {
    bench_server_latency("PostgreSQL", ferry::test::PostgresServer::shared().create_database());
  }
}

// ---------------------------------------------------------------------------------------

int once(const std::string& kind, const fs::path& path) {
  double ns = 0;
  if (kind == "script") {
    ns = time_ns([&] {
      if (ferry::load_flow_from_source(path).task_count() == 0) fail("no tasks");
    });
  } else if (kind == "frozen") {
    ns = time_ns([&] {
      if (ferry::thaw_flow(path).task_count() == 0) fail("no tasks");
    });
  } else if (kind == "dlopen") {
    ns = dlopen_once(path);
  } else if (kind == "storage") {
    ns = storage_get_flow_ns(ferry::Value::parse(read_text(path)));
  } else {
    fail("--once takes script, frozen, dlopen or storage");
  }
  std::printf("%.0f\n", ns);
  return 0;
}

// The 1-minute load average: other work on the machine skews absolute figures (ratios less).
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

std::string g_load_at_start;

std::string machine_line() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string model;
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::localtime(&now));
  return std::string("date ") + date + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores" + (model.empty() ? "" : " (" + model + ")") + ", ferry " + FERRY_VERSION +
         ", load average " + g_load_at_start + " at start, " + load_average() + " at end";
}

}  // namespace

int main(int argc, char** argv) {
  fs::path own_home;  // a FERRY_HOME this program made, removed at the end
  int status = 0;
  try {
    g_self = fs::canonical("/proc/self/exe").string();
    if (argc == 4 && std::string(argv[1]) == "--once") return once(argv[2], argv[3]);
    std::vector<std::string> parts;
    for (int i = 1; i < argc; ++i) parts.push_back(argv[i]);
    if (parts.empty()) parts.push_back("all");
    const std::vector<std::string> known = {"all",     "executor", "compile", "load",
                                            "freeze",  "register", "storage", "agent",
                                            "latency", "git",      "objects", "server"};
    for (const std::string& p : parts) {
      if (std::find(known.begin(), known.end(), p) == known.end()) {
        std::fprintf(stderr,
                     "usage: ferry_bench [all | executor compile load freeze register storage "
                     "agent latency git objects server ...]\n");
        return 2;
      }
    }
    auto wanted = [&](const char* part) {
      return std::find(parts.begin(), parts.end(), "all") != parts.end() ||
             std::find(parts.begin(), parts.end(), part) != parts.end();
    };
    const char* home = std::getenv("FERRY_HOME");
    if (!home || !*home) {
      char templ[] = "/tmp/ferry-bench-XXXXXX";
      if (!::mkdtemp(templ)) fail("mkdtemp failed");
      ::setenv("FERRY_HOME", templ, 1);
      own_home = templ;
    }
    g_load_at_start = load_average();
    g_home = ferry::home_dir();
    fs::create_directories(g_home);
    progress("FERRY_HOME=" + g_home.string());

    if (wanted("executor")) bench_executor();
    if (wanted("compile")) bench_compile();
    if (wanted("load")) bench_load();
    if (wanted("freeze")) bench_freeze();
    if (wanted("register")) bench_register();
    if (wanted("storage")) bench_storage();
    if (wanted("agent")) bench_agent();
    if (wanted("latency")) bench_latency();
    if (wanted("git")) bench_git();
    if (wanted("objects")) bench_objects();
    if (wanted("server")) bench_server();

    std::printf("\n%s\n\n", machine_line().c_str());
    print_table();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferry_bench: error: %s\n", e.what());
    status = 1;
  }
  if (!own_home.empty()) {
    std::error_code ec;
    fs::remove_all(own_home, ec);
  }
  return status;
}
