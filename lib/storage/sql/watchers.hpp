#pragma once
// Task watchers (PostgreSQL, migration 4's tasker_task_watchers): the tasks a
// process waits for, so that a commit finishing a task NOTIFYs only when
// someone in another process listens for it. PostgreSQL makes every notifying
// commit wait for the one before it (a lock per database, held from the commit
// until its flush), so announcing every finished task serialised the commits
// of all workers; in-process waiters hear of every end without a NOTIFY.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"
#include "storage/sql/statements.hpp"
#include "storage/sql/transaction.hpp"
#include "tasker/clock.hpp"

namespace tasker::detail::sql {

/// Adds and removes a store's rows of tasker_task_watchers. Handles may outlive
/// the store: after close() they remove nothing (their rows expire).
class Watchers : public std::enable_shared_from_this<Watchers> {
 public:
  Watchers(Runner& runner, const Statements& sql)
      : runner_(&runner), add_sql_(sql.add_watch), remove_sql_(sql.remove_watch) {}

  /// Watch `task_uuid` until `until` (and drop every watch already past its
  /// end); destroying the handle removes the watch.
  [[nodiscard]] std::shared_ptr<void> watch(const std::string& task_uuid, TimePoint until, TimePoint now);
  /// The store is going away.
  void close();

 private:
  void remove(const std::string& task_uuid, const std::string& watcher) noexcept;

  std::mutex mutex_;
  Runner* runner_;
  std::string add_sql_, remove_sql_;  // copies: the handles may outlive the store's Statements
};

/// Of `finished` (task uuids), those watched at `now`: the ends to announce.
[[nodiscard]] std::vector<std::string> watched_tasks(Connection& c, const Statements& sql,
                                                     const std::vector<std::string>& finished, TimePoint now);

}  // namespace tasker::detail::sql
