#pragma once
// A claimed step on its way through a handler thread: running its handler and
// turning what the handler returned or threw into the outcome the worker records.
#include <atomic>
#include <functional>
#include <memory>

#include "tasker/clock.hpp"
#include "tasker/handler.hpp"
#include "tasker/limits.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

struct Job {
  ClaimedStep step;
  TimePoint deadline;
  StepControls controls;  ///< wired to the coordinator: cancel flag, heartbeat, checkpoints, result lookups
  std::shared_ptr<const HandlerRegistry> handlers;
  const Clock* clock;
  JsonLimits limits;  ///< on the handler's result (and its failure's context)

  /// Run the handler (on a handler thread). Never throws: every failure
  /// becomes a failure outcome with an error_type saying what kind.
  [[nodiscard]] StepOutcome run() const;
};

/// The one message for an attempt that ran past its timeout_seconds, whichever
/// part of the worker noticed first (the coordinator's deadline, or a command
/// handler's own clock): both know the deadline (a handler does not know its
/// step's timeout_seconds, only when the attempt must end).
[[nodiscard]] std::string timeout_message(TimePoint deadline);

}  // namespace tasker::detail
