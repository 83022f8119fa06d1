// A small RAII layer over the SQLite C API: a connection with a statement cache, a prepared
// statement in use (bind, step, read columns), and a transaction guard whose BEGIN IMMEDIATE
// and COMMIT retry while another process holds the write lock.
//
// Not thread-safe by itself: one Database is used by one thread at a time (the backend
// guards it with a mutex). Never carry an open Database across fork(): close it first, or
// let the child open its own.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ferry/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace ferry::backend::sqlite {

// A failed SQLite call. The message names the database file, what was being done and
// SQLite's own explanation; code() is SQLite's (extended) result code.
class DatabaseError : public ferry::Error {
 public:
  DatabaseError(const std::string& message, int code) : ferry::Error(message), code_(code) {}
  int code() const { return code_; }
  // SQLite's primary result code (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
  int primary_code() const { return code_ & 0xff; }

 private:
  int code_;
};

class Database;

// A prepared statement in use. Cached statements are reset and unbound when the object is
// destroyed, so each use starts clean and no finished read keeps its snapshot open.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQL's ?1, ?2, ...
  template <std::integral T>
  Statement& bind(int index, T value) {
    return bind_int64(index, static_cast<std::int64_t>(value));
  }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, std::optional<std::int64_t> value);
  Statement& bind_null(int index);

  // Steps once: true when a row is available, false when the statement is done.
  bool step();
  // Steps to the end, for statements that return no rows (INSERT, UPDATE, DELETE).
  void run();

  // Columns are 0-based.
  std::int64_t int64(int column) const;
  int int32(int column) const { return static_cast<int>(int64(column)); }
  double real(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const {
    if (is_null(column)) return std::nullopt;
    return int64(column);
  }

 private:
  friend class Database;
  Statement(Database* db, sqlite3_stmt* stmt, bool owned, bool* in_use)
      : db_(db), stmt_(stmt), owned_(owned), in_use_(in_use) {}
  Statement& bind_int64(int index, std::int64_t value);
  void check_bind(int rc, int index);
  [[noreturn]] void fail(int rc, const char* what) const;

  Database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  bool owned_ = false;      // true: finalized on destruction (not from the cache)
  bool* in_use_ = nullptr;  // the cache entry's flag, cleared on destruction
};

struct OpenOptions {
  std::chrono::milliseconds busy_timeout{10000};  // SQLite's own wait for a lock
  std::chrono::milliseconds busy_retry{30000};    // our extra retrying of BEGIN and COMMIT
};

// One connection to a database file, created if missing, in WAL mode with
// synchronous=NORMAL, foreign_keys=ON and a busy timeout.
class Database {
 public:
  explicit Database(const std::string& path, OpenOptions options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs one or several statements that return nothing.
  void exec(const std::string& sql);
  // Like exec, but retries for up to busy_retry while SQLite reports SQLITE_BUSY. Only for
  // statements that are safe to repeat (BEGIN, COMMIT, PRAGMA).
  void exec_retrying(const std::string& sql);
  // A statement prepared once per connection and cached by its SQL text. Using the same SQL
  // again while the first use is alive prepares a fresh, uncached one.
  Statement prepare(const std::string& sql);

  std::int64_t last_insert_rowid() const;
  int changes() const;

  // Throws a DatabaseError for result code rc: "SQLite database <path>: <what>: <errmsg>".
  [[noreturn]] void fail(int rc, const std::string& what) const;

 private:
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };

  sqlite3_stmt* prepare_raw(const std::string& sql);

  std::string path_;
  OpenOptions options_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<CachedStatement>> cache_;
};

// BEGIN (IMMEDIATE by default: takes the write lock now, so the transaction never has to
// upgrade a read lock and fail with SQLITE_BUSY halfway) ... COMMIT; rolled back when
// destroyed uncommitted, e.g. by an exception.
class Transaction {
 public:
  enum class Mode { Deferred, Immediate };
  explicit Transaction(Database& db, Mode mode = Mode::Immediate);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace ferry::backend::sqlite
