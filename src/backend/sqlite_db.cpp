#include "backend/sqlite_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <random>
#include <thread>

namespace ferry::backend::sqlite {

namespace {

bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

std::string shorten(std::string_view sql) {
  std::string out;
  out.reserve(std::min<std::size_t>(sql.size(), 120));
  bool space = false;
  for (char c : sql) {
    if (c == '\n' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= 110) {
      out += " ...";
      break;
    }
  }
  return out;
}

}  // namespace

// ---- Statement ------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), owned_(other.owned_), in_use_(other.in_use_) {
  other.stmt_ = nullptr;
  other.in_use_ = nullptr;
}

Statement::~Statement() {
  if (!stmt_) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  if (in_use_) *in_use_ = false;
}

void Statement::fail(int rc, const char* what) const {
  const char* sql = sqlite3_sql(stmt_);
  db_->fail(rc, std::string(what) + " `" + shorten(sql ? sql : "") + "`");
}

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) {
    fail(rc, ("binding parameter " + std::to_string(index) + " of").c_str());
  }
}

Statement& Statement::bind_int64(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  check_bind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::bind(int index, std::optional<std::int64_t> value) {
  return value ? bind_int64(index, *value) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc, "running");
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  if (!p) return {};
  int n = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// ---- Database -------------------------------------------------------------------------

Database::Database(const std::string& path, OpenOptions options) : path_(path), options_(options) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
    throw DatabaseError("SQLite database " + path + ": cannot open: " + msg +
                            " (check that its folder exists and is writable)",
                        rc);
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(options_.busy_timeout.count()));
    // synchronous first, so even switching a new file to WAL syncs less. In WAL mode,
    // NORMAL syncs at checkpoints only: a commit survives a process crash, and a power
    // loss can lose the last commits but never corrupts the file.
    exec_retrying("PRAGMA synchronous=NORMAL");
    exec_retrying("PRAGMA foreign_keys=ON");
    // journal_mode=WAL needs a lock while a first process switches the file over: retry.
    exec_retrying("PRAGMA journal_mode=WAL");
    // Keep the WAL file when the last connection closes: otherwise each short-lived ferry
    // command that finds itself alone checkpoints and deletes it, and the next recreates it.
    int persist = 1;
    sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  for (auto& [sql, entry] : cache_) sqlite3_finalize(entry->stmt);
  cache_.clear();
  if (db_) sqlite3_close_v2(db_);
}

void Database::fail(int rc, const std::string& what) const {
  std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (detail.empty()) detail = sqlite3_errstr(rc);
  throw DatabaseError("SQLite database " + path_ + ": " + what + ": " + detail + " (code " +
                          std::to_string(rc) + ")",
                      rc);
}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw DatabaseError("SQLite database " + path_ + ": running `" + shorten(sql) + "`: " + msg +
                            " (code " + std::to_string(rc) + ")",
                        rc);
  }
}

void Database::exec_retrying(const std::string& sql) {
  auto deadline = std::chrono::steady_clock::now() + options_.busy_retry;
  std::chrono::microseconds pause{500};
  std::optional<std::minstd_rand> jitter;  // seeded on the first retry only: most calls never wait
  for (;;) {
    try {
      exec(sql);
      return;
    } catch (const DatabaseError& e) {
      if (!is_busy(e.code()) || std::chrono::steady_clock::now() >= deadline) throw;
    }
    if (!jitter) jitter.emplace(std::random_device{}());
    auto wait = pause + std::chrono::microseconds((*jitter)() % (pause.count() + 1));
    std::this_thread::sleep_for(wait);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(50));
  }
}

sqlite3_stmt* Database::prepare_raw(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(rc, "preparing `" + shorten(sql) + "`");
  return stmt;
}

Statement Database::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    auto entry = std::make_unique<CachedStatement>();
    entry->stmt = prepare_raw(sql);
    it = cache_.emplace(sql, std::move(entry)).first;
  }
  CachedStatement& entry = *it->second;
  if (entry.in_use) return Statement(this, prepare_raw(sql), true, nullptr);
  entry.in_use = true;
  return Statement(this, entry.stmt, false, &entry.in_use);
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Database::changes() const { return sqlite3_changes(db_); }

// ---- Transaction ----------------------------------------------------------------------

Transaction::Transaction(Database& db, Mode mode) : db_(db) {
  db_.exec_retrying(mode == Mode::Immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
  if (done_) return;
  // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL or an I/O error).
  if (sqlite3_get_autocommit(db_.handle()) == 0) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  db_.exec_retrying("COMMIT");
  done_ = true;
}

}  // namespace ferry::backend::sqlite
