// File helpers: whole-file reads, atomic writes, and advisory locks.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ferry::detail {

// Reads a whole file; throws ValueError naming the path and the reason.
std::string read_file(const std::filesystem::path& path);

// Reads an open descriptor to its end and closes it (also on error); errors name `path`.
// For callers that must check the file (fstat) on the descriptor they read.
std::string read_fd(int fd, const std::filesystem::path& path);

// Writes via a temporary file in the same folder, fsync, then rename: readers see the old
// file or the whole new one, never a part. `mode`: the new file's permissions (less the
// umask).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes,
                       unsigned mode = 0644);

// The same without the fsync, for caches whose entries can be made again and are checked
// before use (a crash may leave a short file there, never a partly replaced one).
void write_cache_file(const std::filesystem::path& path, std::string_view bytes);

// An exclusive flock held for the object's lifetime (the lock file is left in place).
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace ferry::detail
