#pragma once
// Factories of the concrete backends, used only by open_store.
#include <memory>
#include <string>

#include "storage/sql/connection.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

/// `path` is a file path or ":memory:"; `query` holds URL options (synchronous=normal|full).
[[nodiscard]] std::unique_ptr<sql::Backend> make_sqlite_backend(const std::string& path, const std::string& query,
                                                                const StoreOptions& options);

/// A `postgresql://` URL (the `schema` query option selects a schema, created if missing).
[[nodiscard]] std::unique_ptr<sql::Backend> make_postgres_backend(const std::string& url, const StoreOptions& options);

}  // namespace tasker::detail
