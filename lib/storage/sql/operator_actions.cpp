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
  for (std::size_t i = 0; i < r.size(); ++i) {
    updates.push_back({r.integer(i, 0), StepState::cancelled, std::nullopt, std::nullopt, 0, std::nullopt, ms(tx.now)});
    ch.step(task.id, r.integer(i, 0), r.text(i, 2), StepMove::cancelled, step_state_from(r.text(i, 1)), "", reason,
            static_cast<int>(r.integer(i, 3)));
  }
  apply_updates(tx, updates);
  TaskDelta& delta = ch.tasks[task.id];
  delta.forced = TaskState::cancelled;
  delta.reason = reason;
}

void reset_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, const std::string& reason) {
  LockedStep s = lock_step_by_name(tx, task.id, task.uuid, step_name);
  if (!allows(StepMove::reset, s.state))
    throw InvalidRequestError(fmt::format("step `{}` of task {} is {}: only a step in error can be reset for retry",
                                          step_name, task.uuid, to_string(s.state)));
  apply_updates(tx, {{s.id, StepState::enqueued, std::nullopt, std::nullopt, -s.attempts, ms(tx.now), std::nullopt}});
  tx.changes.step(task.id, s.id, step_name, StepMove::reset, s.state, "", reason, 0);
}

namespace {

/// Throws unless `s` can be rerun with the others: ConflictError while a
/// worker holds it, InvalidRequestError when a rerun would create steps again.
void check_rerunnable(const LockedStep& s, const std::string& task_uuid) {
  if (step_sets::kHoldsWorker.contains(s.state))
    throw ConflictError(fmt::format("step `{}` of task {} is running on worker {}: rerun once it has finished", s.name,
                                    task_uuid, s.worker_id));
  if (s.type == StepType::decision || s.type == StepType::batchable || s.type == StepType::batch_worker || s.batch_id)
    throw InvalidRequestError(fmt::format(
        "step `{}` of task {} is a {} step: rerunning it would create its steps again; submit the task again instead",
        s.name, task_uuid, s.batch_id ? "batch instance's" : std::string(to_string(s.type))));
}

}  // namespace

void rerun_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, const std::string& reason) {
  const LockedStep target = lock_step_by_name(tx, task.id, task.uuid, step_name);
  check_rerunnable(target, task.uuid);
  if (!allows(StepMove::rerun, target.state))
    throw InvalidRequestError(fmt::format(
        "step `{}` of task {} is {}: only a finished or failed step can be rerun (it will run when its turn comes)",
        step_name, task.uuid, to_string(target.state)));
  Param id{target.id};
  Rows found = tx.c.query(tx.sql.descendants_of_step, {&id, 1});
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < found.size(); ++i) ids.push_back(found.integer(i, 0));
  std::vector<LockedStep> steps = ids.empty() ? std::vector<LockedStep>{} : lock_steps(tx, ids);
  steps.insert(steps.begin(), target);
  for (const auto& s : steps) check_rerunnable(s, task.uuid);
  // What their last runs left (results, errors, checkpoints) goes in rerun_steps.
  std::vector<StepUpdate> updates;
  std::vector<std::int64_t> all;
  for (const auto& s : steps) {
    all.push_back(s.id);
    const bool first = s.id == target.id;
    if (!first && s.state == StepState::pending) continue;  // waits already; its pending parents are recounted
    updates.push_back({s.id, first ? StepState::enqueued : StepState::pending, std::nullopt, std::nullopt, 0,
                       first ? std::optional<std::int64_t>(ms(tx.now)) : std::nullopt, std::nullopt});
    tx.changes.step(task.id, s.id, s.name, first ? StepMove::rerun : StepMove::rerun_dependent, s.state, "",
                    first ? reason : fmt::format("step `{}` it depends on is rerun: {}", step_name, reason),
                    s.attempts);
  }
  apply_updates(tx, updates);
  Param list{id_list(all)};
  tx.c.query(tx.sql.rerun_steps, {&list, 1});
}

void satisfy_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, StepMove move,
                  const std::optional<json>& result, const std::string& reason) {
  LockedStep s = lock_step_by_name(tx, task.id, task.uuid, step_name);
  if (!allows(move, s.state)) {
    if (step_sets::kHoldsWorker.contains(s.state))
      throw InvalidRequestError(
          fmt::format("step `{}` of task {} is running on worker {}: wait for it to finish, or for its lease to expire",
                      step_name, task.uuid, s.worker_id));
    throw InvalidRequestError(
        fmt::format("step `{}` of task {} is already {}", step_name, task.uuid, to_string(s.state)));
  }
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
  apply_updates(tx, {{s.id, target_of(move), result, std::nullopt, 0, std::nullopt, ms(tx.now)}});
  tx.changes.step(task.id, s.id, step_name, move, s.state, "", reason, s.attempts);
  if (result) tx.changes.results[s.id] = *result;
  std::vector<std::int64_t> satisfied{s.id};
  expansions.apply(satisfied);
  // A batch instance in error already gave its slot back when it failed.
  if (s.state != StepState::error) batch_instance_finished(tx, s, false, expansions, satisfied);
  advance_children(tx, satisfied);
}

}  // namespace tasker::detail::sql
