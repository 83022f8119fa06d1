// The per-thread state behind ferry::context(), ferry::flow_file() and ferry::logger().
#pragma once

#include <functional>
#include <string>

#include "ferry/context.hpp"

namespace ferry::detail {

using LogSink = std::function<void(const LogRecord&)>;

struct ThreadRun {
  const void* run = nullptr;  // which run `context` was filled for
  Context context;
  const LogSink* sink = nullptr;  // null: stderr
};

// This thread's run state; the executor sets it around each task.
ThreadRun& thread_run();

// Sets flow_file() on this thread while a module's FERRY_FLOWS block runs.
class LoadingFileScope {
 public:
  explicit LoadingFileScope(std::string path);
  ~LoadingFileScope();
  LoadingFileScope(const LoadingFileScope&) = delete;
  LoadingFileScope& operator=(const LoadingFileScope&) = delete;

 private:
  std::string previous_;
};

long long now_ms();

}  // namespace ferry::detail
