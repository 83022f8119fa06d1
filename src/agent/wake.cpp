#include "agent/wake.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

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

void WakeWatcher::wait(std::chrono::milliseconds timeout, int extra_fd) {
  pollfd fds[2];
  int n = 0;
  if (fd_ >= 0) fds[n++] = {fd_, POLLIN, 0};
  if (extra_fd >= 0) fds[n++] = {extra_fd, POLLIN, 0};
  ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(timeout.count()));
  if (fd_ >= 0) {
    char buf[4096];
    while (::read(fd_, buf, sizeof buf) > 0) {
    }
  }
}

}  // namespace ferry::agent
