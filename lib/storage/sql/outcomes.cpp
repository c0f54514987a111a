#include "storage/sql/outcomes.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "base/log.hpp"
#include "storage/sql/batch_policies.hpp"
#include "storage/sql/expansions.hpp"
#include "storage/sql/step_writes.hpp"
#include "storage/sql/values.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

/// A failed attempt: retried later (waiting_for_retry), or the step fails (error).
StepUpdate failure_update(Changes& ch, const LockedStep& s, const StepOutcome& o, const std::string& reason_override,
                          TimePoint now) {
  RetryDecision decision = decide_after_failure(s.retry, s.attempts, o.failure.retryable, o.retry_after, o.jitter_unit);
  json error = failure_json(o.failure);
  error["attempt"] = s.attempts;
  const std::string reason = reason_override.empty() ? o.failure.error_type : reason_override;
  if (decision.retry) {
    std::int64_t at = ms(now) + decision.delay.count();
    ch.step(s.task_id, s.id, s.name, StepMove::retry_scheduled, s.state, s.worker_id, reason, s.attempts,
            {{"error", error}, {"next_attempt_at", at}});
    return {s.id, StepState::waiting_for_retry, std::nullopt, error, 0, at, std::nullopt};
  }
  ch.step(s.task_id, s.id, s.name, StepMove::failed, s.state, s.worker_id, reason, s.attempts, {{"error", error}});
  return {s.id, StepState::error, std::nullopt, error, 0, std::nullopt, ms(now)};
}

/// A decision's or batchable step's result that cannot be applied fails the step permanently.
StepOutcome invalid_outcome(const StepOutcome& o, const PermanentError& e) {
  StepOutcome failed = o;
  failed.kind = StepOutcome::Kind::failure;
  failed.failure = {e.what(), e.error_type(), false, e.context()};
  failed.failure.context["result"] = o.result;
  failed.retry_after.reset();
  return failed;
}

}  // namespace

StepUpdate outcome_update(Changes& ch, const LockedStep& s, const StepOutcome& o, const std::string& reason,
                          TimePoint now) {
  switch (o.kind) {
    case StepOutcome::Kind::success: {
      ch.step(s.task_id, s.id, s.name, StepMove::succeeded, s.state, s.worker_id, reason, s.attempts);
      ch.results[s.id] = o.result;
      return {s.id, StepState::complete, o.result, std::nullopt, 0, std::nullopt, ms(now)};
    }
    case StepOutcome::Kind::failure: return failure_update(ch, s, o, reason, now);
    case StepOutcome::Kind::release: break;
  }
  ch.step(s.task_id, s.id, s.name, StepMove::released, s.state, s.worker_id,
          std::string(rule_of(StepMove::released).reason), s.attempts - 1);
  return {s.id, StepState::enqueued, std::nullopt, std::nullopt, -1, ms(now), std::nullopt};
}

void apply_outcomes(WriteTx& tx, const std::vector<StepOutcome>& outcomes, const std::string& reason,
                    std::vector<std::int64_t>& discarded) {
  Changes& ch = tx.changes;
  std::vector<std::int64_t> ids;
  ids.reserve(outcomes.size());
  for (const auto& o : outcomes) ids.push_back(o.step_id);
  std::unordered_map<std::int64_t, LockedStep> locked;
  for (auto& s : lock_steps(tx, ids)) locked.emplace(s.id, std::move(s));

  Expansions expansions(tx, tx.limits);
  std::vector<StepUpdate> updates;
  std::vector<std::int64_t> satisfied;
  std::vector<std::pair<LockedStep, bool>> finished_instances;  // batch instances done for good; true: failed
  for (const auto& o : outcomes) {
    auto it = locked.find(o.step_id);
    if (it == locked.end() || it->second.state != StepState::in_progress || it->second.claim_token != o.claim_token) {
      discarded.push_back(o.step_id);
      continue;
    }
    LockedStep& s = it->second;
    const StepOutcome* outcome = &o;
    StepOutcome rejected;
    if (o.kind == StepOutcome::Kind::success) {
      try {
        expansions.plan(s, o.result);
      } catch (const PermanentError& e) {
        rejected = invalid_outcome(o, e);
        outcome = &rejected;
      }
    }
    const StepUpdate update = outcome_update(ch, s, *outcome, reason, tx.now);
    if (update.state == StepState::complete) satisfied.push_back(s.id);
    if (s.batch_id && (update.state == StepState::complete || update.state == StepState::error))
      finished_instances.emplace_back(s, update.state == StepState::error);
    updates.push_back(update);
    s.state = StepState::complete;  // no second outcome for the same claim within one batch
  }
  apply_updates(tx, updates);
  expansions.apply(satisfied);
  for (const auto& [instance, failed] : finished_instances)
    batch_instance_finished(tx, instance, failed, expansions, satisfied);
  advance_children(tx, satisfied);
}

std::size_t reclaim_expired(WriteTx& tx, bool jitter) {
  constexpr std::int64_t kBatch = 100;
  std::vector<Param> p{ms(tx.now), kBatch};
  Rows r = tx.c.query(tx.sql.select_expired, p);
  if (r.empty()) return 0;
  std::vector<StepOutcome> outcomes;
  for (std::size_t i = 0; i < r.size(); ++i) {
    StepOutcome o;
    o.step_id = r.integer(i, 0);
    o.claim_token = r.integer(i, 1);
    o.kind = StepOutcome::Kind::failure;
    o.failure = {"the worker running this attempt stopped renewing its lease (presumed lost)", "worker_lost", true,
                 json::object()};
    if (jitter) o.jitter_unit = random_jitter_unit();
    outcomes.push_back(std::move(o));
  }
  std::vector<std::int64_t> ignored;
  apply_outcomes(tx, outcomes, fmt::format("lease expired; reclaimed by {}", tx.changes.worker_id), ignored);
  const std::size_t reclaimed = outcomes.size() - ignored.size();
  detail::log().info("worker {} reclaimed {} step(s) whose lease expired", tx.changes.worker_id, reclaimed);
  return reclaimed;
}

}  // namespace tasker::detail::sql
