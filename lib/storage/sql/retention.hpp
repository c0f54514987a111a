#pragma once
// Purging finished tasks and importing archived ones (docs/retention.md), in
// the caller's transaction. A purge selects task rows by state and completion
// time (migration 10's index), locking them with SKIP LOCKED on PostgreSQL so
// it never waits on a worker, and deletes each task's rows set-based: edges,
// transitions, signals, watchers and steps, then the tasks.
#include <cstdint>
#include <vector>

#include "storage/sql/connection.hpp"
#include "tasker/retention.hpp"

namespace tasker::detail::sql {

[[nodiscard]] std::size_t count_purgeable(Connection& c, const Dialect& d, const PurgeSelection& selection);
/// The ids of up to `limit` tasks of `selection`, locked (rows another transaction holds are skipped).
[[nodiscard]] std::vector<std::int64_t> lock_purgeable(Connection& c, const Dialect& d, const PurgeSelection& selection,
                                                       int limit);
/// The archive records of the tasks `ids` (model/archive_format.hpp), in id order.
[[nodiscard]] std::vector<json> archive_records(Connection& c, const Dialect& d, const std::vector<std::int64_t>& ids);
/// Delete the tasks `ids` and every row that names them; `watchers`: the
/// database has tasker_task_watchers (PostgreSQL from migration 4).
void delete_tasks(Connection& c, const Dialect& d, const std::vector<std::int64_t>& ids, bool watchers);
/// Insert archived tasks with new ids, skipping those whose uuid exists; an
/// identity hash another task holds now is left out of the imported row.
ImportResult import_records(Connection& c, const Dialect& d, const std::vector<json>& records);

}  // namespace tasker::detail::sql
