#include "task_summary.hpp"

#include "api_json.hpp"

namespace tasker::server {

namespace {

/// The keys of tasker-core's summary `task`, taken from the TaskResponse tasker writes.
constexpr const char* kTaskKeys[] = {"task_uuid",
                                     "name",
                                     "namespace",
                                     "version",
                                     "status",
                                     "created_at",
                                     "updated_at",
                                     "completed_at",
                                     "initiator",
                                     "source_system",
                                     "reason",
                                     "correlation_id",
                                     "total_steps",
                                     "pending_steps",
                                     "in_progress_steps",
                                     "completed_steps",
                                     "failed_steps",
                                     "completion_percentage",
                                     "health_status",
                                     "execution_status",
                                     "recommended_action"};

constexpr const char* kStepKeys[] = {
    "step_uuid", "name",         "current_state",          "created_at",    "completed_at", "last_attempted_at",
    "attempts",  "max_attempts", "dependencies_satisfied", "retry_eligible"};

json template_json(const TaskTemplate& t) {
  json steps = json::array();
  for (const StepTemplate& s : t.steps)
    steps.push_back({{"name", s.name},
                     {"step_type", to_string(s.type)},
                     {"handler", s.handler.callable},
                     {"dependencies", s.dependencies},
                     {"retryable", s.retry.retryable},
                     {"max_attempts", s.retry.max_attempts}});
  return {{"steps", steps}};
}

}  // namespace

json task_summary(const TaskSnapshot& snap, const TaskTemplate* tmpl, const std::optional<DlqEntry>& entry) {
  const json full = task_response(snap.task);
  json task = json::object();
  for (const char* key : kTaskKeys) task[key] = full.at(key);

  const json detailed = step_responses(snap);
  json steps = json::array();
  for (std::size_t i = 0; i < snap.steps.size(); ++i) {
    json step = json::object();
    for (const char* key : kStepKeys) step[key] = detailed[i].at(key);
    if (const auto& error = snap.steps[i].error)
      // tasker's failures carry no HTTP status code: status_code stays null.
      step["error"] = {{"error_type", error->error_type}, {"retryable", error->retryable}, {"status_code", nullptr}};
    steps.push_back(std::move(step));
  }

  // In the queue while the entry is pending (tasker-core's in_dlq).
  const bool in_dlq = entry && entry->resolution_status == DlqResolutionStatus::pending;
  const std::string base = "/v1/tasks/" + snap.task.uuid;
  return {{"task", task},
          {"template", tmpl ? template_json(*tmpl) : json(nullptr)},
          {"steps", steps},
          {"dlq",
           {{"in_dlq", in_dlq},
            {"dlq_reason", entry ? json(to_string(entry->dlq_reason)) : json(nullptr)},
            {"resolution_status", entry ? json(to_string(entry->resolution_status)) : json(nullptr)}}},
          {"links",
           {{"self", base + "/summary"},
            {"task", base},
            {"steps", base + "/workflow_steps"},
            {"dlq", "/v1/dlq/task/" + snap.task.uuid}}}};
}

}  // namespace tasker::server
