#include "engine/schedule_firer.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "tasker/task.hpp"

namespace tasker::detail {

ScheduleFirer::ScheduleFirer(std::shared_ptr<Store> store, const Clock& clock, std::shared_ptr<EventBus> events,
                             std::chrono::milliseconds poll_interval, std::chrono::milliseconds misfire_grace,
                             std::string worker_id)
    : store_(std::move(store)),
      clock_(clock),
      events_(std::move(events)),
      poll_interval_(poll_interval),
      misfire_grace_(misfire_grace),
      worker_id_(std::move(worker_id)),
      loop_(clock) {}

void ScheduleFirer::start() {
  loop_.start([this] { return fire_once(); });
}

namespace {

void log_ticks(const FireResult& fired, const std::string& worker_id) {
  for (const auto& t : fired.ticks) {
    switch (t.outcome) {
      case FiredTick::Outcome::created:
        log().info("schedule {}: tick {} created task {} ({})", t.schedule, format_time(t.tick), t.task_uuid,
                   worker_id);
        break;
      case FiredTick::Outcome::already_created:
        log().warn("schedule {}: tick {} had its task already ({})", t.schedule, format_time(t.tick), t.task_uuid);
        break;
      case FiredTick::Outcome::skipped_overlap:
        log().info("schedule {}: tick {} skipped: its previous task is unfinished (overlap: skip)", t.schedule,
                   format_time(t.tick));
        break;
      case FiredTick::Outcome::missed:
        log().warn("schedule {}: {} tick(s) up to {} missed while no worker fired them (catch-up policy)", t.schedule,
                   t.count, format_time(t.tick));
        break;
    }
  }
}

}  // namespace

TimePoint ScheduleFirer::fire_once() {
  TimePoint now = clock_.now();
  TimePoint again = now + poll_interval_;
  try {
    const auto next = store_->next_schedule_tick();
    if (next && *next <= now) {
      // A few schedules per call, each with a fresh reading of the clock, so
      // that a task's created_at says when its transaction ran, also when a
      // thousand schedules fall due at once.
      constexpr int kRounds = 10'000;
      bool any = false;
      for (int round = 0; round < kRounds; ++round) {
        FireResult fired = store_->fire_schedules(FireRequest{.limit = 8, .misfire_grace = misfire_grace_}, now);
        if (events_) events_->publish(fired.events);
        log_ticks(fired, worker_id_);
        if (fired.ticks.empty()) break;
        any = true;
        now = clock_.now();
        if (loop_.stopping()) break;
      }
      // Nothing fired although something was due: another worker holds those rows; give it a moment.
      again = any ? now : now + std::chrono::milliseconds{50};
    } else if (next) {
      again = std::min(again, *next);
    }
    warned_ = false;
  } catch (const std::exception& e) {
    if (!warned_)
      log().warn("worker {}: firing schedules failed: {} (trying again every {} ms)", worker_id_, e.what(),
                 poll_interval_.count());
    warned_ = true;
  }
  return again;
}

}  // namespace tasker::detail
