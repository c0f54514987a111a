#pragma once
// Dead-letter triage (docs/triage.md), with tasker-core's shapes: an entry
// records why a task needs a person (it ended in `error`, or a step of it made
// no progress for too long), a snapshot of the task then, and where the
// investigation stands. Staleness is read live from the steps' states.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"

namespace tasker {

/// Why a task entered the dead-letter queue (tasker-core's names). tasker
/// records max_retries_exceeded (a task in error), worker_unavailable (a task
/// in error whose failed steps all lost their worker) and staleness_timeout;
/// the others are accepted in filters for tasker-core's clients.
enum class DlqReason {
  staleness_timeout,
  max_retries_exceeded,
  dependency_cycle_detected,
  worker_unavailable,
  manual_dlq
};
/// Where an entry's investigation stands (tasker-core's names). A task has at
/// most one `pending` entry at a time.
enum class DlqResolutionStatus { pending, manually_resolved, permanently_failed, cancelled };

[[nodiscard]] std::string_view to_string(DlqReason reason);
[[nodiscard]] std::string_view to_string(DlqResolutionStatus status);
/// The snake_case name, or tasker-core's JSON spelling of it (`ManuallyResolved`); nullopt otherwise.
[[nodiscard]] std::optional<DlqReason> parse_dlq_reason(std::string_view text);
[[nodiscard]] std::optional<DlqResolutionStatus> parse_dlq_resolution_status(std::string_view text);
/// Every reason and status, in the order above (help texts, the API's enums).
[[nodiscard]] const std::vector<DlqReason>& dlq_reasons();
[[nodiscard]] const std::vector<DlqResolutionStatus>& dlq_resolution_statuses();
/// "pending, manually_resolved, permanently_failed, cancelled": for messages.
[[nodiscard]] std::string dlq_resolution_status_names();

struct DlqEntry {
  std::string dlq_entry_uuid;
  std::string task_uuid;
  std::string original_state;  ///< the task's state when the entry was made (`error`, `in_progress`)
  DlqReason dlq_reason{DlqReason::max_retries_exceeded};
  TimePoint dlq_timestamp;
  DlqResolutionStatus resolution_status{DlqResolutionStatus::pending};
  std::optional<TimePoint> resolution_timestamp;  ///< when it left `pending`
  std::optional<std::string> resolution_notes;
  std::optional<std::string> resolved_by;
  /// The task then: `task_uuid`, `namespace`, `task_name`, `version`, `current_state`,
  /// `context`, `failed_steps` (name, state, attempts, max_attempts, error), and
  /// for a stale task `stale_step` (name, state, seconds in state, threshold).
  json task_snapshot = json::object();
  json metadata;  ///< the operator's own (PATCH); null until set
  TimePoint created_at;
  TimePoint updated_at;
};

struct DlqFilter {
  std::optional<DlqResolutionStatus> resolution_status{};
  int limit{50};        ///< 1..1000
  long long offset{0};  ///< >= 0
};

/// What an operator changes on an entry; fields left nullopt stay as they are.
struct DlqUpdate {
  std::optional<DlqResolutionStatus> resolution_status{};
  std::optional<std::string> resolution_notes{};
  std::optional<std::string> resolved_by{};
  std::optional<json> metadata{};
};

/// One row of GET /v1/dlq/stats: the entries of one reason.
struct DlqStats {
  DlqReason dlq_reason{DlqReason::max_retries_exceeded};
  long long total_entries{0};
  long long pending{0};
  long long manually_resolved{0};
  long long permanent_failures{0};
  long long cancelled{0};
  std::optional<TimePoint> oldest_entry;
  std::optional<TimePoint> newest_entry;
  /// Mean minutes from entry to resolution of the resolved entries; nullopt when none is resolved.
  std::optional<double> avg_resolution_time_minutes;
};

/// A pending entry in the order to look at it (tasker-core's score: a weight
/// per reason plus the minutes it has waited).
struct DlqQueueEntry {
  std::string dlq_entry_uuid;
  std::string task_uuid;
  std::string original_state;
  DlqReason dlq_reason{DlqReason::max_retries_exceeded};
  TimePoint dlq_timestamp;
  double minutes_in_dlq{0};
  std::string namespace_name;
  std::string task_name;
  std::string current_state;                 ///< the task's state now (it may have moved on since the entry)
  std::optional<int> time_in_state_minutes;  ///< a stale task's, when the entry was made
  double priority_score{0};
};
/// tasker-core's weight of a reason in DlqQueueEntry::priority_score.
[[nodiscard]] double dlq_reason_weight(DlqReason reason);

/// How long a step may stay in a state without progress before its task is
/// stale (configuration `dlq.staleness`); each must be positive.
struct StalenessThresholds {
  std::chrono::milliseconds enqueued{std::chrono::minutes{60}};           ///< claimable, no worker took it
  std::chrono::milliseconds waiting_for_retry{std::chrono::minutes{30}};  ///< its retry due, no worker took it
  std::chrono::milliseconds in_progress{std::chrono::minutes{30}};        ///< claimed, no result and no checkpoint
};

enum class StalenessHealth { healthy, warning, stale };
[[nodiscard]] std::string_view to_string(StalenessHealth health);
/// Share of the threshold from which a step is `warning` (tasker-core's 80 %).
inline constexpr double kStalenessWarningShare = 0.8;

/// A task with a step at least kStalenessWarningShare of its state's threshold
/// into it (its stalest such step). Minutes are whole, as tasker-core's; the
/// seconds and the step are tasker's additions.
struct StalenessEntry {
  std::string task_uuid;
  std::string namespace_name;
  std::string task_name;
  std::string current_state;  ///< the step's state: enqueued, waiting_for_retry or in_progress
  std::string step_name;
  std::string step_uuid;
  double time_in_state_seconds{0};
  double staleness_threshold_seconds{0};
  long long task_age_seconds{0};
  StalenessHealth health_status{StalenessHealth::healthy};
  int priority{0};
};

/// A worker's dead-letter pass (Store::record_dead_letters).
struct DeadLetterSweep {
  StalenessThresholds staleness;
  bool detect_staleness{true};
  /// Only tasks that ended in error at or after this (a pass keeps where it
  /// got to); nullopt: every task in error.
  std::optional<TimePoint> errored_since;
  int limit{200};  ///< entries one pass creates at most, per kind
};

struct DeadLetterResult {
  std::size_t errored{0};  ///< entries for tasks in error
  std::size_t stale{0};    ///< entries for stale tasks
  /// The latest completion time among the tasks in error it looked at (where the next pass starts).
  std::optional<TimePoint> latest_error;
};

[[nodiscard]] json to_json(const DlqEntry& entry);
[[nodiscard]] json to_json(const DlqStats& stats);
[[nodiscard]] json to_json(const DlqQueueEntry& entry);
[[nodiscard]] json to_json(const StalenessEntry& entry);
/// The JSON forms above read back (HttpApi); throw Error naming the field when malformed.
[[nodiscard]] DlqEntry dlq_entry_from_json(const json& value);
[[nodiscard]] DlqStats dlq_stats_from_json(const json& value);
[[nodiscard]] DlqQueueEntry dlq_queue_entry_from_json(const json& value);
[[nodiscard]] StalenessEntry staleness_entry_from_json(const json& value);
/// A DLQ time as tasker-core writes it: UTC without a zone (`2026-12-08T00:10:05.123`).
[[nodiscard]] std::string format_dlq_time(TimePoint t);

}  // namespace tasker
