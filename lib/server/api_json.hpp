#pragma once
// tasker-core's JSON shapes (TaskRequest, TaskResponse, StepResponse, audit
// entries) in both directions: the server writes them, HttpApi reads them
// back. Field names live here only. docs/api.md documents them.
#include <optional>
#include <string>
#include <vector>

#include "tasker/json.hpp"
#include "tasker/task.hpp"

namespace tasker::server {

/// TaskRequest from a POST /v1/tasks body; throws ApiError 400 naming the bad field.
[[nodiscard]] TaskRequest task_request_from(const json& body);
[[nodiscard]] json to_request_json(const TaskRequest& request);

/// TaskResponse; `steps` (when given) are the task's steps from the same snapshot.
[[nodiscard]] json task_response(const TaskView& task, const std::vector<StepView>* steps = nullptr);
/// StepResponse; `snapshot` supplies the dependencies' states.
[[nodiscard]] json step_response(const StepView& step, const TaskSnapshot& snapshot);
/// Every step of `snapshot` as a StepResponse, in O(steps + edges).
[[nodiscard]] json step_responses(const TaskSnapshot& snapshot);
/// A retry policy as the API shows it (steps and templates).
[[nodiscard]] json retry_json(const RetryPolicy& policy);
/// One audit entry (a transition of the task, or of the step `step_uuid`).
[[nodiscard]] json audit_entry(const Transition& transition, const std::string& step_uuid);

[[nodiscard]] TaskView task_from(const json& response);
[[nodiscard]] StepView step_from(const json& response);
[[nodiscard]] Transition transition_from(const json& entry);
/// RFC 3339 as format_time writes it (UTC, optional fraction); throws Error when malformed.
[[nodiscard]] TimePoint parse_time(const std::string& text);

}  // namespace tasker::server
