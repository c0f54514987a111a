#pragma once
// The thread of a worker that fires due cron schedules (docs/schedules.md):
// it sleeps until the earliest next tick (or the poll interval, to see
// schedules other processes create or change), then asks the store to fire
// what is due. Every worker process may run one: the store's row locks and
// the ticks' identity hashes keep each tick to one task. Owns its thread;
// start() and stop() from one thread; stop() is idempotent.
#include <chrono>
#include <memory>
#include <string>

#include "engine/background_loop.hpp"
#include "tasker/clock.hpp"
#include "tasker/events.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

class ScheduleFirer {
 public:
  ScheduleFirer(std::shared_ptr<Store> store, const Clock& clock, std::shared_ptr<EventBus> events,
                std::chrono::milliseconds poll_interval, std::chrono::milliseconds misfire_grace,
                std::string worker_id);
  ~ScheduleFirer() { stop(); }
  ScheduleFirer(const ScheduleFirer&) = delete;
  ScheduleFirer& operator=(const ScheduleFirer&) = delete;

  void start();
  void stop() { loop_.stop(); }
  /// One pass: fire what is due at the clock's now; returns when to look again.
  TimePoint fire_once();

 private:
  std::shared_ptr<Store> store_;
  const Clock& clock_;
  std::shared_ptr<EventBus> events_;
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds misfire_grace_;
  std::string worker_id_;
  bool warned_{false};
  BackgroundLoop loop_;
};

}  // namespace tasker::detail
