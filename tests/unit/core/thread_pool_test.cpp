// The executor's thread pool: immediate jobs, timed jobs and shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/thread_pool.hpp"

namespace {

using ferry::detail::ThreadPool;
using namespace std::chrono_literals;

constexpr auto kGenerous = 5s;  // waits that only time out when something is broken

// Shared state for a test's jobs; jobs get a pointer to it as their context.
struct Board {
  std::mutex mutex;
  std::condition_variable cv;
  int count = 0;
  std::vector<std::size_t> order;
  std::vector<ThreadPool::Clock::time_point> ran_at;
  std::set<std::thread::id> threads;
  std::atomic<int> arrived{0};
  std::atomic<int> met{0};
  std::atomic<bool> release{false};
  ThreadPool* pool = nullptr;

  // Waits until count reaches n; false on timeout.
  bool wait_for_count(int n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, kGenerous, [&] { return count >= n; });
  }
};

void note(void* ctx, std::size_t arg) {
  auto* b = static_cast<Board*>(ctx);
  std::lock_guard lock(b->mutex);
  b->count += 1;
  b->order.push_back(arg);
  b->ran_at.push_back(ThreadPool::Clock::now());
  b->threads.insert(std::this_thread::get_id());
  b->cv.notify_all();
}

void slow_note(void* ctx, std::size_t arg) {
  std::this_thread::sleep_for(10ms);
  note(ctx, arg);
}

// Blocks its worker until release is set (or a generous timeout passes); records nothing.
void hold(void* ctx, std::size_t) {
  auto* b = static_cast<Board*>(ctx);
  auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (!b->release.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
}

// Two of these only both return having met if they run at the same time.
void rendezvous(void* ctx, std::size_t arg) {
  auto* b = static_cast<Board*>(ctx);
  b->arrived.fetch_add(1);
  auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (b->arrived.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  if (b->arrived.load() >= 2) b->met.fetch_add(1);
  note(ctx, arg);
}

// Submits a follow-up job from inside a job, as the executor does.
void chain(void* ctx, std::size_t arg) {
  auto* b = static_cast<Board*>(ctx);
  if (arg > 0) b->pool->submit({&chain, ctx, arg - 1});
  note(ctx, arg);
}

}  // namespace

TEST(ThreadPool, SizeIsAsRequested) {
  ThreadPool one(1);
  EXPECT_EQ(one.size(), 1u);
  ThreadPool three(3);
  EXPECT_EQ(three.size(), 3u);
}

TEST(ThreadPool, ZeroThreadsMeansDefault) {
  EXPECT_GE(ThreadPool::default_threads(), 2u);
  EXPECT_GE(ThreadPool::default_threads(), std::thread::hardware_concurrency());
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), ThreadPool::default_threads());
}

TEST(ThreadPool, SubmitRunsEveryJobOnWorkerThreads) {
  Board b;
  {
    ThreadPool pool(2);
    for (std::size_t i = 0; i < 100; ++i) pool.submit({&note, &b, i});
    ASSERT_TRUE(b.wait_for_count(100));
  }
  std::lock_guard lock(b.mutex);
  EXPECT_EQ(b.count, 100);
  std::set<std::size_t> args(b.order.begin(), b.order.end());
  EXPECT_EQ(args.size(), 100u);  // each job exactly once, with its own argument
  EXPECT_EQ(*args.begin(), 0u);
  EXPECT_EQ(*args.rbegin(), 99u);
  EXPECT_EQ(b.threads.count(std::this_thread::get_id()), 0u);
  EXPECT_LE(b.threads.size(), 2u);
}

TEST(ThreadPool, OneWorkerRunsJobsInSubmissionOrder) {
  Board b;
  ThreadPool pool(1);
  for (std::size_t i = 0; i < 20; ++i) pool.submit({&note, &b, i});
  ASSERT_TRUE(b.wait_for_count(20));
  std::lock_guard lock(b.mutex);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(b.order[i], i);
}

TEST(ThreadPool, TwoWorkersRunJobsConcurrently) {
  Board b;
  ThreadPool pool(2);
  pool.submit({&rendezvous, &b, 0});
  pool.submit({&rendezvous, &b, 1});
  ASSERT_TRUE(b.wait_for_count(2));
  EXPECT_EQ(b.met.load(), 2);
  std::lock_guard lock(b.mutex);
  EXPECT_EQ(b.threads.size(), 2u);
}

TEST(ThreadPool, JobsMaySubmitJobs) {
  Board b;
  ThreadPool pool(2);
  b.pool = &pool;
  pool.submit({&chain, &b, 9});
  ASSERT_TRUE(b.wait_for_count(10));
}

TEST(ThreadPool, SubmitAtRunsNoEarlierThanItsTime) {
  Board b;
  ThreadPool pool(2);
  auto when = ThreadPool::Clock::now() + 40ms;
  pool.submit_at(when, {&note, &b, 7});
  ASSERT_TRUE(b.wait_for_count(1));
  std::lock_guard lock(b.mutex);
  EXPECT_GE(b.ran_at[0], when);
  EXPECT_EQ(b.order[0], 7u);
}

TEST(ThreadPool, SubmitAtRunsEarliestFirst) {
  Board b;
  ThreadPool pool(1);
  // Hold the only worker until both timed jobs are due, so the order cannot depend on how
  // promptly this thread submits them.
  pool.submit({&hold, &b, 0});
  auto now = ThreadPool::Clock::now();
  auto late = now + 40ms;
  auto early = now + 20ms;
  pool.submit_at(late, {&note, &b, 2});
  pool.submit_at(early, {&note, &b, 1});
  std::this_thread::sleep_until(late + 5ms);
  b.release.store(true);
  ASSERT_TRUE(b.wait_for_count(2));
  std::lock_guard lock(b.mutex);
  EXPECT_EQ(b.order, (std::vector<std::size_t>{1, 2}));
  EXPECT_GE(b.ran_at[0], early);
  EXPECT_GE(b.ran_at[1], late);
}

TEST(ThreadPool, SubmitAtInThePastRunsPromptly) {
  Board b;
  ThreadPool pool(1);
  pool.submit_at(ThreadPool::Clock::now() - 1s, {&note, &b, 3});
  ASSERT_TRUE(b.wait_for_count(1));
}

TEST(ThreadPool, ImmediateJobsAreNotHeldBackByATimedJob) {
  Board b;
  ThreadPool pool(1);
  pool.submit_at(ThreadPool::Clock::now() + 10s, {&note, &b, 1});
  pool.submit({&note, &b, 2});
  ASSERT_TRUE(b.wait_for_count(1));
  std::lock_guard lock(b.mutex);
  EXPECT_EQ(b.order, (std::vector<std::size_t>{2}));
}

TEST(ThreadPool, TimedJobWakesIdleWorkers) {
  Board b;
  ThreadPool pool(2);
  std::this_thread::sleep_for(10ms);  // let both workers block waiting for work
  pool.submit_at(ThreadPool::Clock::now() + 20ms, {&note, &b, 1});
  ASSERT_TRUE(b.wait_for_count(1));
}

TEST(ThreadPool, DestructorRunsQueuedJobsAndJoins) {
  Board b;
  {
    ThreadPool pool(1);
    for (std::size_t i = 0; i < 5; ++i) pool.submit({&slow_note, &b, i});
  }  // the destructor returns only after every queued job ran
  std::lock_guard lock(b.mutex);
  EXPECT_EQ(b.count, 5);
}

TEST(ThreadPool, DestructorDropsTimedJobsNotYetDue) {
  Board b;
  auto start = std::chrono::steady_clock::now();
  {
    ThreadPool pool(2);
    pool.submit_at(ThreadPool::Clock::now() + 30s, {&note, &b, 1});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  std::lock_guard lock(b.mutex);
  EXPECT_EQ(b.count, 0);
}
