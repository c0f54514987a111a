#pragma once
// Steps created at run time, inside the write transaction that records the
// decision's or batchable step's result asking for them (tasker-core creates
// them afterwards, in another transaction, and a failure there is only
// logged). The plans come from the model (tasker/dynamic.hpp); this inserts
// their rows and edges.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/step_writes.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/template.hpp"

namespace tasker::detail::sql {

/// The plans of one transaction. Not thread-safe; lives as long as its WriteTx.
class Expansions {
 public:
  Expansions(WriteTx& tx, ExpansionLimits limits) : tx_(tx), limits_(limits) {}

  /// Plan what `creator`'s `result` creates (a no-op for standard steps).
  /// Throws PermanentError (invalid_decision_outcome, invalid_batch_outcome)
  /// naming the problem: the caller records the step as failed instead.
  void plan(const LockedStep& creator, const json& result);

  /// Insert every planned step and edge. Call after the outcomes' own updates
  /// and before advance_children(`satisfied`), which then enqueues the new
  /// steps whose parents are all satisfied.
  void apply(const std::vector<std::int64_t>& satisfied);

  /// The task's template definition (kept when it was submitted).
  const TaskTemplate& definition(std::int64_t task_id) { return task(task_id).tmpl; }

 private:
  struct Existing {
    std::int64_t id;
    StepState state;
  };
  struct TaskSteps {
    TaskTemplate tmpl;
    std::string namespace_name;
    std::int64_t priority{0};
    std::unordered_map<std::string, Existing> steps;
    std::int64_t next_position{0};
  };
  struct Planned {
    std::int64_t task_id;
    LockedStep creator;
    Expansion plan;
    std::optional<json> child_results;  ///< a batchable step's result without its cursor list
  };

  TaskSteps& task(std::int64_t task_id);
  void insert(const Planned& p, const std::vector<std::int64_t>& satisfied);

  WriteTx& tx_;
  ExpansionLimits limits_;
  std::map<std::int64_t, TaskSteps> tasks_;
  std::vector<Planned> planned_;
};

}  // namespace tasker::detail::sql
