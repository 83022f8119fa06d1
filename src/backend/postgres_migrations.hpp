// Versioned schema migrations of the PostgreSQL backend's database.
//
// The same tables as the SQLite schema (timestamps as BIGINT milliseconds, JSON as TEXT so
// values round-trip exactly, states by name), plus the api_keys and secrets of `ferry
// server`. schema_migrations(version, applied_at) records what is applied. Several servers
// may start on one new database at once: migrate() applies the missing migrations in one
// transaction that first takes a transaction-scoped advisory lock and re-reads
// schema_migrations, so each migration is applied exactly once. Migrations are only ever
// appended: a released one is never edited.
#pragma once

#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace ferry::backend::postgres {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every migration, in increasing version order.
const std::vector<Migration>& migrations();

// The version of the newest migration this build knows.
int latest_schema_version();

// The key of the advisory lock migrations hold (pg_advisory_xact_lock).
inline constexpr long long kMigrationLockKey = 0x6665727279'6d6967LL;  // "ferrymig"

// Applies the migrations the database lacks; returns how many this call applied. Throws
// ferry::Error (naming `where`) when the database's schema is newer than this build knows;
// pqxx exceptions pass through.
int migrate(pqxx::connection_base& connection, const std::string& where);

}  // namespace ferry::backend::postgres
