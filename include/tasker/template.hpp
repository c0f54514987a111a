#pragma once
// The task template model (docs/design.md, "Templates"): tasker-core's YAML schema
// as plain types. Loading lives in loader.hpp; graph logic in dag.hpp.
#include <optional>
#include <string>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/identity.hpp"
#include "tasker/json.hpp"
#include "tasker/retry.hpp"

namespace tasker {

/// How a step's handler is found. `callable` is the name a worker registers;
/// `command` (a tasker extension) makes the CLI worker run an external program.
struct HandlerSpec {
  std::string callable;
  json initialization = json::object();  ///< passed to the handler unchanged
  std::vector<std::string> command;      ///< argv of a command handler; empty for in-process handlers
  bool shell{false};                     ///< run `command` through /bin/sh -c (only when asked)
  json extra = json::object();           ///< keys tasker does not act on (method, resolver, ...), preserved
  bool persistent{false};                ///< keep `command` running between attempts (docs/handlers.md)
};

/// tasker-core's step types (docs/templates.md, "Dynamic steps"). A decision
/// step's result names the branches to create; a batchable step's result names
/// cursor ranges, one batch_worker instance each; a deferred_convergence step
/// waits for whichever of its dependencies were created. Two more are tasker's
/// (docs/templates.md, "Waiting steps"): a signal step waits for a signal
/// (Client::signal), a sleep step for a time; neither has a handler.
enum class StepType { standard, decision, deferred_convergence, batchable, batch_worker, signal, sleep };

[[nodiscard]] std::string_view to_string(StepType type);
[[nodiscard]] std::optional<StepType> parse_step_type(std::string_view name);

/// What the other instances of a batch do when one fails permanently.
enum class FailureStrategy {
  continue_on_failure,  ///< they run on; the convergence step waits (the task ends in error)
  fail_fast,            ///< those not yet started are cancelled
  isolate,              ///< they run on, and the convergence step runs without the failed one
};

[[nodiscard]] std::string_view to_string(FailureStrategy strategy);
[[nodiscard]] std::optional<FailureStrategy> parse_failure_strategy(std::string_view name);

/// A batch_worker's `batch_config` (tasker-core's fields and ranges).
struct BatchConfig {
  int batch_size{1000};  ///< 1..100000, passed to instances in their cursor
  int parallelism{10};   ///< 1..1000: most instances of one batch running at once
  std::string cursor_field{"id"};
  std::string worker_template;  ///< required: the batch_worker step whose instances are made
  FailureStrategy failure_strategy{FailureStrategy::continue_on_failure};
};
inline constexpr int kMaxBatchSize = 100'000;
inline constexpr int kMaxBatchParallelism = 1000;

/// The callables of the waiting steps: every worker claims them and waits
/// itself, on no handler thread (a handler may not register these names).
inline constexpr std::string_view kSignalCallable = "tasker.signal";
inline constexpr std::string_view kSleepCallable = "tasker.sleep";
/// The longest signal name (`signal.name`) and signal key, in bytes.
inline constexpr std::size_t kMaxSignalNameLength = 200;

/// What a signal step waits for. Kept as its handler's initialization
/// (to_json), so the worker that claims the step reads it from the claim.
struct SignalSpec {
  std::string name;                      ///< the signal's name; default: the step's name
  std::optional<int> timeout_seconds{};  ///< none: wait for ever
  bool complete_on_timeout{false};       ///< on_timeout: complete (else fail, error_type signal_timeout)
  json on_timeout_result = json::object();
};
/// How long a sleep step sleeps: exactly one of the two.
struct SleepSpec {
  std::optional<long long> seconds{};
  std::string until;  ///< `context.a.b` or `<dependency>.<field>...`: an RFC 3339 time
};
[[nodiscard]] json to_json(const SignalSpec& spec);
/// The inverse of to_json(SignalSpec), from a signal step's initialization;
/// `step_name` is the name when the spec names none.
[[nodiscard]] SignalSpec signal_spec_from_json(const json& initialization, const std::string& step_name);
[[nodiscard]] json to_json(const SleepSpec& spec);
inline constexpr long long kMaxSleepSeconds = 10LL * 365 * 24 * 3600;

/// Default timeout of a step when the template gives none.
inline constexpr int kDefaultTimeoutSeconds = 30;
inline constexpr int kMaxTimeoutSeconds = 7 * 24 * 3600;

struct StepTemplate {
  std::string name;
  std::string description;
  HandlerSpec handler;
  std::vector<std::string> dependencies;  ///< names of steps that must complete first
  RetryPolicy retry;
  int timeout_seconds{kDefaultTimeoutSeconds};
  StepType type{StepType::standard};
  std::optional<BatchConfig> batch_config;  ///< batch_worker steps only
  std::optional<SignalSpec> signal;         ///< signal steps only
  std::optional<SleepSpec> sleep;           ///< sleep steps only
  json extra = json::object();              ///< keys tasker does not act on yet, preserved

  SourceLocation location;                           ///< of the step's `name:`
  std::vector<SourceLocation> dependency_locations;  ///< parallel to `dependencies`
  SourceLocation batch_config_location;              ///< of `batch_config:`, when given
  SourceLocation worker_template_name_location;      ///< of `handler.initialization.worker_template_name`, when given

  /// True for a signal or sleep step: its handler is tasker's own, run by every
  /// worker without registering anything (docs/templates.md, "Waiting steps").
  [[nodiscard]] bool waits() const { return type == StepType::signal || type == StepType::sleep; }
};

/// A namespaced, versioned DAG of steps, with the active environment's
/// overrides already merged in.
struct TaskTemplate {
  std::string name;
  std::string namespace_name;
  std::string version;
  std::string description;
  json metadata = json::object();
  IdentityStrategy identity_strategy{IdentityStrategy::strict};
  std::vector<StepTemplate> steps;
  json extra = json::object();  ///< top-level keys tasker does not act on yet, preserved
  std::string environment;      ///< the environment whose overrides were applied
  SourceLocation location;      ///< of the template (file, and the document's first line)

  /// `namespace/name@version`, how templates are named in messages and the CLI.
  [[nodiscard]] std::string qualified_name() const;
  /// The step with this name, or nullptr.
  [[nodiscard]] const StepTemplate* find_step(std::string_view step_name) const;
  /// True when a step is created at run time (a decision, batch or convergence step).
  /// A waiting step (signal, sleep) is not one.
  [[nodiscard]] bool has_dynamic_steps() const;
};

}  // namespace tasker
