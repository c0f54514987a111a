#pragma once
// The schema, as one ordered list of migrations shared by every backend:
// `{id}` and `{json}` are replaced by the dialect's type names, so SQLite and
// PostgreSQL cannot drift apart.
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"

namespace tasker::detail::sql {

struct Migration {
  int version;
  std::string description;
  std::string sql;  ///< with {id} and {json} placeholders
  /// A dialect name when the migration is for that backend only (server
  /// functions); elsewhere it is recorded as applied and runs nothing, so the
  /// versions stay the same on every backend.
  std::string only_on{};
};

[[nodiscard]] const std::vector<Migration>& migrations();

/// The migration that installs the server functions.
inline constexpr int kServerFunctionsVersion = 4;
/// Migration 4's table of cross-process waiters, tasker_task_watchers (server_functions.cpp).
[[nodiscard]] const char* postgres_task_watchers();
/// tasker_submit and tasker_exchange as this build writes them (CREATE OR
/// REPLACE): migration 4 installs them and each later migration that changes
/// them runs the same text again, so a database at any version ends up with
/// the current functions and the text exists once.
[[nodiscard]] const char* postgres_server_functions();

/// Apply every migration newer than the database's version, each in its own
/// transaction, under the backend's migration lock. Safe when many processes
/// start at once. Throws StorageError when the database is newer than this build.
void migrate(Backend& backend, Connection& connection);

/// The schema version of the database (0 when empty).
[[nodiscard]] int schema_version(Connection& connection);

}  // namespace tasker::detail::sql
