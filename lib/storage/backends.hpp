#pragma once
// Factories of the concrete backends, used only by open_store.
#include <memory>
#include <string>

#include "storage/sql/connection.hpp"
#include "storage/sqlite/url.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

/// A parsed `sqlite://` URL (storage/sqlite/url.hpp); its options may set synchronous=normal|full.
[[nodiscard]] std::unique_ptr<sql::Backend> make_sqlite_backend(const sqlite::Target& target,
                                                                const StoreOptions& options);

/// A `postgresql://` URL (the `schema` query option selects a schema, created if missing).
[[nodiscard]] std::unique_ptr<sql::Backend> make_postgres_backend(const std::string& url, const StoreOptions& options);

}  // namespace tasker::detail
