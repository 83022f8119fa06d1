#include "storage/git_cache.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/digest.hpp"
#include "core/files.hpp"
#include "ferry/error.hpp"

namespace ferry::storage::git_detail {

namespace fs = std::filesystem;

namespace {

std::string short_hash(const std::string& text) { return detail::sha256_hex(text).substr(0, 16); }

int open_lock_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error("Cannot open the lock file '" + path.string() + "': " + std::strerror(errno));
  }
  return fd;
}

// A shared hold on "<entry>.use": the collector needs it exclusively to remove the entry.
int hold_in_use(const fs::path& entry) {
  int fd = open_lock_file(entry.string() + ".use");
  while (::flock(fd, LOCK_SH) != 0 && errno == EINTR) {
  }
  return fd;
}

void touch(const fs::path& dir) {
  std::error_code ec;
  fs::last_write_time(dir, fs::file_time_type::clock::now(), ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

fs::path temp_name(const fs::path& dir, const std::string& name) {
  static std::atomic<unsigned> counter{0};
  return dir /
         (".tmp-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

}  // namespace

CheckoutLease::CheckoutLease(CheckoutLease&& other) noexcept
    : dir_(std::move(other.dir_)), fd_(other.fd_) {
  other.fd_ = -1;
}

CheckoutLease& CheckoutLease::operator=(CheckoutLease&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    dir_ = std::move(other.dir_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

CheckoutLease::~CheckoutLease() {
  if (fd_ >= 0) ::close(fd_);
}

GitCache::GitCache(fs::path root, const std::string& repo_url)
    : root_(std::move(root)), repo_dir_(root_ / short_hash(repo_url)) {
  fs::create_directories(repo_dir_);
  fs::path about = repo_dir_ / "repo";
  std::error_code ec;
  if (!fs::exists(about, ec)) detail::write_file_atomic(about, repo_url + "\n");
}

std::string GitCache::entry_name(const std::string& commit, const std::string& sparse_dir) const {
  return sparse_dir.empty() ? commit : commit + ".sparse-" + short_hash(sparse_dir).substr(0, 8);
}

std::optional<std::string> GitCache::recalled_ref(const std::string& ref) const {
  fs::path file = repo_dir_ / ("ref-" + short_hash(ref));
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  std::string sha = detail::read_file(file);
  while (!sha.empty() && (sha.back() == '\n' || sha.back() == ' ')) sha.pop_back();
  if (sha.empty()) return std::nullopt;
  return sha;
}

void GitCache::remember_ref(const std::string& ref, const std::string& commit) const {
  detail::write_file_atomic(repo_dir_ / ("ref-" + short_hash(ref)), commit + "\n");
}

bool GitCache::has_checkout(const std::string& commit, const std::string& sparse_dir) const {
  return is_dir(repo_dir_ / entry_name(commit, "")) ||
         (!sparse_dir.empty() && is_dir(repo_dir_ / entry_name(commit, sparse_dir)));
}

CheckoutLease GitCache::checkout(const std::string& commit, const std::string& sparse_dir,
                                 const Fill& fill, std::string* commit_out) const {
  if (commit_out) *commit_out = commit;
  // A full checkout of the commit serves a sparse request as well.
  std::vector<std::string> names = {entry_name(commit, "")};
  if (!sparse_dir.empty()) names.push_back(entry_name(commit, sparse_dir));
  for (const std::string& name : names) {
    fs::path dir = repo_dir_ / name;
    if (!is_dir(dir)) continue;
    int fd = hold_in_use(dir);
    if (is_dir(dir)) {  // the collector may have taken it before our hold
      touch(dir);
      return CheckoutLease(dir, fd);
    }
    ::close(fd);
  }

  std::string name = names.back();
  fs::path dir = repo_dir_ / name;
  int fd = hold_in_use(dir);
  CheckoutLease lease(dir, fd);
  detail::FileLock lock(dir.string() + ".lock");  // one process fetches, the others wait
  if (is_dir(dir)) {
    touch(dir);
    return lease;
  }
  fs::path tmp = temp_name(repo_dir_, name);
  fs::create_directories(tmp);
  std::string actual;
  try {
    actual = fill(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  if (actual != commit) {
    // The server gave us another commit (the ref moved on): file it under its own name.
    if (commit_out) *commit_out = actual;
    fs::path other = repo_dir_ / entry_name(actual, sparse_dir);
    lease = CheckoutLease(other, hold_in_use(other));
    dir = other;
  }
  store(tmp, dir);
  return lease;
}

bool GitCache::has_any_checkout() const {
  std::error_code ec;
  for (auto it = fs::directory_iterator(repo_dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory() && it->path().filename().string()[0] != '.') return true;
  }
  return false;
}

CheckoutLease GitCache::checkout_new(const std::string& sparse_dir, const Fill& fill,
                                     std::string* commit_out) const {
  fs::path tmp = temp_name(repo_dir_, "new");
  fs::create_directories(tmp);
  std::string commit;
  try {
    commit = fill(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  if (commit_out) *commit_out = commit;
  fs::path dir = repo_dir_ / entry_name(commit, sparse_dir);
  CheckoutLease lease(dir, hold_in_use(dir));
  store(tmp, dir);
  return lease;
}

void GitCache::store(const fs::path& tmp, const fs::path& dir) const {
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);  // someone else stored the same commit first
    if (!is_dir(dir)) throw Error("Cannot store the git checkout at '" + dir.string() + "'.");
  }
  touch(dir);
}

void GitCache::collect(const fs::path& root, std::size_t keep) {
  struct Entry {
    fs::file_time_type time;
    fs::path dir;
  };
  std::vector<Entry> entries;
  auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (auto repo = fs::directory_iterator(root, ec); !ec && repo != fs::directory_iterator();
       repo.increment(ec)) {
    if (!repo->is_directory()) continue;
    std::error_code inner;
    for (auto it = fs::directory_iterator(repo->path(), inner);
         !inner && it != fs::directory_iterator(); it.increment(inner)) {
      std::string name = it->path().filename().string();
      if (!it->is_directory()) continue;
      std::error_code tec;
      fs::file_time_type time = fs::last_write_time(it->path(), tec);
      if (tec) continue;
      if (name.rfind(".tmp-", 0) == 0 || name.rfind(".trash-", 0) == 0) {
        // Left behind by a process that died while fetching.
        if (now - time > std::chrono::hours(1)) fs::remove_all(it->path(), tec);
        continue;
      }
      if (name[0] == '.') continue;
      entries.push_back({time, it->path()});
    }
  }
  if (entries.size() <= keep) return;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.time > b.time; });
  for (std::size_t i = keep; i < entries.size(); ++i) {
    const fs::path& dir = entries[i].dir;
    int fd = ::open((dir.string() + ".use").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {  // nobody is using it
      fs::path trash = temp_name(dir.parent_path(), "trash");
      trash = dir.parent_path() / (".trash" + trash.filename().string().substr(4));
      std::error_code rec;
      fs::rename(dir, trash, rec);
      if (!rec) fs::remove_all(trash, rec);
    }
    ::close(fd);
  }
}

}  // namespace ferry::storage::git_detail
