#pragma once
// Which ticks of a schedule a worker fires now (docs/schedules.md, "Catch-up"):
// pure arithmetic over a cron expression, the stored next tick and the time.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/cron.hpp"
#include "tasker/schedule.hpp"

namespace tasker::detail {

/// The most tasks one schedule creates in one transaction (catch-up all);
/// the rest stay due and the next pass continues with them.
inline constexpr int kMaxTicksPerFiring = 100;

struct TickPlan {
  std::vector<TimePoint> fire;  ///< oldest first
  std::int64_t missed{0};       ///< ticks dropped by the policy
  std::optional<TimePoint> latest_missed;
  std::optional<TimePoint> next;  ///< the stored next tick after this firing; nullopt: none
};

/// The ticks due at `now` from `next_tick` on (inclusive) under `policy`.
/// `all` keeps the latest kMaxCatchUpTicks and fires up to kMaxTicksPerFiring
/// of them (then `next` is the first one left); `latest` the last; `none` the
/// last only when it is at most `grace` old. A walk over more than 100,000
/// due ticks (a per-second schedule down for a day) jumps to the last day and
/// counts what it skipped as missed without enumerating it.
[[nodiscard]] TickPlan plan_ticks(const CronExpression& cron, std::string_view time_zone, TimePoint next_tick,
                                  TimePoint now, ScheduleCatchUp policy, std::chrono::milliseconds grace);

/// The identity hash of the task for `tick` of schedule `name` (a trigger by
/// an operator has its own, so it never takes a tick's place).
[[nodiscard]] std::string schedule_identity_hash(std::string_view name, TimePoint tick, bool triggered);

/// Throws InvalidRequestError unless `name` is 1..kMaxScheduleNameLength of letters, digits, `_`, `-`, `.`.
void check_schedule_name(std::string_view name);

}  // namespace tasker::detail
