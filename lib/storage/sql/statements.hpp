#pragma once
// The SQL text of every statement the store runs, built once per store from
// the backend's dialect. Each text is prepared once per connection.
#include <string>

#include "storage/sql/connection.hpp"

namespace tasker::detail::sql {

/// The task columns task_from_row() reads, in its order.
inline constexpr const char* kTaskColumns =
    "id, uuid, namespace_name, name, version, state, context, initiator, source_system, reason, tags, priority, "
    "correlation_id, idempotency_key, identity_hash, bypassed_steps, created_at, updated_at, completed_at, "
    "total_steps, run_at";
/// The step columns locked_from() reads, in its order.
inline constexpr const char* kLockedStepColumns =
    "id, task_id, claim_token, state, attempts, max_attempts, retryable, backoff, backoff_base_ms, max_backoff_ms, "
    "name, worker_id, step_type, batch_id, template_step";
/// The step columns (and the task's uuid) step_from_row() reads, in its order.
inline constexpr const char* kStepColumns =
    "s.id, s.uuid, s.name, s.callable, s.state, s.dependencies, s.attempts, s.max_attempts, s.retryable, "
    "s.backoff, s.backoff_base_ms, s.max_backoff_ms, s.timeout_seconds, s.results, s.error, s.worker_id, "
    "s.created_at, s.last_attempted_at, s.completed_at, s.claimable_at, s.lease_expires_at, t.uuid, s.step_type, "
    "s.template_step, s.checkpoint, s.wake_at";
/// After kStepColumns: a signal step's initialization (its SignalSpec), NULL for the others.
inline constexpr const char* kSignalSpecColumn = "CASE WHEN s.callable = '{}' THEN s.initialization END";

struct Statements {
  std::string insert_task, task_by_identity, insert_steps, insert_edges, insert_transitions;
  std::string lock_steps, update_steps, lock_children, advance_children, lock_tasks, update_tasks;
  std::string select_expired, claim_update, claim_tasks, claim_dependency_results, claim_ancestor_results;
  std::string renew_leases, save_checkpoints, step_result;
  std::string task_definition, step_names_of_task, release_slot, unstarted_batch_steps, set_child_results;
  std::string task_by_uuid, step_counts, steps_of_task, transitions_of_task, transitions_of_step;
  std::string task_id_by_uuid, step_by_name, unfinished_steps_of_task;
  /// Rerunning a step (operator_actions.hpp): every step that depends on it, however far down; the rerun
  /// steps' retry budgets, their pending parents among themselves, and what their last runs left.
  std::string descendants_of_step, rerun_steps;
  /// tasker_task_watchers (PostgreSQL, migration 4; watchers.hpp).
  std::string add_watch, remove_watch, watched_tasks;
};

[[nodiscard]] Statements make_statements(const Dialect& d);

}  // namespace tasker::detail::sql
