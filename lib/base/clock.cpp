#include "tasker/clock.hpp"

#include <algorithm>

namespace tasker {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

bool SystemClock::wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                             const std::function<bool()>& ready) const {
  // A relative wait on the steady clock: a wall-clock jump neither cuts it short nor stretches it.
  auto remaining = std::max(std::chrono::milliseconds{0}, deadline - now());
  return cv.wait_for(lock, remaining, ready);
}

// The waiter registers with its mutex released, and advance() notifies while
// holding that mutex: so a move between the waiter's last look at the time
// and its sleep cannot be missed, and the two locks are never taken in
// opposite orders (advance: registry, then waiter; waiter: never both).
bool ManualClock::wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                             const std::function<bool()>& ready) const {
  const Waiter self{&cv, lock.mutex()};
  lock.unlock();
  {
    std::lock_guard registry(waiters_mutex_);
    waiters_.push_back(&self);
  }
  lock.lock();
  while (!ready() && now() < deadline) cv.wait(lock);
  const bool result = ready();
  lock.unlock();
  {
    std::lock_guard registry(waiters_mutex_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  }
  lock.lock();
  return result;
}

void ManualClock::advance(std::chrono::milliseconds by) {
  now_ms_ += by.count();
  wake_waiters();
}

void ManualClock::set(TimePoint t) {
  now_ms_ = t.time_since_epoch().count();
  wake_waiters();
}

void ManualClock::wake_waiters() {
  std::lock_guard registry(waiters_mutex_);
  for (const Waiter* w : waiters_) {
    std::lock_guard waiter(*w->mutex);
    w->cv->notify_all();
  }
}

}  // namespace tasker
