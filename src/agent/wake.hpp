// Waking agents when a run is created, so they need not poll often: creating a run writes
// $FERRY_HOME/wake, and agents wait on it with inotify.
#pragma once

#include <chrono>
#include <filesystem>

namespace ferry::agent {

// Tells agents on this machine that there may be new work.
void notify_agents();

class WakeWatcher {
 public:
  WakeWatcher();
  ~WakeWatcher();
  WakeWatcher(const WakeWatcher&) = delete;
  WakeWatcher& operator=(const WakeWatcher&) = delete;

  // Waits until notified, `extra_fd` is readable, or the timeout passes.
  void wait(std::chrono::milliseconds timeout, int extra_fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace ferry::agent
