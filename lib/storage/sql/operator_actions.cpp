#include "storage/sql/operator_actions.hpp"

#include <fmt/format.h>

#include <vector>

#include "storage/sql/batch_policies.hpp"
#include "storage/sql/expansions.hpp"
#include "storage/sql/step_writes.hpp"
#include "storage/sql/values.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

void cancel_task(WriteTx& tx, const LockedTask& task, const std::string& reason) {
  if (task.state == TaskState::cancelled || task.state == TaskState::complete ||
      task.state == TaskState::resolved_manually)
    throw InvalidRequestError(
        fmt::format("task {} is already {}: there is nothing to cancel", task.uuid, to_string(task.state)));
  Changes& ch = tx.changes;
  Param id{task.id};
  Rows r = tx.c.query(tx.sql.unfinished_steps_of_task, {&id, 1});
  std::vector<StepUpdate> updates;
  TaskDelta& delta = ch.tasks[task.id];
  for (std::size_t i = 0; i < r.size(); ++i) {
    StepState from = step_state_from(r.text(i, 1));
    updates.push_back({r.integer(i, 0), StepState::cancelled, std::nullopt, std::nullopt, 0, std::nullopt, ms(tx.now)});
    ch.transition(task.id, r.integer(i, 0), to_string(from), "cancelled", "", reason,
                  static_cast<int>(r.integer(i, 3)));
    if (from != StepState::pending) delta.active -= 1;
  }
  apply_updates(tx, updates);
  delta.forced = TaskState::cancelled;
  delta.reason = reason;
  ch.event(events::kTaskCancelled, task.id, "", {{"reason", reason}});
}

void reset_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, const std::string& reason) {
  LockedStep s = lock_step_by_name(tx, task.id, task.uuid, step_name);
  if (s.state != StepState::error)
    throw InvalidRequestError(fmt::format("step `{}` of task {} is {}: only a step in error can be reset for retry",
                                          step_name, task.uuid, to_string(s.state)));
  apply_updates(tx, {{s.id, StepState::enqueued, std::nullopt, std::nullopt, -s.attempts, ms(tx.now), std::nullopt}});
  Changes& ch = tx.changes;
  ch.transition(task.id, s.id, "error", "enqueued", "", reason, 0);
  ch.event(events::kStepEnqueued, task.id, step_name, {{"reason", reason}});
  TaskDelta& d = ch.tasks[task.id];
  d.failed -= 1;
  d.active += 1;
  ch.enqueue(s.id);
}

void satisfy_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, StepState target,
                  const std::optional<json>& result, const std::string& reason) {
  LockedStep s = lock_step_by_name(tx, task.id, task.uuid, step_name);
  if (s.state == StepState::in_progress)
    throw InvalidRequestError(
        fmt::format("step `{}` of task {} is running on worker {}: wait for it to finish, or for its lease to expire",
                    step_name, task.uuid, s.worker_id));
  if (is_terminal(s.state) && s.state != StepState::error)
    throw InvalidRequestError(
        fmt::format("step `{}` of task {} is already {}", step_name, task.uuid, to_string(s.state)));
  // A decision or batchable step completed by hand creates what its result asks for, as if its handler returned it.
  Expansions expansions(tx, tx.limits);
  if (result) {
    try {
      expansions.plan(s, *result);
    } catch (const PermanentError& e) {
      throw InvalidRequestError(fmt::format("the result given for step `{}` of task {} cannot be applied: {}",
                                            step_name, task.uuid, e.what()));
    }
  }
  apply_updates(tx, {{s.id, target, result, std::nullopt, 0, std::nullopt, ms(tx.now)}});
  Changes& ch = tx.changes;
  ch.transition(task.id, s.id, to_string(s.state), to_string(target), "", reason, s.attempts);
  json payload = {{"attempt", s.attempts}, {"manual", true}, {"reason", reason}};
  if (result) payload["result"] = *result;
  ch.event(events::kStepCompleted, task.id, step_name, payload);
  TaskDelta& d = ch.tasks[task.id];
  (target == StepState::complete ? d.completed : d.resolved) += 1;
  if (s.state == StepState::error) d.failed -= 1;
  if (s.state == StepState::enqueued || s.state == StepState::waiting_for_retry) d.active -= 1;
  std::vector<std::int64_t> satisfied{s.id};
  expansions.apply(satisfied);
  // A batch instance in error already gave its slot back when it failed.
  if (s.state != StepState::error) batch_instance_finished(tx, s, false, expansions, satisfied);
  advance_children(tx, satisfied);
}

}  // namespace tasker::detail::sql
