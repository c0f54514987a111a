#pragma once
// One write transaction in progress, and what it has changed so far. Every
// write has the same shape (sql_store.cpp): change step rows, recording each
// change as a typed move (model/state_machine.hpp), advance their children,
// then settle(): the touched tasks' counters follow from the recorded moves,
// their states from the counters, every transition is appended, and the
// lifecycle events are derived from those transitions (model/event_record.hpp).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/state_machine.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/statements.hpp"
#include "tasker/clock.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/lifecycle.hpp"
#include "tasker/states.hpp"
#include "tasker/task.hpp"

namespace tasker::detail::sql {

/// One state change, as a row of tasker_transitions: a step's (step_id set)
/// or its task's. States are typed; their names are written at the end.
struct TransitionRow {
  std::int64_t task_id{0};
  std::optional<std::int64_t> step_id;
  std::string step_name;
  std::optional<StepState> step_from;  ///< a step's: nullopt when it was created
  StepState step_to{StepState::pending};
  std::optional<TaskState> task_from;  ///< the task's: nullopt when it was created
  TaskState task_to{TaskState::pending};
  std::string worker_id;
  std::string reason;
  int attempt{0};
  json payload;  ///< Transition::payload; null when none

  [[nodiscard]] bool is_step() const { return step_id.has_value(); }
  [[nodiscard]] std::string_view from_name() const;  ///< "" when created
  [[nodiscard]] std::string_view to_name() const;
};

/// What a transaction does to a task beyond its steps' moves.
struct TaskDelta {
  std::optional<TaskState> forced;  ///< cancel: the state to set whatever the counters say
  std::string reason;               ///< the forced state's reason
};

struct Changes {
  std::vector<TransitionRow> transitions;
  std::map<std::int64_t, TaskDelta> tasks;  // every touched task, ordered by id: the lock order
  /// The results steps completed with in this transaction, for their events.
  std::unordered_map<std::int64_t, json> results;
  /// The transaction made steps claimable now (moves into enqueued): others may want them.
  bool enqueued{false};
  /// Those steps (step() records them), so that exchange() can tell whether
  /// its own claim took them all.
  std::vector<std::int64_t> enqueued_steps;
  /// Tasks that reached a final state (settle() fills it), for waiters.
  std::vector<std::string> finished_tasks;
  std::string worker_id;  ///< who acts (for transitions of tasks and children)

  /// Record `move` of a step from `from` (nullopt: created). Throws
  /// std::logic_error when the state machine does not allow it: a write that
  /// breaks the rules fails its transaction instead of storing them.
  void step(std::int64_t task_id, std::int64_t step_id, std::string step_name, StepMove move,
            std::optional<StepState> from, std::string worker, std::string reason, int attempt, json payload = nullptr);
  /// Record a task's own transition (its creation, or a state settle() derived).
  void task(std::int64_t task_id, std::optional<TaskState> from, TaskState to, std::string worker, std::string reason,
            json payload = nullptr);
};

/// One write transaction: where its statements go, its clock reading, and what it changed.
struct WriteTx {
  Connection& c;
  const Statements& sql;
  const Dialect& dialect;
  TimePoint now;
  const ExpansionLimits& limits;  ///< what one decision or batch may create
  Changes changes;
};

/// What a committed write tells waiters: other workers (work) and whoever
/// waits for tasks to finish.
struct Wakeups {
  bool work{false};
  std::vector<std::string> finished;  ///< uuids of tasks that reached a final state
};

/// The notifications (Backend::notify_in_transaction) that carry `wake`: ""
/// says work is available; "finished:" followed by comma-separated task uuids
/// says those tasks reached a final state, split below PostgreSQL's 8000-byte
/// payload limit.
[[nodiscard]] std::vector<std::string> notification_payloads(const Wakeups& wake);
inline constexpr std::string_view kFinishedPrefix = "finished:";

/// The task counters the step moves recorded in `ch` add up to, per task.
[[nodiscard]] std::map<std::int64_t, TaskCounters> counter_deltas(const Changes& ch);
/// Whether `ch` claimed a step of each task (TaskFacts::started), per task.
[[nodiscard]] std::map<std::int64_t, bool> started_tasks(const Changes& ch);

/// A row as the audit trail reads it back, for its task `task_uuid` at `now`.
[[nodiscard]] Transition as_transition(const TransitionRow& t, const std::string& task_uuid, TimePoint now);

/// Update the touched tasks' counters and states (when `tasks_changed`), write
/// the transitions, and return the events derived from them.
std::vector<LifecycleEvent> settle(WriteTx& tx, bool tasks_changed);

}  // namespace tasker::detail::sql
