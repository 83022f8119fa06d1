#include "core/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "core/big_buffer.hpp"
#include "ferry/error.hpp"

namespace ferry::detail {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw ValueError("Cannot read '" + path.string() + "': " + std::strerror(errno) + ".");
  }
  return read_fd(fd, path);
}

std::string read_fd(int fd, const fs::path& path) {
  std::string data;
  // A regular file's size is known: one allocation, prepared for a big one (big_buffer.hpp),
  // instead of growing by appends (each growth copies into fresh, faulting pages).
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    reserve_big(data, static_cast<std::size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw ValueError("Cannot read '" + path.string() + "': " + std::strerror(err) + ".");
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

namespace {

void write_via_rename(const fs::path& path, std::string_view bytes, unsigned mode, bool sync) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) {
    throw Error("Cannot write '" + tmp.string() + "': " + std::strerror(errno) + ".");
  }
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("Cannot write '" + path.string() + "': " + std::strerror(err) + ".");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if ((sync && ::fsync(fd) != 0) || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("Cannot write '" + path.string() + "': " + std::strerror(err) + ".");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("Cannot write '" + path.string() + "': " + std::strerror(err) + ".");
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view bytes, unsigned mode) {
  write_via_rename(path, bytes, mode, /*sync=*/true);
}

void write_cache_file(const fs::path& path, std::string_view bytes) {
  write_via_rename(path, bytes, 0644, /*sync=*/false);
}

FileLock::FileLock(const fs::path& path) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw Error("Cannot open lock file '" + path.string() + "': " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int err = errno;
      ::close(fd_);
      throw Error("Cannot lock '" + path.string() + "': " + std::strerror(err));
    }
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace ferry::detail
