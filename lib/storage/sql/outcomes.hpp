#pragma once
// Recording what happened to claimed steps: handler outcomes (fenced by claim
// token), and leases that expired (failed as worker_lost). Retry decisions
// come from tasker::decide_after_failure, the single retry rule.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/step_writes.hpp"
#include "tasker/store.hpp"

namespace tasker::detail::sql {

/// What one outcome does to the locked step `s` (still in progress under the
/// outcome's claim): the row's new values (returned; the caller writes them),
/// and its transition, events and counter changes (into `ch`). `reason` (when
/// not empty) replaces the error type as a failure's transition reason.
[[nodiscard]] StepUpdate outcome_update(Changes& ch, const LockedStep& s, const StepOutcome& o,
                                        const std::string& reason, TimePoint now);

/// Record `outcomes`; those whose claim is no longer current (a newer claim, a
/// reclaim, a cancel or a reset got there first) are appended to `discarded`.
/// `reason` (when not empty) replaces the error type as the transition reason.
void apply_outcomes(WriteTx& tx, const std::vector<StepOutcome>& outcomes, const std::string& reason,
                    std::vector<std::int64_t>& discarded);

/// Fail up to 100 steps whose lease expired as worker_lost (retried by their
/// policy; `jitter` randomises those retries). Returns how many.
std::size_t reclaim_expired(WriteTx& tx, bool jitter);

}  // namespace tasker::detail::sql
