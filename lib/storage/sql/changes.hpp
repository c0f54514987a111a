#pragma once
// One write transaction in progress, and what it has changed so far. Every
// write has the same shape (sql_store.cpp): change step rows, advance their
// children, then settle(): update the touched tasks' counters and derive
// their states, append the transitions, and resolve the lifecycle events.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sql/connection.hpp"
#include "storage/sql/statements.hpp"
#include "tasker/clock.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/lifecycle.hpp"
#include "tasker/retry.hpp"
#include "tasker/states.hpp"

namespace tasker::detail::sql {

struct TransitionRow {
  std::int64_t task_id;
  std::optional<std::int64_t> step_id;
  std::string from_state;
  std::string to_state;
  std::string worker_id;
  std::string reason;
  int attempt;
};

struct PendingEvent {
  std::string name;
  std::int64_t task_id;
  std::string step_name;
  json payload;
};

/// How a transaction moved a task's counters.
struct TaskDelta {
  int completed{0};
  int resolved{0};
  int failed{0};
  int active{0};
  int added{0};                     ///< steps created at run time
  bool started{false};              ///< a step of the task was claimed
  std::optional<TaskState> forced;  ///< cancel: the state to set whatever the counters say
  std::string reason;
};

struct Changes {
  std::vector<TransitionRow> transitions;
  std::vector<PendingEvent> events;
  std::map<std::int64_t, TaskDelta> tasks;  // ordered by id: the lock order
  bool enqueued{false};
  /// The steps this transaction made claimable (children, released steps), so
  /// that exchange() can tell whether its own claim took them all.
  std::vector<std::int64_t> enqueued_steps;
  /// Tasks that reached a final state (settle() fills it), for waiters.
  std::vector<std::string> finished_tasks;
  std::string worker_id;  ///< who acts (for transitions of tasks and children)

  void enqueue(std::int64_t step) {
    enqueued = true;
    enqueued_steps.push_back(step);
  }
  void transition(std::int64_t task, std::optional<std::int64_t> step, std::string_view from, std::string_view to,
                  std::string worker, std::string reason, int attempt) {
    transitions.push_back(
        {task, step, std::string(from), std::string(to), std::move(worker), std::move(reason), attempt});
  }
  void event(const char* name, std::int64_t task, std::string step, json payload = json::object()) {
    tasks[task];  // every event's task is resolved to a uuid at the end
    events.push_back({name, task, std::move(step), std::move(payload)});
  }
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

/// A task whose state changed to `state`: its event (completed or failed) and,
/// when the state is final, its uuid among the tasks waiters hear of.
void record_task_state(Changes& ch, std::int64_t task_id, const std::string& task_uuid, TaskState state,
                       int failed_steps);

/// The public event for `e`, whose task is `task_uuid`.
[[nodiscard]] LifecycleEvent resolve_event(PendingEvent e, const std::string& task_uuid, TimePoint now);

/// Update the touched tasks from their deltas (when `tasks_changed`), derive
/// their states, write the transitions, and return the events with task uuids.
std::vector<LifecycleEvent> settle(WriteTx& tx, bool tasks_changed);

/// A task's state from its counters after a transaction (design: "States").
[[nodiscard]] TaskState derive_task_state(TaskState old_state, const TaskDelta& d, int total, int completed,
                                          int resolved, int failed, int active);

}  // namespace tasker::detail::sql
