#include "core/thread_pool.hpp"

#include <algorithm>

namespace ferry::detail {

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = default_threads();
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

std::size_t ThreadPool::default_threads() {
  return std::max<std::size_t>(2, std::thread::hardware_concurrency());
}

void ThreadPool::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    ready_.push_back(job);
  }
  wake_.notify_one();
}

void ThreadPool::submit_at(Clock::time_point when, Job job) {
  {
    std::lock_guard lock(mutex_);
    timed_.push({when, job});
  }
  // Every worker may be waiting on an earlier deadline; all re-check.
  wake_.notify_all();
}

void ThreadPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!timed_.empty() && timed_.top().when <= Clock::now()) {
      ready_.push_back(timed_.top().job);
      timed_.pop();
    }
    if (!ready_.empty()) {
      Job job = ready_.front();
      ready_.pop_front();
      lock.unlock();
      job.fn(job.context, job.arg);
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (timed_.empty()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, timed_.top().when);
    }
  }
}

}  // namespace ferry::detail
