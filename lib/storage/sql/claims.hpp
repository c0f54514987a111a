#pragma once
// Claiming steps: the claimable rows a worker's filter admits, in priority and
// readiness order (SKIP LOCKED on PostgreSQL), set in_progress under a new
// claim token and lease, with their tasks' contexts and their parents' results.
#include <string>
#include <vector>

#include "storage/sql/changes.hpp"
#include "tasker/store.hpp"

namespace tasker::detail::sql {

[[nodiscard]] std::vector<ClaimedStep> claim_steps(WriteTx& tx, const ClaimRequest& request);

/// The claimed rows as the claim's UPDATE ... RETURNING gives them (columns
/// 0 to 16: id, task_id, uuid, name, callable, initialization, attempts,
/// claim_token, the five retry columns, timeout_seconds, step_type,
/// checkpoint, error), without their tasks and dependency results.
[[nodiscard]] std::vector<ClaimedStep> claimed_from(const Rows& r, TimePoint now, TimePoint lease_end);

/// A claimed step's event (step_started: attempt, worker).
void record_started(Changes& ch, std::int64_t task_id, const ClaimedStep& s, const std::string& worker_id);

/// ` AND callable IN (...)` and the optional namespace and task conditions,
/// appending their parameters to `params`. At most four statement texts
/// result, each prepared once per connection.
[[nodiscard]] std::string work_filter_clause(const Dialect& dialect, const WorkFilter& filter,
                                             std::vector<Param>& params);

}  // namespace tasker::detail::sql
