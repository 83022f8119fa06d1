// Versioned schema migrations of the embedded backend's database.
//
// Each migration is a SQL script with a version number; schema_migrations(version,
// applied_at) records those applied. migrate() applies the missing ones in order, each in
// its own BEGIN IMMEDIATE transaction that first re-checks the table, so several processes
// opening one new database at once apply each migration exactly once. Migrations are only
// ever appended: a released one is never edited.
#pragma once

#include <vector>

#include "backend/sqlite_db.hpp"

namespace ferry::backend::sqlite {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Every migration, in increasing version order.
const std::vector<Migration>& migrations();

// The version of the newest migration this build knows.
int latest_schema_version();

// Applies the migrations the database lacks; returns how many this call applied. Throws
// ferry::Error when the database's schema is newer than this build knows.
int migrate(Database& db);

}  // namespace ferry::backend::sqlite
