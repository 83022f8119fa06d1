#include "backend/postgres_migrations.hpp"

#include <pqxx/pqxx>

#include "backend/backend_util.hpp"
#include "ferry/error.hpp"

namespace ferry::backend::postgres {

namespace {

// flow_runs.seq orders runs created in the same millisecond, as rowid does in SQLite.
constexpr const char* kInitialSchema = R"sql(
CREATE TABLE projects (
  id      BIGSERIAL PRIMARY KEY,
  name    TEXT NOT NULL UNIQUE,
  created BIGINT NOT NULL
);

CREATE TABLE flows (
  id         BIGSERIAL PRIMARY KEY,
  project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  created    BIGINT NOT NULL,
  UNIQUE (project_id, name)
);

CREATE TABLE flow_versions (
  id              BIGSERIAL PRIMARY KEY,
  flow_id         BIGINT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
  version         INTEGER NOT NULL,
  graph           TEXT NOT NULL,
  run_config      TEXT NOT NULL,
  labels          TEXT NOT NULL,
  storage         TEXT NOT NULL,
  result          TEXT NOT NULL,
  idempotency_key TEXT NOT NULL DEFAULT '',
  created         BIGINT NOT NULL,
  UNIQUE (flow_id, version)
);

CREATE TABLE flow_runs (
  id              TEXT PRIMARY KEY,
  seq             BIGSERIAL NOT NULL,
  flow_version_id BIGINT NOT NULL REFERENCES flow_versions(id) ON DELETE CASCADE,
  parameters      TEXT NOT NULL,
  labels          TEXT NOT NULL,
  state           TEXT NOT NULL,
  message         TEXT NOT NULL DEFAULT '',
  agent_id        TEXT NOT NULL DEFAULT '',
  result          TEXT NOT NULL DEFAULT 'null',
  pinned          TEXT NOT NULL DEFAULT 'null',
  created         BIGINT NOT NULL,
  updated         BIGINT NOT NULL,
  heartbeat       BIGINT
);
CREATE INDEX flow_runs_state_created ON flow_runs (state, created, seq);
CREATE INDEX flow_runs_created ON flow_runs (created, seq);
CREATE INDEX flow_runs_flow_version ON flow_runs (flow_version_id);

CREATE TABLE flow_run_states (
  id      BIGSERIAL PRIMARY KEY,
  run_id  TEXT NOT NULL REFERENCES flow_runs(id) ON DELETE CASCADE,
  state   TEXT NOT NULL,
  message TEXT NOT NULL,
  at      BIGINT NOT NULL
);
CREATE INDEX flow_run_states_run ON flow_run_states (run_id, id);

CREATE TABLE task_runs (
  id              BIGSERIAL PRIMARY KEY,
  run_id          TEXT NOT NULL REFERENCES flow_runs(id) ON DELETE CASCADE,
  task_name       TEXT NOT NULL,
  state           TEXT NOT NULL,
  message         TEXT NOT NULL DEFAULT '',
  attempts        INTEGER NOT NULL DEFAULT 0,
  result_location TEXT NOT NULL DEFAULT '',
  created         BIGINT NOT NULL,
  updated         BIGINT NOT NULL,
  UNIQUE (run_id, task_name)
);

CREATE TABLE task_run_states (
  id          BIGSERIAL PRIMARY KEY,
  task_run_id BIGINT NOT NULL REFERENCES task_runs(id) ON DELETE CASCADE,
  state       TEXT NOT NULL,
  message     TEXT NOT NULL,
  at          BIGINT NOT NULL
);
CREATE INDEX task_run_states_task_run ON task_run_states (task_run_id, id);

-- No foreign key to flow_runs: a batch of log lines is never refused as a whole.
CREATE TABLE logs (
  seq       BIGSERIAL PRIMARY KEY,
  run_id    TEXT NOT NULL,
  task_name TEXT NOT NULL DEFAULT '',
  level     TEXT NOT NULL,
  message   TEXT NOT NULL,
  at        BIGINT NOT NULL
);
CREATE INDEX logs_run_seq ON logs (run_id, seq);

CREATE TABLE agents (
  id        TEXT PRIMARY KEY,
  name      TEXT NOT NULL,
  labels    TEXT NOT NULL,
  started   BIGINT NOT NULL,
  heartbeat BIGINT NOT NULL
);
)sql";

// Revoked keys stay listed; only one unrevoked key per name, which the partial unique index
// enforces even between servers adding the same name at once.
constexpr const char* kServerTables = R"sql(
CREATE TABLE api_keys (
  id       BIGSERIAL PRIMARY KEY,
  name     TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created  BIGINT NOT NULL,
  revoked  BIGINT
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked IS NULL;

CREATE TABLE secrets (
  name    TEXT PRIMARY KEY,
  value   TEXT NOT NULL,
  updated BIGINT NOT NULL
);
)sql";

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " applied_at BIGINT NOT NULL)";

// The newest applied version, or 0 when schema_migrations does not exist yet.
int applied_version(pqxx::transaction_base& tx) {
  auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return 0;
  return tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
}

void refuse_newer(int current, const std::string& where) {
  const int latest = latest_schema_version();
  if (current > latest) {
    throw ferry::Error("PostgreSQL database " + where + " has schema version " +
                       std::to_string(current) + ", newer than this ferry knows (" +
                       std::to_string(latest) + "); use a newer ferry with it");
  }
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "initial schema", kInitialSchema},
      {2, "api keys and secrets", kServerTables},
  };
  return list;
}

int latest_schema_version() { return migrations().back().version; }

int migrate(pqxx::connection_base& connection, const std::string& where) {
  // Fast path, without the lock: everything is applied already.
  {
    pqxx::read_transaction read(connection);
    const int current = applied_version(read);
    refuse_newer(current, where);
    if (current == latest_schema_version()) return 0;
  }
  pqxx::work tx(connection);
  // One migrating server at a time; the others wait here and then find nothing to do.
  tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")");
  tx.exec(kCreateMigrationsTable);
  const int current = applied_version(tx);
  refuse_newer(current, where);
  int applied = 0;
  for (const Migration& m : migrations()) {
    if (m.version <= current) continue;
    try {
      tx.exec(m.sql);
    } catch (const pqxx::sql_error& e) {
      throw ferry::Error("PostgreSQL database " + where + ": migration " +
                         std::to_string(m.version) + " (" + m.name + ") failed: " + e.what());
    }
    tx.exec_params("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", m.version,
                   util::now_ms());
    ++applied;
  }
  tx.commit();
  return applied;
}

}  // namespace ferry::backend::postgres
