#include <fmt/format.h>

#include <filesystem>

#include "base/log.hpp"
#include "storage/backends.hpp"
#include "storage/sql/sql_store.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"

namespace tasker {

namespace {

/// A plain file path (no URL scheme) names a SQLite database too: `tasker.db`,
/// `/var/lib/app/tasker.db`, `./data/x.db`.
bool is_plain_path(const std::string& url) {
  return !url.empty() && (url.find(':') == std::string::npos || url[0] == '/' || url[0] == '.');
}

std::shared_ptr<Store> open_sqlite(const std::string& url, std::string path, const std::string& query,
                                   const StoreOptions& options) {
  if (path.empty())
    throw ConfigurationError("database_url", url, "the sqlite URL names no file; use sqlite://tasker.db");
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (!options.create_if_missing && !std::filesystem::exists(path, ec))
    throw NotFoundError("database", url,
                        fmt::format("there is no file {}; check the URL, or open it with "
                                    "StoreOptions::create_if_missing to create a new database",
                                    absolute));
  auto store = detail::sql::make_sql_store(detail::make_sqlite_backend(absolute, query, options), options);
  detail::log().info("opened the SQLite database {}", absolute);
  return store;
}

}  // namespace

std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options) {
  if (url == "sqlite::memory:" || url == "sqlite://:memory:")
    return detail::sql::make_sql_store(detail::make_sqlite_backend(":memory:", "", options), options);
  if (url.rfind("sqlite://", 0) == 0 || is_plain_path(url)) {
    // sqlite:///abs -> "/abs", sqlite://rel -> "rel", a plain path as it is
    std::string rest = url.rfind("sqlite://", 0) == 0 ? url.substr(9) : url;
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) query = rest.substr(q + 1), rest.resize(q);
    return open_sqlite(url, rest, query, options);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return detail::sql::make_sql_store(detail::make_postgres_backend(url, options), options);
  throw ConfigurationError("database_url", url,
                           "unsupported database URL; use sqlite://path.db, sqlite:///abs/path.db, a file path, "
                           "sqlite::memory: or postgresql://user:pass@host:port/db");
}

}  // namespace tasker
