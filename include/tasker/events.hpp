#pragma once
// In-process lifecycle events (design.md, "Wake-ups and events"). Events are
// published after the transaction that caused them commits.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
}  // namespace events

struct LifecycleEvent {
  std::string name;  ///< one of tasker::events
  TimePoint at;
  std::string task_uuid;
  std::string step_name;  ///< empty for task events
  json payload = json::object();
};

/// Fan-out of lifecycle events to subscribers. Thread-safe. A subscriber that
/// throws is logged and skipped: it never fails a step or another subscriber.
/// Subscribers run on the publishing thread (a worker's coordinator): keep them quick.
class EventBus {
 public:
  using Handler = std::function<void(const LifecycleEvent&)>;
  using SubscriptionId = std::size_t;

  /// `pattern`: an event name, a prefix ending in `*` (`step.*`), or `*` for all.
  SubscriptionId subscribe(std::string pattern, Handler handler);
  /// After this returns the handler is not running and never runs again, so
  /// what it captured may be destroyed. May be called from the handler itself.
  void unsubscribe(SubscriptionId id);
  void publish(const LifecycleEvent& event) const noexcept;
  void publish(const std::vector<LifecycleEvent>& events) const noexcept;
  /// Subscriber exceptions caught so far (also logged).
  [[nodiscard]] std::size_t subscriber_failures() const;

 private:
  struct Subscription {
    SubscriptionId id;
    std::string pattern;
    Handler handler;
    std::recursive_mutex delivering;  ///< held while the handler runs; unsubscribe waits on it
    bool active{true};
  };
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;
  SubscriptionId next_id_{1};
  mutable std::size_t failures_{0};
};

}  // namespace tasker
