#include "tasker/task.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <uuid/uuid.h>

namespace tasker {

void derive_statuses(TaskView& v) {
  const StepCounts& c = v.counts;
  v.completion_percentage = c.total == 0 ? 100.0 : 100.0 * c.completed / c.total;
  if (c.failed > 0)
    v.execution_status = ExecutionStatus::blocked_by_failures;
  else if (c.ready > 0)
    v.execution_status = ExecutionStatus::has_ready_steps;
  else if (c.in_progress > 0)
    v.execution_status = ExecutionStatus::processing;
  else if (c.completed == c.total)
    v.execution_status = ExecutionStatus::all_complete;
  else
    v.execution_status = ExecutionStatus::waiting_for_dependencies;
  if (v.execution_status == ExecutionStatus::blocked_by_failures)
    v.health_status = HealthStatus::blocked;
  else if (c.waiting_for_retry > 0)
    v.health_status = HealthStatus::recovering;
  else
    v.health_status = HealthStatus::healthy;
}

std::string format_time(TimePoint t) {
  auto ms = t.time_since_epoch().count() % 1000;
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", secs, ms < 0 ? ms + 1000 : ms);
}

namespace {
json time_or_null(const std::optional<TimePoint>& t) { return t ? json(format_time(*t)) : json(nullptr); }
}  // namespace

json to_json(const TaskView& t) {
  return {{"task_uuid", t.uuid},
          {"namespace", t.namespace_name},
          {"name", t.name},
          {"version", t.version},
          {"state", to_string(t.state)},
          {"context", t.context},
          {"initiator", t.initiator},
          {"source_system", t.source_system},
          {"reason", t.reason},
          {"tags", t.tags},
          {"priority", t.priority},
          {"correlation_id", t.correlation_id},
          {"idempotency_key", t.idempotency_key ? json(*t.idempotency_key) : json(nullptr)},
          {"identity_hash", t.identity_hash ? json(*t.identity_hash) : json(nullptr)},
          {"bypassed_steps", t.bypassed_steps},
          {"created_at", format_time(t.created_at)},
          {"updated_at", format_time(t.updated_at)},
          {"completed_at", time_or_null(t.completed_at)},
          {"execution_status", to_string(t.execution_status)},
          {"health_status", to_string(t.health_status)},
          {"completion_percentage", t.completion_percentage},
          {"step_counts",
           {{"total", t.counts.total},
            {"pending", t.counts.pending},
            {"ready", t.counts.ready},
            {"in_progress", t.counts.in_progress},
            {"waiting_for_retry", t.counts.waiting_for_retry},
            {"completed", t.counts.completed},
            {"failed", t.counts.failed},
            {"cancelled", t.counts.cancelled}}}};
}

json to_json(const StepView& s) {
  json error = nullptr;
  if (s.error)
    error = {{"message", s.error->message},
             {"error_type", s.error->error_type},
             {"retryable", s.error->retryable},
             {"context", s.error->context}};
  return {{"task_uuid", s.task_uuid},
          {"step_uuid", s.step_uuid},
          {"name", s.name},
          {"callable", s.callable},
          {"state", to_string(s.state)},
          {"dependencies", s.dependencies},
          {"attempts", s.attempts},
          {"retry_count", s.retry_count},
          {"max_attempts", s.max_attempts},
          {"retryable", s.retryable},
          {"backoff", to_string(s.retry.backoff)},
          {"timeout_seconds", s.timeout_seconds},
          {"results", s.results ? *s.results : json(nullptr)},
          {"error", error},
          {"worker_id", s.worker_id},
          {"created_at", format_time(s.created_at)},
          {"last_attempted_at", time_or_null(s.last_attempted_at)},
          {"completed_at", time_or_null(s.completed_at)},
          {"next_retry_at", time_or_null(s.next_retry_at)},
          {"lease_expires_at", time_or_null(s.lease_expires_at)},
          {"type", to_string(s.type)},
          {"template_step", s.template_step.empty() ? json(nullptr) : json(s.template_step)},
          {"checkpoint", s.checkpoint ? *s.checkpoint : json(nullptr)}};
}

json to_json(const Transition& t) {
  return {{"task_uuid", t.task_uuid},
          {"step_name", t.step_name.empty() ? json(nullptr) : json(t.step_name)},
          {"from_state", t.from_state.empty() ? json(nullptr) : json(t.from_state)},
          {"to_state", t.to_state},
          {"at", format_time(t.at)},
          {"worker_id", t.worker_id},
          {"reason", t.reason},
          {"attempt", t.attempt}};
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

std::string new_uuid() {
  uuid_t raw;
  uuid_generate_random(raw);
  char text[37];
  uuid_unparse_lower(raw, text);
  return text;
}

}  // namespace tasker
