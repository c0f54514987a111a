#pragma once
// Reading tasks, steps and transitions into the public view types. A view
// that takes several statements is read inside one snapshot (the caller runs
// these under Access::snapshot), so its counts agree with its steps.
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"
#include "storage/sql/statements.hpp"
#include "tasker/clock.hpp"
#include "tasker/task.hpp"

namespace tasker::detail::sql {

/// The task with its step counts and derived statuses; nullopt when unknown.
[[nodiscard]] std::optional<TaskView> load_task(Connection& c, const Statements& sql, const std::string& task_uuid,
                                                TimePoint now);
/// A task as a submit leaves it: its row (kTaskColumns) and, since every step
/// was just created, `enqueued` ready steps and `pending` others.
[[nodiscard]] TaskView task_view_as_created(const Rows& task_row, int enqueued, int pending);
/// The task's steps in template order.
[[nodiscard]] std::vector<StepView> load_steps(Connection& c, const Statements& sql, const std::string& task_uuid);
/// A page of tasks, newest first (the filter is checked by the caller).
/// Work in flight database-wide (Store::activity).
[[nodiscard]] ActivityCounts load_activity(Connection& c, TimePoint now);
[[nodiscard]] TaskPage load_task_page(Connection& c, const Statements& sql, const TaskFilter& filter,
                                      std::optional<std::int64_t> before_id, TimePoint now);
/// A task's transitions (and its steps'), or one step's, oldest first.
[[nodiscard]] std::vector<Transition> load_transitions(Connection& c, const Statements& sql,
                                                       const std::string& task_uuid,
                                                       const std::optional<std::string>& step_name);

}  // namespace tasker::detail::sql
