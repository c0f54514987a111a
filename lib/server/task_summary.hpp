#pragma once
// GET /v1/tasks/{uuid}/summary: tasker-core's TaskSummary shape from what
// tasker keeps (docs/api.md, "Task summary"): the task's counts and statuses,
// its template's steps, each step's state, and its dead-letter entry.
#include <optional>

#include "tasker/dlq.hpp"
#include "tasker/json.hpp"
#include "tasker/task.hpp"
#include "tasker/template.hpp"

namespace tasker::server {

/// `tmpl`: the task's template when this server has it loaded (null otherwise:
/// `template` is then null). `entry`: the task's newest dead-letter entry.
[[nodiscard]] json task_summary(const TaskSnapshot& snapshot, const TaskTemplate* tmpl,
                                const std::optional<DlqEntry>& entry);

}  // namespace tasker::server
