#include "tasker/retention.hpp"

#include <algorithm>

namespace tasker {

const std::vector<TaskState>& purgeable_states() {
  static const std::vector<TaskState> states{TaskState::complete, TaskState::cancelled, TaskState::error};
  return states;
}

std::optional<TaskState> parse_purgeable_state(std::string_view name) {
  const auto state = parse_task_state(name);
  if (!state) return std::nullopt;
  const auto& ok = purgeable_states();
  if (std::find(ok.begin(), ok.end(), *state) == ok.end()) return std::nullopt;
  return state;
}

bool RetentionPolicy::empty() const {
  auto any = [](const std::map<TaskState, RetentionAge>& by_state) {
    return std::any_of(by_state.begin(), by_state.end(), [](const auto& a) { return a.second.has_value(); });
  };
  return !any(ages) && std::none_of(namespaces.begin(), namespaces.end(), [&](const auto& n) { return any(n.second); });
}

std::vector<PurgeSelection> selections_of(const RetentionPolicy& policy, TimePoint now) {
  std::vector<PurgeSelection> out;
  for (TaskState state : purgeable_states()) {
    std::vector<std::string> overridden;
    for (const auto& [name, ages] : policy.namespaces) {
      const auto age = ages.find(state);
      if (age == ages.end()) continue;
      overridden.push_back(name);
      if (age->second) out.push_back(PurgeSelection{state, now - *age->second, name, {}});
    }
    const auto global = policy.ages.find(state);
    if (global != policy.ages.end() && global->second)
      out.push_back(PurgeSelection{state, now - *global->second, std::nullopt, std::move(overridden)});
  }
  return out;
}

json to_json(const PurgeResult& result) {
  json by_state = json::object();
  for (TaskState state : purgeable_states()) {
    const auto it = result.by_state.find(state);
    by_state[std::string(to_string(state))] = it == result.by_state.end() ? 0 : it->second;
  }
  return {{"dry_run", result.dry_run},
          {"tasks", result.tasks},
          {"by_state", std::move(by_state)},
          {"transactions", result.transactions},
          {"longest_transaction_ms", static_cast<double>(result.longest_transaction.count()) / 1000.0}};
}

json to_json(const ImportResult& result) { return {{"imported", result.imported}, {"skipped", result.skipped}}; }

}  // namespace tasker
