// TEMPORARY (not committed): replaced by the PostgreSQL backend.
#include "storage/backends.hpp"
#include "tasker/errors.hpp"
namespace tasker::detail {
std::unique_ptr<sql::Backend> make_postgres_backend(const std::string& url, const StoreOptions&) {
  throw ConfigurationError("database_url", url, "PostgreSQL backend not built yet");
}
}  // namespace tasker::detail
