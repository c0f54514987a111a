#pragma once
// The lifecycle events a state change stands for. A transition row is the one
// record of what happened (docs/architecture.md, "One event record"): the audit
// trail reads it back, and the events the store hands to the event bus are
// derived from the same rows, inside the transaction that wrote them, by
// this function, on every path (statements and server functions).
#include <optional>
#include <vector>

#include "tasker/json.hpp"
#include "tasker/lifecycle.hpp"
#include "tasker/task.hpp"

namespace tasker::detail {

/// The events of `t` (none for most moves: a step created pending, a
/// cancelled step, a task resuming). `result` is the result a step completed
/// with, which the step row keeps rather than the transition.
[[nodiscard]] std::vector<LifecycleEvent> events_of(const Transition& t, const std::optional<json>& result);

}  // namespace tasker::detail
