#pragma once
// How tasks, steps and transitions are shown: shared by status, steps, audit,
// watch and run, so every view of a task reads the same.
#include <string>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"
#include "tasker/task.hpp"

namespace tasker::cli {

/// `namespace/name@version` of a task's template.
[[nodiscard]] std::string template_of(const TaskView& task);

/// `[#########...........]` for `percentage` (0..100) in `width` cells.
[[nodiscard]] std::string progress_bar(double percentage, int width);

/// The summary of a task: template, state, statuses, progress, counts, timestamps.
[[nodiscard]] std::vector<std::string> task_summary(const TaskView& task);

/// Attempts as `attempts/max`.
[[nodiscard]] std::string attempts_of(const StepView& step);

/// How long the step's last attempt ran (still running: until `now`); `-` when unknown.
[[nodiscard]] std::string duration_of(const StepView& step, TimePoint now);

/// NAME STATE ATTEMPTS DURATION LAST ERROR, errors cut to `error_width` columns.
[[nodiscard]] std::vector<std::string> step_table(const std::vector<StepView>& steps, TimePoint now,
                                                  std::size_t error_width);

/// One transition as a line: time, step (or `task`), from -> to, attempt, worker, reason.
[[nodiscard]] std::vector<std::string> transition_cells(const Transition& t);
[[nodiscard]] std::string transition_line(const Transition& t);

/// The task's JSON with its steps under "steps" (status --json, run --json, watch --json).
[[nodiscard]] json task_with_steps(const TaskView& task, const std::vector<StepView>& steps);

/// Why a task that ended did not complete, in one line with what to do next.
[[nodiscard]] std::string failure_message(const TaskView& task, const std::vector<StepView>& steps);

}  // namespace tasker::cli
