#pragma once
// Creating a task: its row, its step rows (each carrying its handler, retry
// policy and timeout, so workers need no templates) and its edges, in one
// write transaction. The rows are planned before the transaction starts.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/rows.hpp"
#include "tasker/task.hpp"
#include "tasker/template.hpp"

namespace tasker::detail::sql {

/// The rows of a task, computed from its template and request outside any transaction.
struct TaskPlan {
  std::string task_uuid;
  const TaskTemplate* tmpl{nullptr};
  const TaskRequest* request{nullptr};
  std::optional<std::string> identity_hash;
  std::vector<const StepTemplate*> steps;         ///< without the bypassed ones, in template order
  std::vector<std::vector<std::size_t>> parents;  ///< by position in `steps`
  std::vector<NewStep> rows;                      ///< by position
  TaskCounters counters;                          ///< the new task's, from its steps' creation moves
  TaskState state{TaskState::pending};            ///< complete when it has no steps (the task-state rule)
  std::optional<std::string> definition;  ///< template_definition(), for templates that create steps at run time
  json step_rows = json::array();         ///< the insert_steps parameter
  json created_payload;                   ///< the creation transition's payload (namespace, name, version, total)
};

/// A step row for template step `t`: enqueued now when nothing holds it back
/// (`waiting` parents or slots), else pending.
[[nodiscard]] NewStep new_step(const StepTemplate& t, std::int64_t position, std::string name,
                               const json& initialization, std::vector<std::string> dependencies, std::int64_t waiting,
                               TimePoint now, std::optional<TimePoint> run_at = std::nullopt);
/// How a new step row came to be: created_ready or created_waiting.
[[nodiscard]] StepMove creation_move(const NewStep& s);

[[nodiscard]] TaskPlan plan_task(const TaskTemplate& tmpl, const TaskRequest& request,
                                 const std::optional<std::string>& identity_hash, TimePoint now);

/// The parameters of Statements::insert_task but the last (and the first of tasker_submit's).
[[nodiscard]] std::vector<Param> task_row_params(const TaskPlan& plan, TimePoint now);
/// The task's run_at (TaskRequest::run_at): the last parameter of both.
[[nodiscard]] Param run_at_param(const TaskPlan& plan);

/// The creation's transitions and events, and what it wakes (`ch.enqueued`,
/// `ch.finished_tasks`), given the ids of the task and its steps (by position).
void record_creation(Changes& ch, const TaskPlan& plan, std::int64_t task_id,
                     const std::vector<std::int64_t>& step_ids);

/// Insert the planned rows; DuplicateTaskError (naming the existing task) when
/// the identity hash is taken. Returns the task's id.
std::int64_t insert_task(WriteTx& tx, const TaskPlan& plan);

}  // namespace tasker::detail::sql
