#pragma once
// Step handlers: C++ callables registered by name, and the context a handler
// runs with (docs/design.md, "Retry semantics" for how handlers fail a step).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"

namespace tasker {

/// How a running handler is reached from outside: the flag its cancelled()
/// reads and what its heartbeat() does. The worker wires these; a test of a
/// handler can pass its own.
struct StepControls {
  std::shared_ptr<const std::atomic<bool>> cancelled;  ///< null: never cancelled
  std::function<void()> heartbeat;                     ///< empty: heartbeat() does nothing
};

/// What a handler sees. Valid for the duration of the handler call.
/// cancelled() becomes true when the step's deadline passes, its lease is
/// lost, its task is cancelled or the worker stops: a long handler should check it.
class StepContext {
 public:
  StepContext(std::string task_uuid, std::string step_name, json context, json initialization, json dependency_results,
              int attempt, TimePoint deadline, const Clock& clock, StepControls controls = {});

  [[nodiscard]] const std::string& task_uuid() const { return task_uuid_; }
  [[nodiscard]] const std::string& step_name() const { return step_name_; }
  /// The task's context (the JSON it was submitted with).
  [[nodiscard]] const json& context() const { return context_; }
  /// The step's `handler.initialization` from the template.
  [[nodiscard]] const json& initialization() const { return initialization_; }
  /// Results of the step's dependencies, by step name.
  [[nodiscard]] const json& dependency_results() const { return dependency_results_; }
  /// One dependency's result; throws PermanentError naming the step when it is not a dependency.
  [[nodiscard]] const json& dependency_result(const std::string& step_name) const;
  /// 1 for the first attempt.
  [[nodiscard]] int attempt() const { return attempt_; }
  [[nodiscard]] TimePoint deadline() const { return deadline_; }
  /// The clock the worker runs on: compare its now() with deadline().
  [[nodiscard]] const Clock& clock() const { return *clock_; }
  [[nodiscard]] bool cancelled() const { return controls_.cancelled && controls_.cancelled->load(); }
  /// Ask the worker to renew this attempt's lease now, for a long step between
  /// the worker's own renewals (every lease/3). Returns at once; if the claim
  /// turns out to be lost, cancelled() becomes true.
  void heartbeat() const;

 private:
  std::string task_uuid_;
  std::string step_name_;
  json context_;
  json initialization_;
  json dependency_results_;
  int attempt_{1};
  TimePoint deadline_;
  const Clock* clock_;
  StepControls controls_;
};

/// A handler returns the step's result, or throws PermanentError /
/// RetryableError (any other exception is treated as retryable).
using StepHandler = std::function<json(StepContext&)>;

/// Handlers by callable name. Not thread-safe for registration; register
/// everything before starting workers, then reads are safe from any thread.
class HandlerRegistry {
 public:
  /// Register `handler` under `callable`; throws InvalidRequestError if the name is taken.
  void add(std::string callable, StepHandler handler);
  /// Throws HandlerNotFoundError listing what is registered.
  [[nodiscard]] const StepHandler& resolve(const std::string& callable) const;
  [[nodiscard]] bool contains(const std::string& callable) const { return handlers_.count(callable) > 0; }
  [[nodiscard]] std::vector<std::string> callables() const;
  [[nodiscard]] std::size_t size() const { return handlers_.size(); }

 private:
  std::map<std::string, StepHandler, std::less<>> handlers_;
};

}  // namespace tasker
