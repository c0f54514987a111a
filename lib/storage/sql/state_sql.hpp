#pragma once
// The state machine (tasker/states.hpp, model/state_machine.hpp) as SQL: the
// fragments every statement and server function is written with, so that a
// rule exists once and both implementations of a write (statements, server
// functions) and the claim read it from the same place. State names appear
// in the store's SQL only through these functions.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/state_machine.hpp"
#include "tasker/states.hpp"

namespace tasker::detail::sql {

/// A state's name as an SQL string literal: `'in_progress'`.
[[nodiscard]] std::string literal(StepState s);
[[nodiscard]] std::string literal(TaskState s);
/// `column IN ('a', 'b')` for the members of `set` (FALSE for none).
[[nodiscard]] std::string in_states(std::string_view column, StepStates set);
/// `column IN (...)` for the task states that are final.
[[nodiscard]] std::string in_terminal_task_states(std::string_view column);

/// The SQL expressions a task's state is derived from (TaskFacts).
struct TaskFactsSql {
  std::string state;                                       ///< the task's state before the transaction (text)
  std::string started;                                     ///< boolean: a step of the task was claimed in it
  std::string total, completed, resolved, failed, active;  ///< the counters after it (integers)
};
/// `CASE ... END`: the task's new state by model::decide_task_state.
[[nodiscard]] std::string task_state_case(const TaskFactsSql& facts);
/// `CASE ... END`: the reason of the transition to that state.
[[nodiscard]] std::string task_reason_case(const TaskFactsSql& facts);

/// An integer expression: what a step moving from `from` (a state name, NULL
/// for a creation) to `to` changes in counter `c` (model::count_move).
[[nodiscard]] std::string count_move_sql(TaskCounter c, std::string_view from, std::string_view to);
/// A boolean expression: the move from `from` to `to` is a claim.
[[nodiscard]] std::string is_claim_sql(std::string_view from, std::string_view to);

/// The order in which claimable steps are taken, over table alias `t`
/// ("" for none): higher priority first, then the longest claimable.
[[nodiscard]] std::string claim_order(std::string_view t);
/// The claimable steps due at parameter `now`, over alias `t` ("" for none).
/// The partial index predicates (claimable_at IS NOT NULL) are implied by it.
[[nodiscard]] std::string claimable_due(std::string_view t, std::string_view now);

/// More placeholders for render_sql: the text for `name` and its arguments, or nullopt.
using Fragments =
    std::function<std::optional<std::string>(std::string_view name, const std::vector<std::string>& args)>;

/// Fill `{{name}}` and `{{name:arg,arg,...}}` placeholders of an SQL file from
/// the fragments above: `{{step:NAME}}`, `{{task:NAME}}` (a literal),
/// `{{steps:SET,COLUMN}}` (in_states; SET is claimable, holds_worker,
/// terminal, unfinished, active, satisfies_dependents, not_running),
/// `{{terminal_task:COLUMN}}`, `{{move_from:MOVE,COLUMN}}` (the states a
/// step move leaves), `{{move_to:MOVE}}` (the state it enters), `{{move_reason:MOVE}}`,
/// `{{task_state:STATE,STARTED,TOTAL,COMPLETED,RESOLVED,FAILED,ACTIVE}}`,
/// `{{task_reason:...}}` (the same arguments), `{{count_move:COUNTER,FROM,TO}}`,
/// `{{is_claim:FROM,TO}}`, `{{claim_order:ALIAS}}`, `{{claimable_due:ALIAS,NOW}}`,
/// `{{callable:signal}}` and `{{callable:sleep}}` (the reserved callable of a
/// waiting step, a literal), then whatever `extra` knows. Throws std::invalid_argument naming an unknown
/// placeholder, state, set or move: a typo fails the build's tests, not a claim.
[[nodiscard]] std::string render_sql(std::string_view text, const Fragments& extra = nullptr);

}  // namespace tasker::detail::sql
