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

/// The claimed rows as the claim returns them (rows.hpp's kClaimedColumns),
/// without their tasks and dependency results.
[[nodiscard]] std::vector<ClaimedStep> claimed_from(const Rows& r, TimePoint now, TimePoint lease_end);

/// ` AND callable IN (...)` and the optional namespace and task conditions,
/// appending their parameters to `params`. At most four statement texts
/// result, each prepared once per connection.
[[nodiscard]] std::string work_filter_clause(const Dialect& dialect, const WorkFilter& filter,
                                             std::vector<Param>& params);

}  // namespace tasker::detail::sql
