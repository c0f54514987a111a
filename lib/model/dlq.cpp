// Dead-letter names, weights and JSON forms (tasker-core's field names: docs/triage.md).
#include "tasker/dlq.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cctype>

#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker {

namespace {

/// `manually_resolved` -> `ManuallyResolved`: how tasker-core's serde writes its enums.
std::string pascal(std::string_view snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

template <typename E>
std::optional<E> parse_named(std::string_view text, const std::vector<E>& all) {
  for (E e : all)
    if (text == to_string(e) || text == pascal(to_string(e))) return e;
  return std::nullopt;
}

json time_or_null(const std::optional<TimePoint>& t) { return t ? json(format_dlq_time(*t)) : json(nullptr); }

const json& field(const json& v, const char* key) {
  if (!v.is_object() || !v.contains(key)) throw Error(fmt::format("a dead-letter answer lacks `{}`", key));
  return v.at(key);
}

std::string text(const json& v, const char* key) {
  const json& f = field(v, key);
  if (!f.is_string()) throw Error(fmt::format("a dead-letter answer's `{}` is not a string", key));
  return f.get<std::string>();
}

std::optional<std::string> optional_text(const json& v, const char* key) {
  if (!v.contains(key) || v.at(key).is_null()) return std::nullopt;
  return text(v, key);
}

TimePoint time_of(const json& v, const char* key) {
  const std::string t = text(v, key);
  if (auto parsed = parse_time(t + "Z")) return *parsed;
  throw Error(fmt::format("a dead-letter answer's `{}` is not a time: `{}`", key, t));
}

std::optional<TimePoint> optional_time(const json& v, const char* key) {
  if (!v.contains(key) || v.at(key).is_null()) return std::nullopt;
  return time_of(v, key);
}

double number(const json& v, const char* key) {
  const json& f = field(v, key);
  if (!f.is_number()) throw Error(fmt::format("a dead-letter answer's `{}` is not a number", key));
  return f.get<double>();
}

DlqReason reason_of(const json& v) {
  if (auto r = parse_dlq_reason(text(v, "dlq_reason"))) return *r;
  throw Error(fmt::format("a dead-letter answer's `dlq_reason` is unknown: `{}`", text(v, "dlq_reason")));
}

}  // namespace

std::string_view to_string(DlqReason reason) {
  switch (reason) {
    case DlqReason::staleness_timeout: return "staleness_timeout";
    case DlqReason::max_retries_exceeded: return "max_retries_exceeded";
    case DlqReason::dependency_cycle_detected: return "dependency_cycle_detected";
    case DlqReason::worker_unavailable: return "worker_unavailable";
    case DlqReason::manual_dlq: return "manual_dlq";
  }
  return "manual_dlq";
}

std::string_view to_string(DlqResolutionStatus status) {
  switch (status) {
    case DlqResolutionStatus::pending: return "pending";
    case DlqResolutionStatus::manually_resolved: return "manually_resolved";
    case DlqResolutionStatus::permanently_failed: return "permanently_failed";
    case DlqResolutionStatus::cancelled: return "cancelled";
  }
  return "pending";
}

std::string_view to_string(StalenessHealth health) {
  switch (health) {
    case StalenessHealth::healthy: return "healthy";
    case StalenessHealth::warning: return "warning";
    case StalenessHealth::stale: return "stale";
  }
  return "healthy";
}

const std::vector<DlqReason>& dlq_reasons() {
  static const std::vector<DlqReason> all{DlqReason::staleness_timeout, DlqReason::max_retries_exceeded,
                                          DlqReason::dependency_cycle_detected, DlqReason::worker_unavailable,
                                          DlqReason::manual_dlq};
  return all;
}

const std::vector<DlqResolutionStatus>& dlq_resolution_statuses() {
  static const std::vector<DlqResolutionStatus> all{
      DlqResolutionStatus::pending, DlqResolutionStatus::manually_resolved, DlqResolutionStatus::permanently_failed,
      DlqResolutionStatus::cancelled};
  return all;
}

std::optional<DlqReason> parse_dlq_reason(std::string_view text) { return parse_named(text, dlq_reasons()); }

std::optional<DlqResolutionStatus> parse_dlq_resolution_status(std::string_view text) {
  return parse_named(text, dlq_resolution_statuses());
}

std::string dlq_resolution_status_names() {
  std::string out;
  for (auto s : dlq_resolution_statuses()) out += fmt::format("{}{}", out.empty() ? "" : ", ", to_string(s));
  return out;
}

double dlq_reason_weight(DlqReason reason) {
  switch (reason) {
    case DlqReason::dependency_cycle_detected: return 1000;
    case DlqReason::max_retries_exceeded: return 500;
    case DlqReason::staleness_timeout: return 100;
    case DlqReason::worker_unavailable: return 50;
    case DlqReason::manual_dlq: return 10;
  }
  return 10;
}

std::string format_dlq_time(TimePoint t) {
  std::string s = format_time(t);
  if (!s.empty() && s.back() == 'Z') s.pop_back();
  return s;
}

json to_json(const DlqEntry& e) {
  return {{"dlq_entry_uuid", e.dlq_entry_uuid},
          {"task_uuid", e.task_uuid},
          {"original_state", e.original_state},
          {"dlq_reason", to_string(e.dlq_reason)},
          {"dlq_timestamp", format_dlq_time(e.dlq_timestamp)},
          {"resolution_status", to_string(e.resolution_status)},
          {"resolution_timestamp", time_or_null(e.resolution_timestamp)},
          {"resolution_notes", e.resolution_notes ? json(*e.resolution_notes) : json(nullptr)},
          {"resolved_by", e.resolved_by ? json(*e.resolved_by) : json(nullptr)},
          {"task_snapshot", e.task_snapshot},
          {"metadata", e.metadata},
          {"created_at", format_dlq_time(e.created_at)},
          {"updated_at", format_dlq_time(e.updated_at)}};
}

json to_json(const DlqStats& s) {
  return {{"dlq_reason", to_string(s.dlq_reason)},
          {"total_entries", s.total_entries},
          {"pending", s.pending},
          {"manually_resolved", s.manually_resolved},
          {"permanent_failures", s.permanent_failures},
          {"cancelled", s.cancelled},
          {"oldest_entry", time_or_null(s.oldest_entry)},
          {"newest_entry", time_or_null(s.newest_entry)},
          {"avg_resolution_time_minutes",
           s.avg_resolution_time_minutes ? json(*s.avg_resolution_time_minutes) : json(nullptr)}};
}

json to_json(const DlqQueueEntry& e) {
  return {{"dlq_entry_uuid", e.dlq_entry_uuid},
          {"task_uuid", e.task_uuid},
          {"original_state", e.original_state},
          {"dlq_reason", to_string(e.dlq_reason)},
          {"dlq_timestamp", format_dlq_time(e.dlq_timestamp)},
          {"minutes_in_dlq", e.minutes_in_dlq},
          {"namespace_name", e.namespace_name},
          {"task_name", e.task_name},
          {"current_state", e.current_state},
          {"time_in_state_minutes", e.time_in_state_minutes ? json(*e.time_in_state_minutes) : json(nullptr)},
          {"priority_score", e.priority_score}};
}

json to_json(const StalenessEntry& e) {
  return {{"task_uuid", e.task_uuid},
          {"namespace_name", e.namespace_name},
          {"task_name", e.task_name},
          {"current_state", e.current_state},
          {"time_in_state_minutes", static_cast<int>(e.time_in_state_seconds / 60)},
          {"task_age_minutes", static_cast<int>(e.task_age_seconds / 60)},
          {"staleness_threshold_minutes", static_cast<int>(e.staleness_threshold_seconds / 60)},
          {"health_status", to_string(e.health_status)},
          {"priority", e.priority},
          {"step_name", e.step_name},
          {"step_uuid", e.step_uuid},
          {"time_in_state_seconds", e.time_in_state_seconds},
          {"staleness_threshold_seconds", e.staleness_threshold_seconds}};
}

DlqEntry dlq_entry_from_json(const json& v) {
  DlqEntry e;
  e.dlq_entry_uuid = text(v, "dlq_entry_uuid");
  e.task_uuid = text(v, "task_uuid");
  e.original_state = text(v, "original_state");
  e.dlq_reason = reason_of(v);
  e.dlq_timestamp = time_of(v, "dlq_timestamp");
  const std::string status = text(v, "resolution_status");
  const auto parsed = parse_dlq_resolution_status(status);
  if (!parsed) throw Error(fmt::format("a dead-letter answer's `resolution_status` is unknown: `{}`", status));
  e.resolution_status = *parsed;
  e.resolution_timestamp = optional_time(v, "resolution_timestamp");
  e.resolution_notes = optional_text(v, "resolution_notes");
  e.resolved_by = optional_text(v, "resolved_by");
  e.task_snapshot = field(v, "task_snapshot");
  e.metadata = v.value("metadata", json());
  e.created_at = time_of(v, "created_at");
  e.updated_at = time_of(v, "updated_at");
  return e;
}

DlqStats dlq_stats_from_json(const json& v) {
  DlqStats s;
  s.dlq_reason = reason_of(v);
  s.total_entries = static_cast<long long>(number(v, "total_entries"));
  s.pending = static_cast<long long>(number(v, "pending"));
  s.manually_resolved = static_cast<long long>(number(v, "manually_resolved"));
  s.permanent_failures = static_cast<long long>(number(v, "permanent_failures"));
  s.cancelled = static_cast<long long>(number(v, "cancelled"));
  s.oldest_entry = optional_time(v, "oldest_entry");
  s.newest_entry = optional_time(v, "newest_entry");
  if (v.contains("avg_resolution_time_minutes") && !v.at("avg_resolution_time_minutes").is_null())
    s.avg_resolution_time_minutes = number(v, "avg_resolution_time_minutes");
  return s;
}

DlqQueueEntry dlq_queue_entry_from_json(const json& v) {
  DlqQueueEntry e;
  e.dlq_entry_uuid = text(v, "dlq_entry_uuid");
  e.task_uuid = text(v, "task_uuid");
  e.original_state = text(v, "original_state");
  e.dlq_reason = reason_of(v);
  e.dlq_timestamp = time_of(v, "dlq_timestamp");
  e.minutes_in_dlq = number(v, "minutes_in_dlq");
  e.namespace_name = optional_text(v, "namespace_name").value_or("");
  e.task_name = optional_text(v, "task_name").value_or("");
  e.current_state = optional_text(v, "current_state").value_or("");
  if (v.contains("time_in_state_minutes") && !v.at("time_in_state_minutes").is_null())
    e.time_in_state_minutes = static_cast<int>(number(v, "time_in_state_minutes"));
  e.priority_score = number(v, "priority_score");
  return e;
}

StalenessEntry staleness_entry_from_json(const json& v) {
  StalenessEntry e;
  e.task_uuid = text(v, "task_uuid");
  e.namespace_name = optional_text(v, "namespace_name").value_or("");
  e.task_name = optional_text(v, "task_name").value_or("");
  e.current_state = text(v, "current_state");
  e.step_name = optional_text(v, "step_name").value_or("");
  e.step_uuid = optional_text(v, "step_uuid").value_or("");
  e.time_in_state_seconds = v.contains("time_in_state_seconds") ? number(v, "time_in_state_seconds")
                                                                : 60 * number(v, "time_in_state_minutes");
  e.staleness_threshold_seconds = v.contains("staleness_threshold_seconds")
                                      ? number(v, "staleness_threshold_seconds")
                                      : 60 * number(v, "staleness_threshold_minutes");
  e.task_age_seconds = static_cast<long long>(60 * number(v, "task_age_minutes"));
  const std::string health = text(v, "health_status");
  e.health_status = health == "stale"     ? StalenessHealth::stale
                    : health == "warning" ? StalenessHealth::warning
                                          : StalenessHealth::healthy;
  e.priority = static_cast<int>(number(v, "priority"));
  return e;
}

}  // namespace tasker
