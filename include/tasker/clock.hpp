#pragma once
// Time as the engine sees it. Everything that depends on time (backoff,
// leases, timestamps) reads a Clock, so tests can control it.
#include <atomic>
#include <chrono>

namespace tasker {

using Clock_t = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock_t, std::chrono::milliseconds>;

/// Source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const = 0;
};

/// Wall-clock time, truncated to milliseconds (the precision stored).
class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock_t::now());
  }
  /// The process-wide instance.
  static const SystemClock& instance();
};

/// A clock that moves only when told to: for tests of leases and backoff.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::milliseconds{1'700'000'000'000}})
      : now_ms_(start.time_since_epoch().count()) {}
  [[nodiscard]] TimePoint now() const override { return TimePoint{std::chrono::milliseconds{now_ms_.load()}}; }
  void advance(std::chrono::milliseconds by) { now_ms_ += by.count(); }
  void set(TimePoint t) { now_ms_ = t.time_since_epoch().count(); }

 private:
  std::atomic<long long> now_ms_;
};

/// Milliseconds since the Unix epoch (how times are stored).
[[nodiscard]] inline long long to_epoch_ms(TimePoint t) { return t.time_since_epoch().count(); }
[[nodiscard]] inline TimePoint from_epoch_ms(long long ms) { return TimePoint{std::chrono::milliseconds{ms}}; }

}  // namespace tasker
