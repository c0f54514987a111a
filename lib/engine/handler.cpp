#include "tasker/handler.hpp"

#include <fmt/format.h>

#include "tasker/errors.hpp"

namespace tasker {

StepContext::StepContext(std::string task_uuid, std::string step_name, json context, json initialization,
                         json dependency_results, int attempt, TimePoint deadline, const Clock& clock,
                         StepControls controls)
    : task_uuid_(std::move(task_uuid)),
      step_name_(std::move(step_name)),
      context_(std::move(context)),
      initialization_(std::move(initialization)),
      dependency_results_(std::move(dependency_results)),
      attempt_(attempt),
      deadline_(deadline),
      clock_(&clock),
      controls_(std::move(controls)) {}

const json& StepContext::dependency_result(const std::string& step_name) const {
  if (!dependency_results_.is_object() || !dependency_results_.contains(step_name))
    throw PermanentError(fmt::format("step `{}` has no dependency `{}` (its dependencies: {})", step_name_, step_name,
                                     dependency_results_.is_object() ? dependency_results_.size() : 0),
                         {{"missing_dependency", step_name}});
  return dependency_results_.at(step_name);
}

void StepContext::heartbeat() const {
  if (controls_.heartbeat) controls_.heartbeat();
}

void HandlerRegistry::add(std::string callable, StepHandler handler) {
  if (callable.empty()) throw InvalidRequestError("a handler needs a non-empty callable name");
  if (!handler) throw InvalidRequestError(fmt::format("the handler for `{}` is empty", callable));
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
