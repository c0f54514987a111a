#include <fmt/format.h>

#include <filesystem>

#include "storage/backends.hpp"
#include "storage/sql/sql_store.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"

namespace tasker {

StoreOptions StoreOptions::from(const Config& config) {
  StoreOptions o;
  o.pool_size = config.pool_size;
  o.busy_timeout_ms = config.busy_timeout_ms;
  o.jitter = config.worker.jitter;
  o.listen = config.worker.event_mode != EventMode::polling_only;  // a polling worker needs no LISTEN connection
  return o;
}

std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options) {
  if (url == "sqlite::memory:" || url == "sqlite://:memory:")
    return detail::sql::make_sql_store(detail::make_sqlite_backend(":memory:", "", options), options);
  if (url.rfind("sqlite://", 0) == 0) {
    std::string rest = url.substr(9);  // sqlite:///abs -> "/abs", sqlite://rel -> "rel"
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) query = rest.substr(q + 1), rest.resize(q);
    if (rest.empty())
      throw ConfigurationError("database_url", url, "the sqlite URL names no file; use sqlite://tasker.db");
    std::error_code ec;
    if (!options.create_if_missing && rest != ":memory:" && !std::filesystem::exists(rest, ec))
      throw NotFoundError("database", url,
                          fmt::format("there is no file {}; check the URL (a new database is created by "
                                      "`tasker migrate --db {}`)",
                                      std::filesystem::absolute(rest, ec).string(), url));
    return detail::sql::make_sql_store(detail::make_sqlite_backend(rest, query, options), options);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return detail::sql::make_sql_store(detail::make_postgres_backend(url, options), options);
  throw ConfigurationError("database_url", url,
                           "unsupported database URL; use sqlite://path.db, sqlite:///abs/path.db, sqlite::memory: "
                           "or postgresql://user:pass@host:port/db");
}

}  // namespace tasker
