#pragma once
// The Store implemented once in SQL for every backend (docs/design.md: the state
// machine must not drift between SQLite and PostgreSQL).
#include <memory>

#include "storage/sql/connection.hpp"
#include "tasker/store.hpp"

namespace tasker::detail::sql {

/// A Store over `backend`; applies migrations when options.migrate is set.
[[nodiscard]] std::shared_ptr<Store> make_sql_store(std::unique_ptr<Backend> backend, const StoreOptions& options);

}  // namespace tasker::detail::sql
