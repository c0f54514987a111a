#include "tasker/retention.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "tasker/errors.hpp"

namespace tasker {

const std::vector<TaskState>& purgeable_states() {
  static const std::vector<TaskState> states{TaskState::complete, TaskState::cancelled, TaskState::error,
                                             TaskState::resolved_manually};
  return states;
}

std::optional<TaskState> parse_purgeable_state(std::string_view name) {
  const auto state = parse_task_state(name);
  if (!state) return std::nullopt;
  const auto& ok = purgeable_states();
  if (std::find(ok.begin(), ok.end(), *state) == ok.end()) return std::nullopt;
  return state;
}

std::string purgeable_state_names() {
  std::string out;
  for (TaskState s : purgeable_states()) out += fmt::format("{}{}", out.empty() ? "" : ", ", to_string(s));
  return out;
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

void PurgeRequest::validate() const {
  const PurgeRequest& request = *this;
  if (request.pause.count() < 0 || request.pause > std::chrono::minutes{1})
    throw InvalidRequestError(fmt::format("a purge's pause {} ms is outside 0..60000", request.pause.count()));
  if (request.batch_size < 1 || request.batch_size > 1000)
    throw InvalidRequestError(fmt::format("a purge's batch size {} is outside 1..1000", request.batch_size));
  for (TaskState s : request.states)
    if (!parse_purgeable_state(to_string(s)))
      throw InvalidRequestError(
          fmt::format("`{}` tasks are active and never purged; purge {} tasks", to_string(s), purgeable_state_names()));
  if (request.older_than) {
    if (request.older_than->count() < 0)
      throw InvalidRequestError(
          fmt::format("a purge's age may not be negative ({} ms); give how long ago the tasks finished, e.g. 30d",
                      request.older_than->count()));
    if (request.older_than->count() == 0 && request.states.empty())
      throw InvalidRequestError(
          "an age of 0 without states would purge every finished task now; name the states to purge (e.g. "
          "cancelled) or give an age (e.g. 30d)");
  } else if (request.policy.empty()) {
    throw InvalidRequestError(
        "no age was given and the configuration's retention policy purges nothing; give an age (e.g. 30d) or "
        "configure retention (docs/retention.md)");
  }
}

std::string describe_by_state(const PurgeResult& result) {
  std::string out;
  for (TaskState state : purgeable_states()) {
    const auto it = result.by_state.find(state);
    out +=
        fmt::format("{}{} {}", out.empty() ? "" : ", ", it == result.by_state.end() ? 0 : it->second, to_string(state));
  }
  return out;
}

json to_json(const ImportResult& result) { return {{"imported", result.imported}, {"skipped", result.skipped}}; }

}  // namespace tasker
