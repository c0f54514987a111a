#include "tasker/template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace tasker {

namespace {
constexpr std::array<std::pair<StepType, std::string_view>, 7> kStepTypes{{
    {StepType::standard, "standard"},
    {StepType::decision, "decision"},
    {StepType::deferred_convergence, "deferred_convergence"},
    {StepType::batchable, "batchable"},
    {StepType::batch_worker, "batch_worker"},
    {StepType::signal, "signal"},
    {StepType::sleep, "sleep"},
}};
constexpr std::array<std::pair<FailureStrategy, std::string_view>, 3> kFailureStrategies{{
    {FailureStrategy::continue_on_failure, "continue_on_failure"},
    {FailureStrategy::fail_fast, "fail_fast"},
    {FailureStrategy::isolate, "isolate"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [v, n] : names)
    if (v == value) return n;
  return "unknown";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& names, std::string_view name) {
  for (const auto& [v, n] : names)
    if (n == name) return v;
  return std::nullopt;
}
}  // namespace

std::string_view to_string(StepType type) { return name_of(kStepTypes, type); }
std::optional<StepType> parse_step_type(std::string_view name) { return value_of(kStepTypes, name); }
std::string_view to_string(FailureStrategy strategy) { return name_of(kFailureStrategies, strategy); }
std::optional<FailureStrategy> parse_failure_strategy(std::string_view name) {
  return value_of(kFailureStrategies, name);
}

std::string TaskTemplate::qualified_name() const { return fmt::format("{}/{}@{}", namespace_name, name, version); }

const StepTemplate* TaskTemplate::find_step(std::string_view step_name) const {
  for (const auto& step : steps)
    if (step.name == step_name) return &step;
  return nullptr;
}

bool TaskTemplate::has_dynamic_steps() const {
  return std::any_of(steps.begin(), steps.end(), [](const StepTemplate& s) {
    return s.type != StepType::standard && s.type != StepType::signal && s.type != StepType::sleep;
  });
}

json to_json(const SignalSpec& spec) {
  json out = {{"name", spec.name}, {"on_timeout", spec.complete_on_timeout ? "complete" : "fail"}};
  if (spec.timeout_seconds) out["timeout_seconds"] = *spec.timeout_seconds;
  if (spec.complete_on_timeout) out["on_timeout_result"] = spec.on_timeout_result;
  return out;
}

SignalSpec signal_spec_from_json(const json& initialization, const std::string& step_name) {
  SignalSpec spec;
  if (!initialization.is_object()) {
    spec.name = step_name;
    return spec;
  }
  spec.name = initialization.value("name", step_name);
  if (auto t = initialization.find("timeout_seconds"); t != initialization.end() && t->is_number_integer())
    spec.timeout_seconds = t->get<int>();
  spec.complete_on_timeout = initialization.value("on_timeout", "fail") == "complete";
  spec.on_timeout_result = initialization.value("on_timeout_result", json::object());
  return spec;
}

json to_json(const SleepSpec& spec) {
  if (spec.seconds) return {{"seconds", *spec.seconds}};
  return {{"until", spec.until}};
}

}  // namespace tasker
