#include "storage/sql/statements.hpp"

#include <fmt/format.h>

#include "storage/sql/rows.hpp"
#include "storage/sql/state_sql.hpp"
#include "tasker/template.hpp"

#include <utility>
#include <vector>

namespace tasker::detail::sql {

namespace {
using Columns = std::vector<std::pair<std::string, ColumnType>>;
constexpr ColumnType kInt = ColumnType::integer;
constexpr ColumnType kText = ColumnType::text;
constexpr ColumnType kJson = ColumnType::json;
}  // namespace

Statements make_statements(const Dialect& d) {
  Statements s;
  auto rows = [&](int param, const Columns& cols) { return d.json_rows(param, cols, "x"); };
  auto in_ids = [&](const std::string& column, int param) { return d.in_list(column, param, kInt); };

  s.insert_task =
      "INSERT INTO tasker_tasks (uuid, namespace_name, name, version, state, context, initiator, source_system, "
      "reason, tags, priority, correlation_id, idempotency_key, identity_hash, bypassed_steps, total_steps, "
      "active_steps, created_at, updated_at, completed_at, definition, run_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
      "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19, $20, $21) ON CONFLICT (identity_hash) DO NOTHING "
      "RETURNING id";
  s.task_by_identity = "SELECT uuid FROM tasker_tasks WHERE identity_hash = $1";
  s.insert_steps = fmt::format(
      "INSERT INTO tasker_steps (task_id, namespace_name, priority, created_at, updated_at, {}) "
      "SELECT $2, $3, $4, $5, $5, {} FROM {} RETURNING id, position",
      column_list(kNewStepColumns), column_list(kNewStepColumns, "x"), rows_of(d, 1, kNewStepColumns, "x"));
  s.insert_edges =
      fmt::format("INSERT INTO tasker_step_edges (parent_id, child_id) SELECT x.parent_id, x.child_id FROM {}",
                  rows(1, {{"parent_id", kInt}, {"child_id", kInt}}));
  s.insert_transitions = fmt::format(
      "INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt, "
      "payload) "
      "SELECT x.task_id, x.step_id, x.from_state, x.to_state, $2, x.worker_id, x.reason, x.attempt, x.payload FROM {} "
      "ORDER BY x.seq",
      rows(1, {{"seq", kInt},
               {"task_id", kInt},
               {"step_id", kInt},
               {"from_state", kText},
               {"to_state", kText},
               {"worker_id", kText},
               {"reason", kText},
               {"attempt", kInt},
               {"payload", kJson}}));

  s.lock_steps = fmt::format("SELECT {} FROM tasker_steps WHERE {} ORDER BY id{}", kLockedStepColumns, in_ids("id", 1),
                             d.for_update);
  s.update_steps = fmt::format(
      "UPDATE tasker_steps SET state = x.new_state, "
      "results = CASE WHEN x.set_results = 1 THEN x.new_results ELSE results END, "
      "error = CASE WHEN x.set_error = 1 THEN x.new_error ELSE error END, "
      "attempts = attempts + x.attempts_delta, claimable_at = x.new_claimable_at, "
      "completed_at = x.new_completed_at, lease_expires_at = NULL, wake_at = NULL, updated_at = $2 "
      "FROM {} WHERE tasker_steps.id = x.id",
      rows_of(d, 1, kStepUpdateColumns, "x"));
  s.lock_children = d.for_update.empty() ? std::string{}
                                         : fmt::format(
                                               "SELECT id FROM tasker_steps WHERE id IN (SELECT child_id FROM "
                                               "tasker_step_edges WHERE {}) ORDER BY id{}",
                                               in_ids("parent_id", 1), d.for_update);
  const StepMoveRule& met = rule_of(StepMove::dependencies_met);
  s.advance_children = fmt::format(
      "UPDATE tasker_steps SET pending_parents = pending_parents - c.n, "
      "state = CASE WHEN {0} AND pending_parents - c.n <= 0 THEN {1} ELSE state END, "
      "claimable_at = CASE WHEN {0} AND pending_parents - c.n <= 0 THEN CAST($2 AS BIGINT) "
      "ELSE claimable_at END, updated_at = $2 "
      "FROM (SELECT child_id, COUNT(*) AS n FROM tasker_step_edges WHERE {2} GROUP BY child_id) AS c "
      "WHERE tasker_steps.id = c.child_id "
      "RETURNING tasker_steps.id, tasker_steps.task_id, tasker_steps.name, tasker_steps.state, "
      "tasker_steps.pending_parents",
      in_states("state", met.from), literal(met.to), in_ids("parent_id", 1));
  // Adding and removing a watch: one statement each, idempotent (a repeat after a lost answer changes nothing).
  s.add_watch =
      "WITH expired AS (DELETE FROM tasker_task_watchers WHERE expires_at <= $4) "
      "INSERT INTO tasker_task_watchers (task_id, watcher, expires_at) "
      "SELECT id, $2, $3 FROM tasker_tasks WHERE uuid = $1 ON CONFLICT DO NOTHING";
  s.remove_watch =
      "DELETE FROM tasker_task_watchers WHERE task_id = (SELECT id FROM tasker_tasks WHERE uuid = $1) "
      "AND watcher = $2";
  s.watched_tasks = fmt::format(
      "SELECT t.uuid FROM tasker_tasks t WHERE {} AND EXISTS (SELECT 1 FROM tasker_task_watchers w "
      "WHERE w.task_id = t.id AND w.expires_at > $2)",
      d.in_list("t.uuid", 1, ColumnType::text));
  s.lock_tasks = fmt::format(
      "SELECT id, uuid, state, total_steps, completed_steps, resolved_steps, failed_steps, active_steps "
      "FROM tasker_tasks WHERE {} ORDER BY id{}",
      in_ids("id", 1), d.for_update);
  s.update_tasks = fmt::format(
      "UPDATE tasker_tasks SET state = x.new_state, total_steps = x.total, completed_steps = x.completed, "
      "resolved_steps = x.resolved, failed_steps = x.failed, active_steps = x.active, "
      "completed_at = x.new_completed_at, updated_at = $2 FROM {} WHERE tasker_tasks.id = x.id",
      rows(1, {{"id", kInt},
               {"new_state", kText},
               {"total", kInt},
               {"completed", kInt},
               {"resolved", kInt},
               {"failed", kInt},
               {"active", kInt},
               {"new_completed_at", kInt}}));

  const std::string holds_worker = in_states("state", step_sets::kHoldsWorker);
  s.select_expired = fmt::format(
      "SELECT id, claim_token FROM tasker_steps WHERE {} AND lease_expires_at < $1 "
      "ORDER BY lease_expires_at, id LIMIT $2{}",
      holds_worker, d.skip_locked);
  s.claim_update = fmt::format(
      "UPDATE tasker_steps SET state = {}, attempts = attempts + 1, claim_token = claim_token + 1, "
      "worker_id = $2, lease_expires_at = $3, last_attempted_at = $4, claimable_at = NULL, updated_at = $4 "
      "WHERE {} RETURNING {}",
      literal(target_of(StepMove::claimed)), in_ids("id", 1), column_list(kClaimedColumns));
  s.claim_tasks =
      fmt::format("SELECT id, {} FROM tasker_tasks WHERE {}", column_list(kClaimedTaskColumns), in_ids("id", 1));
  s.claim_dependency_results = fmt::format(
      "SELECT e.child_id, p.name, COALESCE(p.child_results, p.results) FROM tasker_step_edges e "
      "JOIN tasker_steps p ON p.id = e.parent_id "
      "WHERE {}",
      in_ids("e.child_id", 1));
  // A convergence step reads every ancestor's result (tasker-core's contract): its own
  // ancestors only, once each, whatever the fan-in.
  s.claim_ancestor_results = fmt::format(
      "WITH RECURSIVE ancestors(child, id) AS (SELECT e.child_id, e.parent_id FROM tasker_step_edges e WHERE {} "
      "UNION SELECT a.child, e.parent_id FROM tasker_step_edges e JOIN ancestors a ON e.child_id = a.id) "
      "SELECT a.child, p.name, p.results FROM ancestors a JOIN tasker_steps p ON p.id = a.id",
      in_ids("e.child_id", 1));
  s.renew_leases = fmt::format(
      "UPDATE tasker_steps SET lease_expires_at = $2 FROM {} WHERE tasker_steps.id = x.id "
      "AND tasker_steps.claim_token = x.token AND {} RETURNING tasker_steps.id",
      rows(1, {{"id", kInt}, {"token", kInt}}), in_states("tasker_steps.state", step_sets::kHoldsWorker));

  s.task_by_uuid = fmt::format("SELECT {} FROM tasker_tasks WHERE uuid = $1", kTaskColumns);
  s.step_counts = fmt::format(
      "SELECT task_id, state, COUNT(*), SUM(CASE WHEN claimable_at <= $2 THEN 1 ELSE 0 END) FROM tasker_steps "
      "WHERE {} GROUP BY task_id, state",
      in_ids("task_id", 1));
  s.steps_of_task = fmt::format(
      "SELECT {}, {} FROM tasker_steps s JOIN tasker_tasks t ON t.id = s.task_id WHERE t.uuid = $1 ORDER BY s.position",
      kStepColumns, fmt::format(fmt::runtime(kSignalSpecColumn), kSignalCallable));
  const std::string transitions_sql =
      "SELECT t.uuid, s.name, tr.from_state, tr.to_state, tr.at, tr.worker_id, tr.reason, tr.attempt, tr.payload "
      "FROM tasker_transitions tr JOIN tasker_tasks t ON t.id = tr.task_id "
      "LEFT JOIN tasker_steps s ON s.id = tr.step_id WHERE t.uuid = $1";
  s.transitions_of_task = transitions_sql + " ORDER BY tr.id";
  s.transitions_of_step = transitions_sql + " AND s.name = $2 ORDER BY tr.id";
  // Operator actions lock the task first, so two of them on one task serialise.
  s.task_id_by_uuid = fmt::format("SELECT id, state FROM tasker_tasks WHERE uuid = $1{}", d.for_update);
  s.step_by_name =
      fmt::format("SELECT {} FROM tasker_steps WHERE task_id = $1 AND name = $2{}", kLockedStepColumns, d.for_update);
  s.set_child_results = "UPDATE tasker_steps SET child_results = $2 WHERE id = $1";
  s.descendants_of_step =
      "WITH RECURSIVE d(id) AS (SELECT child_id FROM tasker_step_edges WHERE parent_id = $1 UNION "
      "SELECT e.child_id FROM tasker_step_edges e JOIN d ON e.parent_id = d.id) SELECT id FROM d";
  // A rerun is each step's next attempt with a whole retry budget (migration 9): SET reads the old values.
  // Run after the rerun steps took their new states: a step waits for every parent that does not satisfy
  // it now, rerun or not (a sibling branch in error keeps it waiting).
  s.rerun_steps = fmt::format(
      "UPDATE tasker_steps SET retry_budget = COALESCE(retry_budget, max_attempts), "
      "max_attempts = attempts + COALESCE(retry_budget, max_attempts), results = NULL, error = NULL, "
      "checkpoint = NULL, child_results = NULL, worker_id = NULL, pending_parents = (SELECT COUNT(*) FROM "
      "tasker_step_edges e JOIN tasker_steps p ON p.id = e.parent_id WHERE e.child_id = tasker_steps.id AND NOT "
      "{}) WHERE {}",
      in_states("p.state", step_sets::kSatisfiesDependents), in_ids("id", 1));
  s.task_definition = "SELECT definition, namespace_name, priority FROM tasker_tasks WHERE id = $1";
  s.step_names_of_task = "SELECT id, name, state, position FROM tasker_steps WHERE task_id = $1";
  // A batch instance that finished frees its parallelism slot for the next one waiting.
  const StepMoveRule& slot = rule_of(StepMove::slot_freed);
  s.release_slot = fmt::format(
      "UPDATE tasker_steps SET pending_parents = pending_parents - 1, "
      "state = CASE WHEN pending_parents - 1 <= 0 THEN {} ELSE state END, "
      "claimable_at = CASE WHEN pending_parents - 1 <= 0 THEN CAST($2 AS BIGINT) ELSE claimable_at END, "
      "updated_at = $2 WHERE id = (SELECT id FROM tasker_steps WHERE batch_id = $1 AND {} "
      "ORDER BY position LIMIT 1{}) RETURNING id, task_id, name, state",
      literal(slot.to), in_states("state", slot.from), d.for_update);
  s.unstarted_batch_steps =
      fmt::format("SELECT id, state, attempts, name FROM tasker_steps WHERE batch_id = $1 AND {} ORDER BY id{}",
                  in_states("state", step_sets::kUnfinished - step_sets::kHoldsWorker), d.for_update);
  s.save_checkpoints = fmt::format(
      "UPDATE tasker_steps SET checkpoint = x.checkpoint, lease_expires_at = $2 FROM {} WHERE tasker_steps.id = x.id "
      "AND tasker_steps.claim_token = x.token AND {} RETURNING tasker_steps.id",
      rows(1, {{"id", kInt}, {"token", kInt}, {"checkpoint", kJson}}),
      in_states("tasker_steps.state", step_sets::kHoldsWorker));
  s.step_result =
      "SELECT s.state, s.results FROM tasker_steps s JOIN tasker_tasks t ON t.id = s.task_id "
      "WHERE t.uuid = $1 AND s.name = $2";
  s.unfinished_steps_of_task =
      fmt::format("SELECT id, state, name, attempts FROM tasker_steps WHERE task_id = $1 AND {} ORDER BY id{}",
                  in_states("state", step_sets::kUnfinished), d.for_update);
  return s;
}

}  // namespace tasker::detail::sql
