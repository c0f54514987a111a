#pragma once
// The SQL files embedded in the library at build time (cmake/embed_files.cmake):
// the schema's numbered migrations (migrations/NNNN_name[.DIALECT].sql) and
// the PostgreSQL server functions they install (functions/NAME_vN.sql).
#include <span>
#include <string_view>

namespace tasker::detail::sql {

struct SqlFile {
  std::string_view path;  ///< relative to lib/storage/sql, e.g. "migrations/0001_tasks.sql"
  std::string_view text;
};

/// Every embedded file, sorted by path.
[[nodiscard]] std::span<const SqlFile> sql_files();
/// The text of one file; std::out_of_range naming it when it is not embedded.
[[nodiscard]] std::string_view sql_file(std::string_view path);

}  // namespace tasker::detail::sql
