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
  else if (c.in_progress > 0 || c.waiting > 0)  // a waiting step is processing: tasker-core has no waiting status
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

/// `n` digits at `text[at]`, or -1.
int digits(std::string_view text, std::size_t at, std::size_t n) {
  if (at + n > text.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/// Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil).
long long days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<long long>(era) * 146097 + doe - 719468;
}

}  // namespace

std::optional<TimePoint> parse_time(std::string_view text) {
  if (text.size() < 20 || text.size() > 40) return std::nullopt;
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  const int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60 || text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' '))
    return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0)) return std::nullopt;
  std::size_t i = 19;
  long long ms = 0;
  if (text[i] == '.') {
    long long scale = 100;
    const std::size_t start = ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10) ms += (text[i] - '0') * scale;
    if (i == start) return std::nullopt;
  }
  long long offset_minutes = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    const int oh = digits(text, i + 1, 2), om = digits(text, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59 || i + 3 >= text.size() || text[i + 3] != ':') return std::nullopt;
    offset_minutes = (text[i] == '+' ? 1 : -1) * (oh * 60LL + om);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  // A leap second (:60) is read as the next second, as most clocks step it.
  const long long secs =
      days_from_civil(year, month, day) * 86400 + hour * 3600LL + minute * 60LL + second - offset_minutes * 60;
  return TimePoint{std::chrono::milliseconds{secs * 1000 + ms}};
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds{0};  // no unit needed for nothing (`--older-than 0`)
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  long long n = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    n = n * 10 + (text[i] - '0');
  }
  long long unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  if (n > 3650LL * 86400 / unit) return std::nullopt;
  return std::chrono::milliseconds{n * unit * 1000};
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
          {"run_at", time_or_null(t.run_at)},
          {"execution_status", to_string(t.execution_status)},
          {"health_status", to_string(t.health_status)},
          {"completion_percentage", t.completion_percentage},
          {"step_counts",
           {{"total", t.counts.total},
            {"pending", t.counts.pending},
            {"ready", t.counts.ready},
            {"in_progress", t.counts.in_progress},
            {"waiting_for_retry", t.counts.waiting_for_retry},
            {"waiting", t.counts.waiting},
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
          {"wake_at", time_or_null(s.wake_at)},
          {"signal_name", s.signal_name.empty() ? json(nullptr) : json(s.signal_name)},
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
          {"attempt", t.attempt},
          {"payload", t.payload}};
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
