#pragma once
// Submitting tasks and reading them back: the request, and read-only views of
// tasks, steps and their transition history (docs/design.md, "Submitting", "States").
#include <optional>
#include <string>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"
#include "tasker/retry.hpp"
#include "tasker/states.hpp"
#include "tasker/template.hpp"

namespace tasker {

inline constexpr int kMinPriority = -100;
inline constexpr int kMaxPriority = 100;
/// The tag a task rerun as a new one (Client::rerun_task) carries: this, then the original's uuid.
inline constexpr std::string_view kRerunOfTagPrefix = "rerun-of:";

/// What to run: a template by namespace/name[/version] and its context.
/// Every field has a default, so designated initializers may name only some.
struct TaskRequest {
  std::string namespace_name{};
  std::string name{};
  std::string version{};  ///< empty: the latest loaded version
  json context = json::object();
  std::string initiator{};
  std::string source_system{};
  std::string reason{};
  std::vector<std::string> tags{};
  int priority{0};  ///< kMinPriority..kMaxPriority; higher runs first
  std::string correlation_id{};
  std::optional<std::string> idempotency_key{};  ///< wins over the template's identity strategy
  std::vector<std::string> bypass_steps{};       ///< left out; dependencies on them count as satisfied
  /// A delayed start: no step is claimed before then (nullopt or a past time: at once).
  std::optional<TimePoint> run_at{};
};

/// Why an attempt failed. error_type: the exception type, `permanent_error`,
/// `retryable_error`, `timeout`, `worker_lost`, `handler_not_found`, ...
struct StepFailure {
  std::string message;
  std::string error_type;
  bool retryable{false};
  json context = json::object();
};

struct StepView {
  std::string task_uuid;
  std::string step_uuid;
  std::string name;
  std::string callable;
  StepState state{StepState::pending};
  std::vector<std::string> dependencies;
  int attempts{0};
  int retry_count{0};  ///< max(attempts - 1, 0)
  int max_attempts{0};
  bool retryable{true};
  RetryPolicy retry;
  int timeout_seconds{0};
  std::optional<json> results;
  std::optional<StepFailure> error;  ///< the last failure, kept after a later success for audit
  std::string worker_id;             ///< the worker of the current or last attempt
  TimePoint created_at;
  std::optional<TimePoint> last_attempted_at;
  std::optional<TimePoint> completed_at;
  std::optional<TimePoint> next_retry_at;     ///< when waiting_for_retry
  std::optional<TimePoint> lease_expires_at;  ///< when in_progress
  std::optional<TimePoint> wake_at;           ///< when waiting and it wakes by itself (a sleep, a signal's timeout)
  std::string signal_name;  ///< a signal step's: the signal that completes it (`signal.name`); empty for others
  StepType type{StepType::standard};
  std::string template_step;       ///< a batch instance (`process_001`): its batch_worker step (`process`)
  std::optional<json> checkpoint;  ///< the last checkpoint its handler saved
};

/// tasker-core's step counts of a task.
struct StepCounts {
  int total{0};
  int pending{0};  ///< waiting for dependencies
  int ready{0};    ///< claimable now (enqueued, or waiting_for_retry and due)
  int in_progress{0};
  int waiting_for_retry{0};
  int waiting{0};    ///< a signal or sleep step waiting for its signal or time
  int completed{0};  ///< complete or resolved_manually
  int failed{0};     ///< error
  int cancelled{0};
};

struct TaskView {
  std::string uuid;
  std::string namespace_name;
  std::string name;
  std::string version;
  TaskState state{TaskState::pending};
  json context = json::object();
  std::string initiator;
  std::string source_system;
  std::string reason;
  std::vector<std::string> tags;
  int priority{0};
  std::string correlation_id;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> identity_hash;
  std::vector<std::string> bypassed_steps;
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> completed_at;
  std::optional<TimePoint> run_at;  ///< TaskRequest::run_at, when it was given

  StepCounts counts;
  ExecutionStatus execution_status{ExecutionStatus::waiting_for_dependencies};
  double completion_percentage{0};
  HealthStatus health_status{HealthStatus::unknown};
};

/// A task and its steps (in template order) as of one moment: read in one
/// snapshot, so the task's counts agree with its steps' states.
struct TaskSnapshot {
  TaskView task;
  std::vector<StepView> steps;
};

/// Derive execution_status, completion_percentage and health_status from
/// counts, with tasker-core's precedence (docs/design.md, "States").
void derive_statuses(TaskView& view);

/// One recorded state change of a task (step_name empty) or of a step.
struct Transition {
  std::string task_uuid;
  std::string step_name;
  std::string from_state;  ///< empty when the row was created in to_state
  std::string to_state;
  TimePoint at;
  std::string worker_id;
  std::string reason;
  int attempt{0};
  /// What the change carries beyond its columns, by kind (null when nothing):
  /// a failed attempt's `error` (and a retry's `next_attempt_at`, epoch ms),
  /// a created task's `namespace`, `name`, `version` and `total_steps`, a
  /// failed task's `failed_steps`, a signal's `signal`, `key` and `sender`. The
  /// lifecycle events follow from it.
  json payload;
};

struct TaskFilter {
  std::optional<std::string> namespace_name;
  std::optional<TaskState> state;
  std::optional<std::string> initiator;
  std::optional<std::string> source_system;
  std::optional<std::string> name;    ///< the template's name (with namespace_name: one template)
  int limit{50};                      ///< 1..1000
  std::optional<std::string> cursor;  ///< from TaskPage::next_cursor, for the next page
  long long offset{0};                ///< skip this many matches first (page/per_page paging)
  bool count_total{false};            ///< also count every match (TaskPage::total_count); costs a count
};

/// Newest first.
struct TaskPage {
  std::vector<TaskView> tasks;
  std::optional<std::string> next_cursor;  ///< set when more tasks follow
  std::optional<long long> total_count;    ///< when TaskFilter::count_total (ignores cursor and offset)
};

/// Work in flight across the whole database (for metrics and readiness), read
/// from the indexes of active rows only: its cost follows the work in flight,
/// never the history.
struct ActivityCounts {
  long long tasks_pending{0};
  long long tasks_in_progress{0};
  long long steps_enqueued{0};
  long long steps_in_progress{0};
  long long steps_waiting_for_retry{0};
  long long steps_ready{0};  ///< claimable now: enqueued, or waiting_for_retry and due (the ready queue)
  /// Since when the oldest ready step has been claimable (its age is how long the queue keeps work waiting).
  std::optional<TimePoint> oldest_ready_since;
};

/// JSON forms of the views, for --json output and the command-handler protocol.
[[nodiscard]] json to_json(const TaskView& task);
[[nodiscard]] json to_json(const StepView& step);
[[nodiscard]] json to_json(const Transition& transition);
[[nodiscard]] std::string format_time(TimePoint t);  ///< ISO 8601 UTC with milliseconds
/// An RFC 3339 date-time (`2026-12-07T18:00:00Z`, `...T19:00:00.5+01:00`; `t`
/// or a space for `T`, `z` for `Z`), to the millisecond; nullopt when `text`
/// is not one (a date alone, no offset, a field out of range).
[[nodiscard]] std::optional<TimePoint> parse_time(std::string_view text);
/// A duration as a whole number and a unit: `90s`, `15m`, `2h`, `3d`, up to
/// 3650 days, or `0`; nullopt for anything else.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Whether `text` is a canonical 36-character UUID.
[[nodiscard]] bool is_uuid(std::string_view text);
/// A new random (v4) UUID.
[[nodiscard]] std::string new_uuid();

}  // namespace tasker
