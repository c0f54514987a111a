#pragma once
// Changing step rows inside a write transaction: locking them (by id, the lock
// order), writing new states set-based, and advancing the children of steps
// that became satisfied. Shared by outcomes, reclaims and operator actions.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/rows.hpp"
#include "tasker/json.hpp"
#include "tasker/retry.hpp"
#include "tasker/states.hpp"
#include "tasker/template.hpp"

namespace tasker::detail::sql {

/// A locked step row, as outcome processing and operator actions need it.
struct LockedStep {
  std::int64_t id, task_id, claim_token;
  StepState state;
  int attempts;
  RetryPolicy retry;
  std::string name;
  std::string worker_id;
  StepType type{StepType::standard};
  std::optional<std::int64_t> batch_id;  ///< a batch instance: the batchable step that created it
  std::string template_step;             ///< a batch instance: its batch_worker step
};

/// Write every update in one statement.
void apply_updates(WriteTx& tx, const std::vector<StepUpdate>& updates);
/// Lock the rows of `ids` (FOR UPDATE on PostgreSQL), in id order.
[[nodiscard]] std::vector<LockedStep> lock_steps(WriteTx& tx, const std::vector<std::int64_t>& ids);
/// Lock one step of a task by name; NotFoundError when the task has no such step.
[[nodiscard]] LockedStep lock_step_by_name(WriteTx& tx, std::int64_t task_id, const std::string& task_uuid,
                                           const std::string& step_name);
/// Decrement the pending-parent counts of the children of newly satisfied
/// steps and enqueue those that reach zero: O(edges), never a task rescan.
void advance_children(WriteTx& tx, const std::vector<std::int64_t>& satisfied);

}  // namespace tasker::detail::sql
