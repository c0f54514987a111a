#pragma once
// Creating a task: its row, its step rows (each carrying its handler, retry
// policy and timeout, so workers need no templates) and its edges, in one
// write transaction. The rows are planned before the transaction starts.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/changes.hpp"
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
  std::size_t roots{0};
  std::optional<std::string> definition;  ///< template_definition(), for templates that create steps at run time
  json step_rows = json::array();         ///< the insert_steps parameter
};

[[nodiscard]] TaskPlan plan_task(const TaskTemplate& tmpl, const TaskRequest& request,
                                 const std::optional<std::string>& identity_hash, TimePoint now);

/// The parameters of Statements::insert_task (and the first of tasker_submit's).
[[nodiscard]] std::vector<Param> task_row_params(const TaskPlan& plan, TimePoint now);

/// The creation's transitions and events, and what it wakes (`ch.enqueued`,
/// `ch.finished_tasks`), given the ids of the task and its steps (by position).
void record_creation(Changes& ch, const TaskPlan& plan, std::int64_t task_id,
                     const std::vector<std::int64_t>& step_ids);

/// Insert the planned rows; DuplicateTaskError (naming the existing task) when
/// the identity hash is taken. Returns the task's id.
std::int64_t insert_task(WriteTx& tx, const TaskPlan& plan);

}  // namespace tasker::detail::sql
