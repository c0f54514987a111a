#pragma once
// The schema: numbered migrations, SQL files embedded at build time
// (migrations/NNNN_name.sql for every backend, NNNN_name.DIALECT.sql for one;
// sql_files.hpp), applied in order, each in its own transaction. A migration
// is frozen once released: the SHA-256 of its SQL is recorded when it is
// applied and compared at every open, and migrations/CHECKSUMS pins the
// released ones in the test suite.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"

namespace tasker::detail::sql {

struct Migration {
  int version{0};
  std::string description;  ///< the file's first line, after "-- tasker migration N: "
  std::string sql;          ///< for every backend (may be empty), placeholders of state_sql.hpp filled
  /// SQL for one backend only, by dialect name (server functions); elsewhere
  /// nothing runs for it, but the migration is recorded, so versions agree.
  std::map<std::string, std::string> dialect_sql;
  std::string checksum;  ///< SHA-256 (hex) of the SQL above, before {id}/{json} are replaced
};

[[nodiscard]] const std::vector<Migration>& migrations();

/// The migration that installs the server functions this build calls
/// (tasker_submit_v3 of migration 7, tasker_exchange_v2 of migration 6; one_call.cpp).
inline constexpr int kServerFunctionsVersion = 7;
/// The migration that installs tasker_signal_v1: below it, signals take the statements path.
inline constexpr int kSignalFunctionVersion = 11;
/// The migration from which tasker_schema_migrations records checksums.
inline constexpr int kChecksumsVersion = 6;

/// Apply every migration newer than the database's version, each in its own
/// transaction, under the backend's migration lock, then compare the recorded
/// checksums with this build's. Safe when many processes start at once. Throws
/// StorageError when the database is newer than this build or applied a
/// migration whose SQL differs from this build's (naming it).
void migrate(Backend& backend, Connection& connection);

/// The schema version of the database (0 when empty).
[[nodiscard]] int schema_version(Connection& connection);

}  // namespace tasker::detail::sql
