#include "storage/sql/batch_policies.hpp"

#include <fmt/format.h>

#include "storage/sql/values.hpp"

namespace tasker::detail::sql {

namespace {

/// The next instance waiting for a slot of `batch_id` starts.
void release_slot(WriteTx& tx, std::int64_t batch_id, const std::string& worker_id) {
  std::vector<Param> p{batch_id, ms(tx.now)};
  Rows r = tx.c.query(tx.sql.release_slot, p);
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (step_state_from(r.text(i, 3)) != target_of(StepMove::slot_freed)) continue;
    tx.changes.step(r.integer(i, 1), r.integer(i, 0), r.text(i, 2), StepMove::slot_freed, StepState::pending, worker_id,
                    std::string(rule_of(StepMove::slot_freed).reason), 0);
  }
}

/// fail_fast: the instances of the batch not yet started are cancelled.
void cancel_unstarted(WriteTx& tx, const LockedStep& failed) {
  Param batch{*failed.batch_id};
  Rows r = tx.c.query(tx.sql.unstarted_batch_steps, {&batch, 1});
  std::vector<StepUpdate> updates;
  const std::string reason = fmt::format("batch failed fast: `{}` failed", failed.name);
  for (std::size_t i = 0; i < r.size(); ++i) {
    updates.push_back({r.integer(i, 0), StepState::cancelled, std::nullopt, std::nullopt, 0, std::nullopt, ms(tx.now)});
    tx.changes.step(failed.task_id, r.integer(i, 0), r.text(i, 3), StepMove::cancelled, step_state_from(r.text(i, 1)),
                    failed.worker_id, reason, static_cast<int>(r.integer(i, 2)));
  }
  apply_updates(tx, updates);
}

}  // namespace

void batch_instance_finished(WriteTx& tx, const LockedStep& instance, bool failed, Expansions& expansions,
                             std::vector<std::int64_t>& satisfied) {
  if (!instance.batch_id) return;
  FailureStrategy strategy = FailureStrategy::continue_on_failure;
  if (failed) {
    const StepTemplate* worker = expansions.definition(instance.task_id).find_step(instance.template_step);
    if (worker && worker->batch_config) strategy = worker->batch_config->failure_strategy;
  }
  if (strategy == FailureStrategy::fail_fast) {
    cancel_unstarted(tx, instance);  // nothing waits for a slot any more
    return;
  }
  release_slot(tx, *instance.batch_id, instance.worker_id);
  if (strategy == FailureStrategy::isolate) satisfied.push_back(instance.id);
}

}  // namespace tasker::detail::sql
