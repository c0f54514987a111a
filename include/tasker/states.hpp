#pragma once
// The state machines of docs/design.md ("States"): step and task states, and the
// statuses derived per task. Names are the strings stored and printed.
#include <optional>
#include <string_view>

namespace tasker {

enum class StepState {
  pending,      ///< waiting for parents
  enqueued,     ///< ready and claimable
  in_progress,  ///< claimed by a worker, under a lease
  complete,
  waiting_for_retry,  ///< claimable again at next_attempt_at
  error,              ///< failed permanently (or retries exhausted)
  cancelled,
  resolved_manually,  ///< an operator declared it done; counts as complete for dependents
};

enum class TaskState { pending, in_progress, complete, error, cancelled, resolved_manually };

/// tasker-core's execution_status, in its precedence order (first match wins).
enum class ExecutionStatus {
  blocked_by_failures,
  has_ready_steps,
  processing,
  all_complete,
  waiting_for_dependencies,
};

enum class HealthStatus { healthy, recovering, blocked, unknown };

[[nodiscard]] std::string_view to_string(StepState s);
[[nodiscard]] std::string_view to_string(TaskState s);
[[nodiscard]] std::string_view to_string(ExecutionStatus s);
[[nodiscard]] std::string_view to_string(HealthStatus s);

/// Parse a stored or user-given name; nullopt for an unknown name.
[[nodiscard]] std::optional<StepState> parse_step_state(std::string_view name);
[[nodiscard]] std::optional<TaskState> parse_task_state(std::string_view name);

/// complete or resolved_manually: satisfies dependents.
[[nodiscard]] bool satisfies_dependents(StepState s);
/// No further transition happens without an operator.
[[nodiscard]] bool is_terminal(StepState s);
[[nodiscard]] bool is_terminal(TaskState s);

}  // namespace tasker
