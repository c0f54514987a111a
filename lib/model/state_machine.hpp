#pragma once
// The rules of the step and task state machines (docs/design.md, "States"),
// written once: the moves a step may make, what each move does to its task's
// counters, and how a task's state follows from those counters. The store
// applies them in C++ (the multi-statement path) and renders them into SQL
// (the server functions, the claim): lib/storage/sql/state_sql.hpp. Adding a
// state means adding it to tasker/states.hpp, to the sets it belongs to, and
// to the moves below; everything else follows.
#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "tasker/states.hpp"

namespace tasker::detail {

/// The counters a task row keeps of its steps. A step counts in the one
/// counter its state belongs to, or in none (pending, cancelled).
enum class TaskCounter { completed, resolved, failed, active };
inline constexpr std::array kTaskCounters{TaskCounter::completed, TaskCounter::resolved, TaskCounter::failed,
                                          TaskCounter::active};

/// The step states counted in `c`.
[[nodiscard]] StepStates counted_in(TaskCounter c);
[[nodiscard]] std::string_view to_string(TaskCounter c);

/// A task's counters (or a change to them). `total` counts every step.
struct TaskCounters {
  int total{0};
  int completed{0};
  int resolved{0};
  int failed{0};
  int active{0};

  [[nodiscard]] int& operator[](TaskCounter c);
  [[nodiscard]] int operator[](TaskCounter c) const;
  TaskCounters& operator+=(const TaskCounters& d);
  [[nodiscard]] bool zero() const { return *this == TaskCounters{}; }
  [[nodiscard]] bool operator==(const TaskCounters&) const = default;
};

/// What a step moving from `from` (nullopt: the step is being created) to
/// `to` changes in its task's counters, added to `delta`. The only place
/// counters change: every write derives its deltas from the moves it records.
void count_move(TaskCounters& delta, std::optional<StepState> from, StepState to);

/// The moves a step makes, each from a set of states to one state.
enum class StepMove {
  created_waiting,        ///< a new step with parents (or a batch instance without a slot)
  created_ready,          ///< a new step with nothing to wait for
  dependencies_met,       ///< its last parent became satisfied
  slot_freed,             ///< a batch instance got a parallelism slot
  claimed,                ///< a worker took it
  succeeded,              ///< its handler returned a result
  retry_scheduled,        ///< its attempt failed and it will be tried again
  failed,                 ///< its attempt failed and no attempt is left
  released,               ///< a stopping worker handed it back unrun
  cancelled,              ///< its task was cancelled, or its batch failed fast
  reset,                  ///< an operator reset it for a fresh set of attempts
  resolved_by_operator,   ///< an operator resolved it
  completed_by_operator,  ///< an operator completed it with a result
  suspended,              ///< a signal or sleep step began to wait (its worker lets go of it)
  signalled,              ///< its signal arrived: complete, with the signal's payload
  woke,                   ///< its time came: a sleep's end, or a signal's timeout that completes
  timed_out,              ///< its signal did not come in time, and the step fails
  rerun,                  ///< an operator reruns it, finished or failed: its next attempt
  rerun_dependent,        ///< a step it depends on is rerun: it waits for it again
};

struct StepMoveRule {
  StepMove move;
  std::string_view name;
  bool from_nothing;  ///< a creation: the step did not exist
  StepStates from;    ///< the states it may leave
  StepState to;
  /// The transition's reason when tasker makes the move by itself; empty when
  /// whoever makes it says why (an error type, an operator's reason).
  std::string_view reason{};
};

[[nodiscard]] std::span<const StepMoveRule> step_moves();
[[nodiscard]] const StepMoveRule& rule_of(StepMove move);
[[nodiscard]] inline StepState target_of(StepMove move) { return rule_of(move).to; }
/// Whether `move` may start from `from` (nullopt: a creation).
[[nodiscard]] bool allows(StepMove move, std::optional<StepState> from);

/// What a task's state is derived from after a transaction.
struct TaskFacts {
  TaskState state{TaskState::pending};  ///< before the transaction
  bool started{false};                  ///< the transaction claimed one of its steps
  TaskCounters counters;                ///< after the transaction
};

/// One line of the task-state rule; the first line whose every condition
/// holds decides. A condition left unset holds always.
struct TaskStateRule {
  std::optional<TaskState> state_is{};  ///< the task's state before the transaction
  bool all_done{false};                 ///< completed + resolved >= total
  bool any_resolved{false};             ///< resolved > 0
  bool failed_and_idle{false};          ///< failed > 0 and active == 0
  bool not_started{false};              ///< no step of it was claimed in the transaction
  TaskState then{TaskState::pending};
  std::string_view reason{};  ///< the transition's reason when the state changes
};

/// The rule (docs/design.md, "States"), in order.
[[nodiscard]] std::span<const TaskStateRule> task_state_rules();
/// The first line of the rule that holds for `facts`.
[[nodiscard]] const TaskStateRule& decide_task_state(const TaskFacts& facts);

}  // namespace tasker::detail
