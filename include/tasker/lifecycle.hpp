#pragma once
// Lifecycle events: what happened to a task or a step, as plain values (docs/design.md, "Wake-ups and
// events"). The store produces them inside the transaction that caused them; the engine publishes them
// on an EventBus (tasker/events.hpp) once that transaction has committed.
#include <string>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"

namespace tasker {

namespace events {
inline constexpr const char* kTaskCreated = "task.created";
inline constexpr const char* kTaskCompleted = "task.completed";
inline constexpr const char* kTaskFailed = "task.failed";
inline constexpr const char* kTaskCancelled = "task.cancelled";
inline constexpr const char* kStepEnqueued = "step.enqueued";
inline constexpr const char* kStepStarted = "step.execution.started";
inline constexpr const char* kStepCompleted = "step.completed";
inline constexpr const char* kStepFailed = "step.failed";
inline constexpr const char* kStepRetryScheduled = "step.retry_scheduled";
/// A signal or sleep step began to wait (payload: signal or wake_at).
inline constexpr const char* kStepWaiting = "step.waiting";
}  // namespace events

struct LifecycleEvent {
  std::string name;  ///< one of tasker::events
  TimePoint at;
  std::string task_uuid;
  std::string step_name;  ///< empty for task events
  json payload = json::object();
};

}  // namespace tasker
