#pragma once
// The in-process event bus: lifecycle events (tasker/lifecycle.hpp) fanned out to subscribers after
// the transaction that caused them commits.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tasker/lifecycle.hpp"

namespace tasker {

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
