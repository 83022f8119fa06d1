#include "backend/migrations.hpp"

#include <string>

#include "backend/backend_util.hpp"

namespace ferry::backend::sqlite {

namespace {

// Timestamps are integer milliseconds since the Unix epoch; JSON values are stored as text;
// states by their names (ferry::to_string(State)).
constexpr const char* kInitialSchema = R"sql(
CREATE TABLE projects (
  id      INTEGER PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);

CREATE TABLE flows (
  id         INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  created    INTEGER NOT NULL,
  UNIQUE (project_id, name)
);

CREATE TABLE flow_versions (
  id              INTEGER PRIMARY KEY,
  flow_id         INTEGER NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
  version         INTEGER NOT NULL,
  graph           TEXT NOT NULL,
  run_config      TEXT NOT NULL,
  labels          TEXT NOT NULL,
  storage         TEXT NOT NULL,
  result          TEXT NOT NULL,
  idempotency_key TEXT NOT NULL DEFAULT '',
  created         INTEGER NOT NULL,
  UNIQUE (flow_id, version)
);

CREATE TABLE flow_runs (
  id              TEXT PRIMARY KEY,
  flow_version_id INTEGER NOT NULL REFERENCES flow_versions(id) ON DELETE CASCADE,
  parameters      TEXT NOT NULL,
  labels          TEXT NOT NULL,
  state           TEXT NOT NULL,
  message         TEXT NOT NULL DEFAULT '',
  agent_id        TEXT NOT NULL DEFAULT '',
  result          TEXT NOT NULL DEFAULT 'null',
  pinned          TEXT NOT NULL DEFAULT 'null',
  created         INTEGER NOT NULL,
  updated         INTEGER NOT NULL,
  heartbeat       INTEGER
);
CREATE INDEX flow_runs_state_created ON flow_runs (state, created);
CREATE INDEX flow_runs_created ON flow_runs (created);
CREATE INDEX flow_runs_flow_version ON flow_runs (flow_version_id);

CREATE TABLE flow_run_states (
  id      INTEGER PRIMARY KEY,
  run_id  TEXT NOT NULL REFERENCES flow_runs(id) ON DELETE CASCADE,
  state   TEXT NOT NULL,
  message TEXT NOT NULL,
  at      INTEGER NOT NULL
);
CREATE INDEX flow_run_states_run ON flow_run_states (run_id, id);

CREATE TABLE task_runs (
  id              INTEGER PRIMARY KEY,
  run_id          TEXT NOT NULL REFERENCES flow_runs(id) ON DELETE CASCADE,
  task_name       TEXT NOT NULL,
  state           TEXT NOT NULL,
  message         TEXT NOT NULL DEFAULT '',
  attempts        INTEGER NOT NULL DEFAULT 0,
  result_location TEXT NOT NULL DEFAULT '',
  created         INTEGER NOT NULL,
  updated         INTEGER NOT NULL,
  UNIQUE (run_id, task_name)
);

CREATE TABLE task_run_states (
  id          INTEGER PRIMARY KEY,
  task_run_id INTEGER NOT NULL REFERENCES task_runs(id) ON DELETE CASCADE,
  state       TEXT NOT NULL,
  message     TEXT NOT NULL,
  at          INTEGER NOT NULL
);
CREATE INDEX task_run_states_task_run ON task_run_states (task_run_id, id);

-- No foreign key to flow_runs: a batch of log lines is never refused as a whole.
CREATE TABLE logs (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id    TEXT NOT NULL,
  task_name TEXT NOT NULL DEFAULT '',
  level     TEXT NOT NULL,
  message   TEXT NOT NULL,
  at        INTEGER NOT NULL
);
CREATE INDEX logs_run_seq ON logs (run_id, seq);

CREATE TABLE agents (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL,
  labels    TEXT NOT NULL,
  started   INTEGER NOT NULL,
  heartbeat INTEGER NOT NULL
);
)sql";

// ferry server: API keys (only their SHA-256 is kept) and the secret store (values sealed
// by the server before they get here).
constexpr const char* kServerTables = R"sql(
CREATE TABLE api_keys (
  id       INTEGER PRIMARY KEY,
  name     TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created  INTEGER NOT NULL,
  revoked  INTEGER
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked IS NULL;

CREATE TABLE secrets (
  name    TEXT PRIMARY KEY,
  value   TEXT NOT NULL,
  updated INTEGER NOT NULL
);
)sql";

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " applied_at INTEGER NOT NULL)";

// The newest applied version, or 0; -1 when schema_migrations does not exist yet.
int applied_version(Database& db) {
  {
    auto exists = db.prepare(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'");
    if (!exists.step()) return -1;
  }
  auto q = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  q.step();
  return q.int32(0);
}

bool is_applied(Database& db, int version) {
  auto q = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
  q.bind(1, version);
  return q.step();
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "initial schema", kInitialSchema},
      {2, "server API keys and secrets", kServerTables},
  };
  return list;
}

int latest_schema_version() { return migrations().back().version; }

int migrate(Database& db) {
  const int latest = latest_schema_version();
  // Fast path, without the write lock: everything is applied already.
  int current = 0;
  {
    Transaction read(db, Transaction::Mode::Deferred);
    current = applied_version(db);
    read.commit();
  }
  if (current > latest) {
    throw ferry::Error("SQLite database " + db.path() + " has schema version " +
                       std::to_string(current) + ", newer than this ferry knows (" +
                       std::to_string(latest) + "); use a newer ferry with it");
  }
  if (current == latest) return 0;

  int applied = 0;
  for (const Migration& m : migrations()) {
    Transaction tx(db);  // BEGIN IMMEDIATE: one process at a time past this point
    db.exec(kCreateMigrationsTable);
    if (is_applied(db, m.version)) {
      tx.commit();
      continue;
    }
    try {
      db.exec(m.sql);
    } catch (const DatabaseError& e) {
      throw DatabaseError(
          "migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + e.what(),
          e.code());
    }
    {
      auto insert =
          db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
      insert.bind(1, m.version).bind(2, util::now_ms()).run();
    }
    tx.commit();
    ++applied;
  }
  return applied;
}

}  // namespace ferry::backend::sqlite
