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
#include "tasker/task.hpp"

namespace tasker {

/// How a running handler is reached from outside: the flag its cancelled()
/// reads and what its heartbeat() does. The worker wires these; a test of a
/// handler can pass its own.
struct StepControls {
  std::shared_ptr<const std::atomic<bool>> cancelled{};  ///< null: never cancelled
  std::function<void()> heartbeat{};                     ///< empty: heartbeat() does nothing
  /// Make a checkpoint durable; false when the claim was lost. Empty: save_checkpoint() throws.
  std::function<bool(const json& checkpoint)> save_checkpoint{};
  /// A completed step's result by name (nullopt: none yet). Empty: ancestor_result() sees only dependency_results().
  std::function<std::optional<json>(const std::string& step_name)> step_result{};
};

/// What earlier attempts of the step left for this one.
struct StepHistory {
  json checkpoint;                            ///< the last checkpoint saved; null when none
  std::optional<StepFailure> previous_error;  ///< why the attempt before this one failed
};

/// What a handler sees. Valid for the duration of the handler call.
/// cancelled() becomes true when the step's deadline passes, its lease is
/// lost, its task is cancelled or the worker stops: a long handler should check it.
class StepContext {
 public:
  StepContext(std::string task_uuid, std::string step_name, json context, json initialization, json dependency_results,
              int attempt, TimePoint deadline, const Clock& clock, StepControls controls = {},
              StepHistory history = {});

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
  /// The result of any step of this task that has completed, by name: every
  /// ancestor (a dependency's dependency, ...) has. Reads dependency_results()
  /// first, then the store (one indexed read). Throws PermanentError naming the
  /// step when it has no result yet (it is not an ancestor of this one).
  [[nodiscard]] json ancestor_result(const std::string& step_name) const;
  /// The last checkpoint an earlier attempt saved (`cursor`, `items_processed`,
  /// `accumulated_results`, `saved_at`), or null: where a long step resumes.
  [[nodiscard]] const json& checkpoint() const { return history_.checkpoint; }
  /// Why the attempt before this one failed (its message, error_type and context), if it did.
  [[nodiscard]] const std::optional<StepFailure>& previous_error() const { return history_.previous_error; }
  /// Save progress on the step, fenced by this attempt's claim and renewing its
  /// lease; a later attempt (after a crash, a timeout or a retryable failure)
  /// sees it in checkpoint(). Returns once it is durable: true, or false when
  /// the claim was lost (the attempt is then cancelled). Throws InvalidRequestError
  /// when the context was made without a way to save (a test's context).
  bool save_checkpoint(const json& cursor, std::int64_t items_processed, const json& accumulated_results = nullptr);
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
  StepHistory history_;
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
