#include <fmt/format.h>

#include <filesystem>

#include "base/log.hpp"
#include "storage/backends.hpp"
#include "storage/sql/sql_store.hpp"
#include "storage/sqlite/url.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"

namespace tasker {

namespace {

std::shared_ptr<Store> open_sqlite(const std::string& url, const detail::sqlite::Target& target,
                                   const StoreOptions& options) {
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(target.path, ec).lexically_normal().string();
  if (!options.create_if_missing && !std::filesystem::exists(target.path, ec))
    throw NotFoundError("database", url,
                        fmt::format("there is no file {}; check the URL, or open it with "
                                    "StoreOptions::create_if_missing to create a new database",
                                    absolute));
  auto store = detail::sql::make_sql_store(detail::make_sqlite_backend({absolute, target.query}, options), options);
  detail::log().info("opened the SQLite database {}", absolute);
  return store;
}

}  // namespace

std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options) {
  if (auto target = detail::sqlite::parse_url(url)) {
    if (target->path == ":memory:")
      return detail::sql::make_sql_store(detail::make_sqlite_backend(*target, options), options);
    return open_sqlite(url, *target, options);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return detail::sql::make_sql_store(detail::make_postgres_backend(url, options), options);
  throw ConfigurationError("database_url", url,
                           "unsupported database URL; use sqlite://path.db, sqlite:///abs/path.db, a file path, "
                           "sqlite::memory: or postgresql://user:pass@host:port/db");
}

}  // namespace tasker
