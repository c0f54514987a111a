#pragma once
// Time as the engine sees it. Everything that depends on time (backoff,
// leases, timeouts, timestamps) reads a Clock, and every wait for a moment
// goes through one, so tests can control time: a ManualClock wakes the
// threads waiting on it whenever it is moved.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

namespace tasker {

using Clock_t = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock_t, std::chrono::milliseconds>;

/// Source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const = 0;
  /// Wait on `cv`, whose mutex `lock` holds, until `ready()` holds or this
  /// clock reaches `deadline`; returns ready(). Like condition_variable::wait_until,
  /// but in this clock's time.
  virtual bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                          const std::function<bool()>& ready) const = 0;
};

/// Wall-clock time, truncated to milliseconds (the precision stored).
class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock_t::now());
  }
  bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                  const std::function<bool()>& ready) const override;
  /// The process-wide instance.
  static const SystemClock& instance();
};

/// A clock that moves only when told to: for tests of leases, timeouts and
/// backoff. Moving it wakes every thread waiting on it, which then sees the new time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::milliseconds{1'700'000'000'000}})
      : now_ms_(start.time_since_epoch().count()) {}
  [[nodiscard]] TimePoint now() const override { return TimePoint{std::chrono::milliseconds{now_ms_.load()}}; }
  bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                  const std::function<bool()>& ready) const override;
  void advance(std::chrono::milliseconds by);
  void set(TimePoint t);

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mutex;
  };
  void wake_waiters();

  std::atomic<long long> now_ms_;
  mutable std::mutex waiters_mutex_;
  mutable std::vector<const Waiter*> waiters_;
};

/// Milliseconds since the Unix epoch (how times are stored).
[[nodiscard]] inline long long to_epoch_ms(TimePoint t) { return t.time_since_epoch().count(); }
[[nodiscard]] inline TimePoint from_epoch_ms(long long ms) { return TimePoint{std::chrono::milliseconds{ms}}; }

}  // namespace tasker
