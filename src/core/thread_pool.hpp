// A fixed set of worker threads running small jobs, now or at a time (for retry delays).
// Jobs are plain function pointers with a context, so queueing one never allocates.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace ferry::detail {

class ThreadPool {
 public:
  struct Job {
    void (*fn)(void* context, std::size_t arg);
    void* context;
    std::size_t arg;
  };
  using Clock = std::chrono::steady_clock;

  explicit ThreadPool(std::size_t threads);
  ~ThreadPool();  // runs what is queued now, drops timed jobs not yet due, joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(Job job);
  void submit_at(Clock::time_point when, Job job);
  std::size_t size() const { return workers_.size(); }

  // Threads to use when the caller asks for 0: one per core, at least 2.
  static std::size_t default_threads();

 private:
  struct Timed {
    Clock::time_point when;
    Job job;
    bool operator>(const Timed& o) const { return when > o.when; }
  };
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> ready_;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<>> timed_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ferry::detail
