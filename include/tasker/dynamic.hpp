#pragma once
// Steps created at run time (docs/templates.md, "Dynamic steps"): which steps
// of a template exist when a task is created, and which steps a decision's or
// a batchable step's outcome creates, with their edges. Pure functions over
// the template; the store applies a plan inside the transaction that records
// the outcome, so a task never goes on without the steps its outcome promised.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/json.hpp"
#include "tasker/template.hpp"

namespace tasker {

/// Which steps (by template index) a new task has: every step but batch
/// workers, convergence steps and the descendants of decision steps, and but
/// any step depending on one that is not created (it comes when its
/// dependencies do). Static templates: all steps.
[[nodiscard]] std::vector<bool> initially_created(const TaskTemplate& tmpl);

/// What is wrong with a template's dynamic steps, as located diagnostics: a
/// decision without dependencies, a batchable step's worker_template_name or
/// a batch_config.worker_template that names no batch_worker, a batch_worker
/// without batch_config, a deferred_convergence step nothing can ever create.
[[nodiscard]] std::vector<Diagnostic> validate_dynamic_steps(const TaskTemplate& tmpl);

/// A step a plan creates.
struct PlannedStep {
  std::string name;            ///< the template step's name, or `T_{batch_id}` for an instance of batch_worker T
  std::size_t template_index;  ///< the template step it is made from
  json initialization;         ///< its handler.initialization (an instance's carries its cursor)
};

/// What an outcome creates: steps, and edges (parent name, child name) among
/// them and the task's existing steps.
struct Expansion {
  std::vector<PlannedStep> steps;
  std::vector<std::pair<std::string, std::string>> edges;
  /// Each batch instance (by index in `steps`) must wait for a parallelism
  /// slot: at most BatchConfig::parallelism of one batch run at once.
  std::vector<std::size_t> waiting_for_slot;
};

/// Error types of outcomes that cannot be applied; the step that produced
/// one fails permanently with it (PermanentError::error_type()).
inline constexpr const char* kInvalidDecisionOutcome = "invalid_decision_outcome";
inline constexpr const char* kInvalidBatchOutcome = "invalid_batch_outcome";

/// Limits on what one outcome may create.
struct ExpansionLimits {
  std::size_t max_steps_per_decision{100};
  std::size_t max_batch_workers{100'000};
};

/// Whether the task already has a step of this name.
using StepExists = std::function<bool(std::string_view step_name)>;

/// The steps decision step `decision` creates from its handler's `result`
/// (`{"decision_point_outcome": {"type": "create_steps", "step_names": [...]}}`
/// or `{"type": "no_branches"}`). Throws PermanentError with error_type
/// kInvalidDecisionOutcome, naming the problem, when the outcome is missing or
/// malformed, names an unknown step or one outside the decision's segment, or
/// exceeds the limit.
[[nodiscard]] Expansion plan_decision(const TaskTemplate& tmpl, std::string_view decision, const json& result,
                                      const StepExists& exists, const ExpansionLimits& limits = {});

/// The batch worker instances (and the convergence steps waiting for them)
/// batchable step `batchable` creates from its handler's `result`
/// (`{"batch_processing_outcome": {"type": "create_batches", "worker_template_name": T,
/// "cursor_configs": [...]}}` or `{"type": "no_batches"}`). Throws PermanentError
/// with error_type kInvalidBatchOutcome, naming the problem.
[[nodiscard]] Expansion plan_batches(const TaskTemplate& tmpl, std::string_view batchable, const json& result,
                                     const StepExists& exists, const ExpansionLimits& limits = {});

/// What the store keeps of a template whose tasks create steps at run time:
/// each step's name, type, dependencies, callable, initialization, retry,
/// timeout and batch_config. template_from_definition reads it back.
[[nodiscard]] json template_definition(const TaskTemplate& tmpl);
[[nodiscard]] TaskTemplate template_from_definition(const json& definition);

}  // namespace tasker
