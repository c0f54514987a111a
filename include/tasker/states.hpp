#pragma once
// The state machines of docs/design.md ("States"): step and task states, the
// named sets of step states every rule is written with, and the statuses
// derived per task. Names are the strings stored and printed. This header is
// the one list of states: the store's SQL, the CLI, the API and the web view
// read them from here (docs/architecture.md, "One state machine").
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

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
  waiting,            ///< a signal or sleep step waiting for its signal or time; holds no worker
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

/// A set of step states (a bit per state). Constant expressions, so the sets
/// below are the definitions every rule, SQL statement and surface uses.
class StepStates {
 public:
  constexpr StepStates() = default;
  constexpr StepStates(std::initializer_list<StepState> states) {
    for (StepState s : states) bits_ |= bit(s);
  }
  [[nodiscard]] constexpr bool contains(StepState s) const { return (bits_ & bit(s)) != 0; }
  [[nodiscard]] constexpr bool empty() const { return bits_ == 0; }
  [[nodiscard]] constexpr StepStates operator|(StepStates o) const { return from_bits(bits_ | o.bits_); }
  /// The states of this set that are not in `o`.
  [[nodiscard]] constexpr StepStates operator-(StepStates o) const { return from_bits(bits_ & ~o.bits_); }
  [[nodiscard]] constexpr bool operator==(const StepStates&) const = default;
  /// The members, in step_states() order.
  [[nodiscard]] std::vector<StepState> members() const;

 private:
  static constexpr std::uint32_t bit(StepState s) { return std::uint32_t{1} << static_cast<unsigned>(s); }
  static constexpr StepStates from_bits(std::uint32_t b) {
    StepStates s;
    s.bits_ = b;
    return s;
  }
  std::uint32_t bits_{0};
};

/// The named sets of step states (docs/design.md, "States").
namespace step_sets {
/// A worker may claim the step once its `claimable_at` has passed.
inline constexpr StepStates kClaimable{StepState::enqueued, StepState::waiting_for_retry};
/// A worker runs the step under a lease.
inline constexpr StepStates kHoldsWorker{StepState::in_progress};
/// Waits for a signal or a time (a `signal` or `sleep` step): no worker, no
/// lease, no claim; `wake_at` says when it wakes by itself (never when unset).
inline constexpr StepStates kWaits{StepState::waiting};
/// No further transition happens without an operator.
inline constexpr StepStates kTerminal{StepState::complete, StepState::error, StepState::cancelled,
                                      StepState::resolved_manually};
/// Not terminal: the step has work ahead of it (a cancel stops these).
inline constexpr StepStates kUnfinished{StepState::pending, StepState::enqueued, StepState::in_progress,
                                        StepState::waiting_for_retry, StepState::waiting};
/// Counted in a task's active steps: runnable, running or waiting, so a failed
/// sibling does not end the task while these remain.
inline constexpr StepStates kActive{StepState::enqueued, StepState::in_progress, StepState::waiting_for_retry,
                                    StepState::waiting};
/// Dependents may run: complete, or resolved by an operator.
inline constexpr StepStates kSatisfiesDependents{StepState::complete, StepState::resolved_manually};
}  // namespace step_sets

/// Every step state, in the order surfaces list them.
[[nodiscard]] std::span<const StepState> step_states();
/// Every task state, in the order surfaces list them.
[[nodiscard]] std::span<const TaskState> task_states();

[[nodiscard]] std::string_view to_string(StepState s);
[[nodiscard]] std::string_view to_string(TaskState s);
[[nodiscard]] std::string_view to_string(ExecutionStatus s);
[[nodiscard]] std::string_view to_string(HealthStatus s);

/// Parse a stored or user-given name; nullopt for an unknown name.
[[nodiscard]] std::optional<StepState> parse_step_state(std::string_view name);
[[nodiscard]] std::optional<TaskState> parse_task_state(std::string_view name);

/// In step_sets::kSatisfiesDependents: complete or resolved_manually.
[[nodiscard]] bool satisfies_dependents(StepState s);
/// In step_sets::kTerminal: no further transition happens without an operator.
[[nodiscard]] bool is_terminal(StepState s);
[[nodiscard]] bool is_terminal(TaskState s);

}  // namespace tasker
