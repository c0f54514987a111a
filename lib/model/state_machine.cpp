#include "model/state_machine.hpp"

#include <stdexcept>

namespace tasker::detail {

namespace sets = step_sets;

StepStates counted_in(TaskCounter c) {
  switch (c) {
    case TaskCounter::completed: return {StepState::complete};
    case TaskCounter::resolved: return {StepState::resolved_manually};
    case TaskCounter::failed: return {StepState::error};
    case TaskCounter::active: return sets::kActive;
  }
  return {};
}

std::string_view to_string(TaskCounter c) {
  switch (c) {
    case TaskCounter::completed: return "completed";
    case TaskCounter::resolved: return "resolved";
    case TaskCounter::failed: return "failed";
    case TaskCounter::active: return "active";
  }
  return "unknown";
}

int& TaskCounters::operator[](TaskCounter c) {
  switch (c) {
    case TaskCounter::completed: return completed;
    case TaskCounter::resolved: return resolved;
    case TaskCounter::failed: return failed;
    case TaskCounter::active: break;
  }
  return active;
}

int TaskCounters::operator[](TaskCounter c) const { return const_cast<TaskCounters&>(*this)[c]; }

TaskCounters& TaskCounters::operator+=(const TaskCounters& d) {
  total += d.total;
  for (TaskCounter c : kTaskCounters) (*this)[c] += d[c];
  return *this;
}

void count_move(TaskCounters& delta, std::optional<StepState> from, StepState to) {
  if (!from) delta.total += 1;
  for (TaskCounter c : kTaskCounters) {
    const StepStates counted = counted_in(c);
    delta[c] += (counted.contains(to) ? 1 : 0) - (from && counted.contains(*from) ? 1 : 0);
  }
}

namespace {

constexpr StepStates kOperatorSettles = (sets::kUnfinished - sets::kHoldsWorker) | StepStates{StepState::error};
// A step an operator may run again: finished or failed, not held by a worker nor cancelled with its task.
constexpr StepStates kRerunnable = sets::kSatisfiesDependents | StepStates{StepState::error};

const std::array kMoves{
    StepMoveRule{StepMove::created_waiting, "created_waiting", true, {}, StepState::pending, "created"},
    StepMoveRule{StepMove::created_ready, "created_ready", true, {}, StepState::enqueued, "created"},
    StepMoveRule{StepMove::dependencies_met,
                 "dependencies_met",
                 false,
                 {StepState::pending},
                 StepState::enqueued,
                 "dependencies complete"},
    StepMoveRule{StepMove::slot_freed,
                 "slot_freed",
                 false,
                 {StepState::pending},
                 StepState::enqueued,
                 "a parallelism slot of its batch is free"},
    StepMoveRule{StepMove::claimed, "claimed", false, sets::kClaimable, StepState::in_progress, "claimed"},
    StepMoveRule{StepMove::succeeded, "succeeded", false, sets::kHoldsWorker, StepState::complete},
    StepMoveRule{StepMove::retry_scheduled, "retry_scheduled", false, sets::kHoldsWorker, StepState::waiting_for_retry},
    StepMoveRule{StepMove::failed, "failed", false, sets::kHoldsWorker, StepState::error},
    StepMoveRule{StepMove::released, "released", false, sets::kHoldsWorker, StepState::enqueued,
                 "released unrun by a stopping worker"},
    StepMoveRule{StepMove::cancelled, "cancelled", false, sets::kUnfinished, StepState::cancelled},
    StepMoveRule{StepMove::reset, "reset", false, {StepState::error}, StepState::enqueued},
    StepMoveRule{StepMove::resolved_by_operator, "resolved_by_operator", false, kOperatorSettles,
                 StepState::resolved_manually},
    StepMoveRule{StepMove::completed_by_operator, "completed_by_operator", false, kOperatorSettles,
                 StepState::complete},
    StepMoveRule{StepMove::suspended, "suspended", false, sets::kHoldsWorker, StepState::waiting},
    StepMoveRule{StepMove::signalled, "signalled", false, sets::kWaits, StepState::complete},
    StepMoveRule{StepMove::woke, "woke", false, sets::kWaits, StepState::complete},
    StepMoveRule{StepMove::timed_out, "timed_out", false, sets::kWaits, StepState::error},
    StepMoveRule{StepMove::rerun, "rerun", false, kRerunnable, StepState::enqueued},
    StepMoveRule{StepMove::rerun_dependent, "rerun_dependent", false, kRerunnable | sets::kClaimable | sets::kWaits,
                 StepState::pending, "a step it depends on is rerun"},
};

const std::array kTaskRule{
    // A cancelled task stays cancelled whatever its steps do.
    TaskStateRule{.state_is = TaskState::cancelled, .then = TaskState::cancelled, .reason = ""},
    TaskStateRule{
        .all_done = true, .any_resolved = true, .then = TaskState::resolved_manually, .reason = "all steps complete"},
    TaskStateRule{.all_done = true, .then = TaskState::complete, .reason = "all steps complete"},
    // Independent branches keep running after a sibling fails; the task is in error once they are done.
    TaskStateRule{
        .failed_and_idle = true, .then = TaskState::error, .reason = "a step failed and nothing else can run"},
    TaskStateRule{.state_is = TaskState::pending, .not_started = true, .then = TaskState::pending, .reason = ""},
    TaskStateRule{.state_is = TaskState::pending, .then = TaskState::in_progress, .reason = "first step started"},
    TaskStateRule{.then = TaskState::in_progress, .reason = "resumed"},
};

bool holds(const TaskStateRule& r, const TaskFacts& f) {
  const TaskCounters& c = f.counters;
  return (!r.state_is || f.state == *r.state_is) && (!r.all_done || c.completed + c.resolved >= c.total) &&
         (!r.any_resolved || c.resolved > 0) && (!r.failed_and_idle || (c.failed > 0 && c.active == 0)) &&
         (!r.not_started || !f.started);
}

}  // namespace

std::span<const StepMoveRule> step_moves() { return kMoves; }

const StepMoveRule& rule_of(StepMove move) {
  for (const auto& r : kMoves)
    if (r.move == move) return r;
  throw std::logic_error("a step move without a rule");
}

bool allows(StepMove move, std::optional<StepState> from) {
  const StepMoveRule& r = rule_of(move);
  return from ? r.from.contains(*from) : r.from_nothing;
}

std::span<const TaskStateRule> task_state_rules() { return kTaskRule; }

const TaskStateRule& decide_task_state(const TaskFacts& facts) {
  for (const auto& r : kTaskRule)
    if (holds(r, facts)) return r;
  return kTaskRule.back();  // the last line has no condition
}

}  // namespace tasker::detail
