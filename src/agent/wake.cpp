#include "agent/wake.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

#include "ferry/module.hpp"

namespace ferry::agent {

namespace fs = std::filesystem;

void notify_agents() {
  fs::path home = home_dir();
  std::error_code ec;
  fs::create_directories(home, ec);
  int fd = ::open((home / "wake").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);  // IN_CLOSE_WRITE wakes the watchers
}

WakeWatcher::WakeWatcher() {
  fs::path home = home_dir();
  std::error_code ec;
  fs::create_directories(home, ec);
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ >= 0 && ::inotify_add_watch(fd_, home.c_str(), IN_CLOSE_WRITE) < 0) {
    ::close(fd_);
    fd_ = -1;  // polling alone still works
  }
}

WakeWatcher::~WakeWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

// Reads pending inotify events; true if one was about the wake file (the database files in
// the same folder are closed by every ferry command and must not wake agents).
static bool drain_wake_events(int fd) {
  bool woken = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return woken;
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      if (event->len > 0 && std::strcmp(event->name, "wake") == 0) woken = true;
      p += sizeof(inotify_event) + event->len;
    }
  }
}

void WakeWatcher::wait(std::chrono::milliseconds timeout, int extra_fd) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd fds[2];
    int n = 0;
    if (fd_ >= 0) fds[n++] = {fd_, POLLIN, 0};
    if (extra_fd >= 0) fds[n++] = {extra_fd, POLLIN, 0};
    int ready = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left.count()));
    if (ready <= 0) return;  // timed out (or interrupted by a signal: let the caller look)
    if (extra_fd >= 0 && (fds[n - 1].revents & POLLIN)) return;
    if (fd_ >= 0 && drain_wake_events(fd_)) return;
  }
}

}  // namespace ferry::agent
