#include "tasker/states.hpp"

#include <array>
#include <tuple>
#include <utility>

namespace tasker {

namespace {
// The stored names, in the order surfaces list the states.
constexpr std::array kStepStates{
    std::pair{StepState::pending, std::string_view{"pending"}},
    std::pair{StepState::enqueued, std::string_view{"enqueued"}},
    std::pair{StepState::in_progress, std::string_view{"in_progress"}},
    std::pair{StepState::waiting, std::string_view{"waiting"}},
    std::pair{StepState::complete, std::string_view{"complete"}},
    std::pair{StepState::waiting_for_retry, std::string_view{"waiting_for_retry"}},
    std::pair{StepState::error, std::string_view{"error"}},
    std::pair{StepState::cancelled, std::string_view{"cancelled"}},
    std::pair{StepState::resolved_manually, std::string_view{"resolved_manually"}},
};
constexpr std::array kTaskStates{
    std::pair{TaskState::pending, std::string_view{"pending"}},
    std::pair{TaskState::in_progress, std::string_view{"in_progress"}},
    std::pair{TaskState::complete, std::string_view{"complete"}},
    std::pair{TaskState::error, std::string_view{"error"}},
    std::pair{TaskState::cancelled, std::string_view{"cancelled"}},
    std::pair{TaskState::resolved_manually, std::string_view{"resolved_manually"}},
};

template <typename Table, typename E>
std::string_view name_of(const Table& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "unknown";
}
template <typename Table>
auto parse(const Table& table, std::string_view name) -> std::optional<typename Table::value_type::first_type> {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return std::nullopt;
}
}  // namespace

std::string_view to_string(StepState s) { return name_of(kStepStates, s); }
std::string_view to_string(TaskState s) { return name_of(kTaskStates, s); }

std::string_view to_string(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::blocked_by_failures: return "blocked_by_failures";
    case ExecutionStatus::has_ready_steps: return "has_ready_steps";
    case ExecutionStatus::processing: return "processing";
    case ExecutionStatus::all_complete: return "all_complete";
    case ExecutionStatus::waiting_for_dependencies: return "waiting_for_dependencies";
  }
  return "unknown";
}

std::string_view to_string(HealthStatus s) {
  switch (s) {
    case HealthStatus::healthy: return "healthy";
    case HealthStatus::recovering: return "recovering";
    case HealthStatus::blocked: return "blocked";
    case HealthStatus::unknown: return "unknown";
  }
  return "unknown";
}

namespace {
template <typename Table>
constexpr auto values_of(const Table& table) {
  std::array<typename Table::value_type::first_type, std::tuple_size_v<Table>> out{};
  for (std::size_t i = 0; i < table.size(); ++i) out[i] = table[i].first;
  return out;
}
constexpr auto kStepStateList = values_of(kStepStates);
constexpr auto kTaskStateList = values_of(kTaskStates);
}  // namespace

std::span<const StepState> step_states() { return kStepStateList; }
std::span<const TaskState> task_states() { return kTaskStateList; }

std::vector<StepState> StepStates::members() const {
  std::vector<StepState> out;
  for (StepState s : step_states())
    if (contains(s)) out.push_back(s);
  return out;
}

std::optional<StepState> parse_step_state(std::string_view name) { return parse(kStepStates, name); }
std::optional<TaskState> parse_task_state(std::string_view name) { return parse(kTaskStates, name); }

bool satisfies_dependents(StepState s) { return step_sets::kSatisfiesDependents.contains(s); }

bool is_terminal(StepState s) { return step_sets::kTerminal.contains(s); }

bool is_terminal(TaskState s) {
  return s == TaskState::complete || s == TaskState::error || s == TaskState::cancelled ||
         s == TaskState::resolved_manually;
}

}  // namespace tasker
