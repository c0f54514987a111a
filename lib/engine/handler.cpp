#include "tasker/handler.hpp"

#include <fmt/format.h>

#include "tasker/errors.hpp"
#include "tasker/template.hpp"

namespace tasker {

StepContext::StepContext(std::string task_uuid, std::string step_name, json context, json initialization,
                         json dependency_results, int attempt, TimePoint deadline, const Clock& clock,
                         StepControls controls, StepHistory history)
    : task_uuid_(std::move(task_uuid)),
      step_name_(std::move(step_name)),
      context_(std::move(context)),
      initialization_(std::move(initialization)),
      dependency_results_(std::move(dependency_results)),
      attempt_(attempt),
      deadline_(deadline),
      clock_(&clock),
      controls_(std::move(controls)),
      history_(std::move(history)) {}

const json& StepContext::dependency_result(const std::string& step_name) const {
  if (!dependency_results_.is_object() || !dependency_results_.contains(step_name))
    throw PermanentError(fmt::format("step `{}` has no dependency `{}` (its dependencies: {})", step_name_, step_name,
                                     dependency_results_.is_object() ? dependency_results_.size() : 0),
                         {{"missing_dependency", step_name}});
  return dependency_results_.at(step_name);
}

json StepContext::ancestor_result(const std::string& step_name) const {
  if (dependency_results_.is_object() && dependency_results_.contains(step_name)) return dependency_results_[step_name];
  if (controls_.step_result)
    if (auto result = controls_.step_result(step_name)) return *result;
  throw PermanentError(fmt::format("step `{}` read the result of `{}`, which has none yet: ancestor_result reads steps "
                                   "this one depends on, directly or through others",
                                   step_name_, step_name),
                       {{"missing_ancestor", step_name}});
}

bool StepContext::save_checkpoint(const json& cursor, std::int64_t items_processed, const json& accumulated_results) {
  if (!controls_.save_checkpoint)
    throw InvalidRequestError(fmt::format(
        "step `{}` cannot save a checkpoint: its context has no StepControls::save_checkpoint", step_name_));
  json checkpoint = {{"cursor", cursor},
                     {"items_processed", items_processed},
                     {"accumulated_results", accumulated_results},
                     {"saved_at", format_time(clock_->now())}};
  const bool kept = controls_.save_checkpoint(checkpoint);
  if (kept) history_.checkpoint = std::move(checkpoint);
  return kept;
}

void StepContext::heartbeat() const {
  if (controls_.heartbeat) controls_.heartbeat();
}

void HandlerRegistry::add(std::string callable, StepHandler handler) {
  if (callable.empty()) throw InvalidRequestError("a handler needs a non-empty callable name");
  if (!handler) throw InvalidRequestError(fmt::format("the handler for `{}` is empty", callable));
  if (callable == kSignalCallable || callable == kSleepCallable)
    throw InvalidRequestError(fmt::format(
        "`{}` is tasker's own callable for {} steps, which every worker runs itself; name the handler otherwise",
        callable, callable == kSignalCallable ? "signal" : "sleep"));
  if (handlers_.count(callable))
    throw InvalidRequestError(fmt::format("a handler is already registered for `{}`", callable));
  handlers_.emplace(std::move(callable), std::move(handler));
}

const StepHandler& HandlerRegistry::resolve(const std::string& callable) const {
  auto it = handlers_.find(callable);
  if (it == handlers_.end()) throw HandlerNotFoundError(callable, callables());
  return it->second;
}

std::vector<std::string> HandlerRegistry::callables() const {
  std::vector<std::string> out;
  out.reserve(handlers_.size());
  for (const auto& [name, handler] : handlers_) out.push_back(name);
  return out;
}

}  // namespace tasker
