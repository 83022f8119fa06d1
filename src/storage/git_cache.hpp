// The agent-side cache of Git storage checkouts: $FERRY_HOME/cache/git/<repo key>/<commit>,
// one working tree per repository and commit, created once under a file lock and shared by
// every run of that commit. Bounded: past git.cache_max_checkouts (default 20) checkouts on
// the machine, the least recently used ones that no process is using are removed.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace ferry::storage::git_detail {

// A checkout in use: while it lives, the cache's collector leaves the folder alone (a
// shared flock on "<folder>.use"). Movable, not copyable.
class CheckoutLease {
 public:
  CheckoutLease() = default;
  CheckoutLease(std::filesystem::path dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  CheckoutLease(CheckoutLease&& other) noexcept;
  CheckoutLease& operator=(CheckoutLease&& other) noexcept;
  ~CheckoutLease();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
};

class GitCache {
 public:
  // root: default cache_dir()/git. repo_url: the URL without credentials (the key).
  GitCache(std::filesystem::path root, const std::string& repo_url);

  const std::filesystem::path& repo_dir() const { return repo_dir_; }

  // The commit a ref resolved to last time on this machine (offline fallback).
  std::optional<std::string> recalled_ref(const std::string& ref) const;
  void remember_ref(const std::string& ref, const std::string& commit) const;

  // Whether a checkout of commit (sparse of `sparse_dir` when not empty) is cached.
  bool has_checkout(const std::string& commit, const std::string& sparse_dir) const;

  // The checkout of `commit`, made by `fill` into an empty temporary folder when missing.
  // fill returns the commit it actually checked out (it may differ from the one asked for
  // when the server would only hand out a ref); the checkout is stored under that one.
  // `commit_out` receives it.
  using Fill = std::function<std::string(const std::filesystem::path& dir)>;
  CheckoutLease checkout(const std::string& commit, const std::string& sparse_dir, const Fill& fill,
                         std::string* commit_out = nullptr) const;

  // Whether any checkout of this repository is cached.
  bool has_any_checkout() const;

  // A checkout of a commit not known yet: `fill` fetches into an empty temporary folder and
  // returns the commit it checked out, under which the checkout is stored (or, when another
  // process stored that commit first, the existing one is used). `commit_out` receives it.
  CheckoutLease checkout_new(const std::string& sparse_dir, const Fill& fill,
                             std::string* commit_out) const;

  // Removes least recently used checkouts beyond `keep` that are not in use, and temporary
  // folders older than an hour, across every repository under root.
  static void collect(const std::filesystem::path& root, std::size_t keep);

 private:
  std::string entry_name(const std::string& commit, const std::string& sparse_dir) const;
  // Moves a filled temporary folder to its entry (dropping it if the entry exists already).
  void store(const std::filesystem::path& tmp, const std::filesystem::path& dir) const;
  std::filesystem::path root_;
  std::filesystem::path repo_dir_;
};

}  // namespace ferry::storage::git_detail
