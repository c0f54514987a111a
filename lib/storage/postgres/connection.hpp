#pragma once
// A connection to PostgreSQL as the shared SQL store uses one (sql::Connection):
// statements prepared once per connection, transactions, and libpqxx's
// exceptions classified into tasker's storage errors. Apart from the backend
// (postgres_backend.cpp), which adds the dialect, migrations, NOTIFY and LISTEN.
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <unordered_map>

#include "base/log.hpp"
#include "storage/postgres/url.hpp"
#include "storage/sql/connection.hpp"

namespace tasker::detail::postgres {

/// `name` as a quoted SQL identifier.
[[nodiscard]] std::string quote_ident(const std::string& name);

/// Whitespace runs (libpq's messages have newlines and tabs) become one space.
[[nodiscard]] std::string one_line(const std::string& s);

/// Server notices (and libpqxx's warnings) go to the log, not to stderr.
class LogNotices final : public pqxx::errorhandler {
 public:
  using pqxx::errorhandler::errorhandler;
  bool operator()(const char msg[]) noexcept override {
    try {
      detail::log().debug("PostgreSQL: {}", one_line(msg));
    } catch (...) {
    }
    return false;
  }
};

/// Open a libpqxx connection; failures become StorageError (or
/// ConfigurationError when libpq rejects the URL) naming the server and a fix.
[[nodiscard]] std::unique_ptr<pqxx::connection> open_connection(const Target& target);

/// The server process ids of a store's own pool connections: the listener
/// ignores their notifications, since the store already woke its own workers
/// when it committed.
class OwnSessions {
 public:
  void add(int pid) {
    std::lock_guard lock(mutex_);
    ++pids_[pid];
  }
  void remove(int pid) {
    std::lock_guard lock(mutex_);
    if (auto it = pids_.find(pid); it != pids_.end() && --it->second == 0) pids_.erase(it);
  }
  bool contains(int pid) const {
    std::lock_guard lock(mutex_);
    return pids_.count(pid) != 0;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<int, int> pids_;
};

/// A connection of a store's pool to `target` (which must outlive it), its
/// session listed in `sessions` while it is open.
[[nodiscard]] std::unique_ptr<sql::Connection> make_connection(const Target& target,
                                                               std::shared_ptr<OwnSessions> sessions);

}  // namespace tasker::detail::postgres
