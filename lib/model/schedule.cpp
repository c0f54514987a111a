#include <fmt/format.h>

#include <cctype>
#include <deque>

#include "model/schedule_ticks.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"
#include "tasker/schedule.hpp"
#include "tasker/task.hpp"

namespace tasker {

std::string_view to_string(ScheduleOverlap overlap) {
  switch (overlap) {
    case ScheduleOverlap::allow: return "allow";
    case ScheduleOverlap::skip: return "skip";
  }
  return "unknown";
}

std::optional<ScheduleOverlap> parse_schedule_overlap(std::string_view name) {
  for (auto o : {ScheduleOverlap::allow, ScheduleOverlap::skip})
    if (to_string(o) == name) return o;
  return std::nullopt;
}

std::string_view to_string(ScheduleCatchUp catch_up) {
  switch (catch_up) {
    case ScheduleCatchUp::none: return "none";
    case ScheduleCatchUp::latest: return "latest";
    case ScheduleCatchUp::all: return "all";
  }
  return "unknown";
}

std::optional<ScheduleCatchUp> parse_schedule_catch_up(std::string_view name) {
  for (auto c : {ScheduleCatchUp::none, ScheduleCatchUp::latest, ScheduleCatchUp::all})
    if (to_string(c) == name) return c;
  return std::nullopt;
}

json to_json(const ScheduleView& s) {
  auto time_or_null = [](const std::optional<TimePoint>& t) { return t ? json(format_time(*t)) : json(nullptr); };
  return {{"name", s.name},
          {"namespace", s.namespace_name},
          {"task_name", s.task_name},
          {"version", s.version},
          {"cron", s.cron},
          {"time_zone", s.time_zone},
          {"context", s.context},
          {"overlap", std::string(to_string(s.overlap))},
          {"catch_up", std::string(to_string(s.catch_up))},
          {"paused", s.paused},
          {"next_tick", time_or_null(s.next_tick)},
          {"last_tick", time_or_null(s.last_tick)},
          {"last_task_uuid", s.last_task_uuid.empty() ? json(nullptr) : json(s.last_task_uuid)},
          {"created_at", format_time(s.created_at)},
          {"updated_at", format_time(s.updated_at)}};
}

namespace detail {

TickPlan plan_ticks(const CronExpression& cron, std::string_view time_zone, TimePoint next_tick, TimePoint now,
                    ScheduleCatchUp policy, std::chrono::milliseconds grace) {
  constexpr std::int64_t kMaxWalk = 100'000;
  const std::size_t keep = policy == ScheduleCatchUp::all ? static_cast<std::size_t>(kMaxCatchUpTicks) : 1;
  TickPlan plan;
  std::deque<TimePoint> due;
  std::int64_t walked = 0;
  std::optional<TimePoint> t = next_tick;
  while (t && *t <= now) {
    due.push_back(*t);
    if (due.size() > keep) {
      ++plan.missed;
      plan.latest_missed = due.front();
      due.pop_front();
    }
    if (++walked == kMaxWalk && now - *t > std::chrono::hours{24}) {
      // Skip to the last day; what lies between is missed, uncounted beyond this walk.
      plan.missed += static_cast<std::int64_t>(due.size());
      plan.latest_missed = due.back();
      due.clear();
      t = cron.next_after(now - std::chrono::hours{24}, time_zone);
      continue;
    }
    t = cron.next_after(*t, time_zone);
  }
  plan.next = t;
  if (policy == ScheduleCatchUp::none && !due.empty() && now - due.back() > grace) {
    ++plan.missed;
    plan.latest_missed = due.back();
    due.clear();
  }
  if (due.size() > static_cast<std::size_t>(kMaxTicksPerFiring)) {
    plan.next = due[static_cast<std::size_t>(kMaxTicksPerFiring)];
    due.resize(static_cast<std::size_t>(kMaxTicksPerFiring));
  }
  plan.fire.assign(due.begin(), due.end());
  return plan;
}

std::string schedule_identity_hash(std::string_view name, TimePoint tick, bool triggered) {
  return sha256_hex(
      fmt::format("{}|{}:{}|{}", triggered ? "schedule-trigger" : "schedule", name.size(), name, to_epoch_ms(tick)));
}

void check_schedule_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxScheduleNameLength)
    throw InvalidRequestError(
        fmt::format("a schedule name has 1..{} characters, not {}", kMaxScheduleNameLength, name.size()));
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      throw InvalidRequestError(fmt::format(
          "schedule name `{}` has `{}`; use letters, digits, `_`, `-` and `.` (e.g. nightly-export)", name, c));
}

}  // namespace detail
}  // namespace tasker
