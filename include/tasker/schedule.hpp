#pragma once
// Cron schedules stored in the database (docs/schedules.md): a template, a
// context and a cron expression in a time zone. Every worker process fires
// the schedules that are due (WorkerOptions::fire_schedules); each tick
// creates exactly one task across any number of processes, whose identity
// is derived from the schedule's name and the tick.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/json.hpp"
#include "tasker/lifecycle.hpp"

namespace tasker {

/// Whether a tick creates a task while the schedule's previous task is unfinished.
enum class ScheduleOverlap {
  allow,  ///< always (the default)
  skip,   ///< no task for this tick; the tick is not made up later
};

/// What a worker does with the ticks that passed while no worker fired them.
enum class ScheduleCatchUp {
  none,    ///< drop them: only a tick fired within the misfire grace (FireRequest) creates a task
  latest,  ///< create one task, for the latest of them (the default)
  all,     ///< create a task for each, oldest first: at most kMaxCatchUpTicks (the latest ones)
};

[[nodiscard]] std::string_view to_string(ScheduleOverlap overlap);
[[nodiscard]] std::optional<ScheduleOverlap> parse_schedule_overlap(std::string_view name);
[[nodiscard]] std::string_view to_string(ScheduleCatchUp catch_up);
[[nodiscard]] std::optional<ScheduleCatchUp> parse_schedule_catch_up(std::string_view name);

/// The longest schedule name; a name is letters, digits, `_`, `-` and `.`.
inline constexpr std::size_t kMaxScheduleNameLength = 128;
/// The most missed ticks `catch-up: all` creates tasks for after downtime.
inline constexpr int kMaxCatchUpTicks = 1000;
/// The context key under which a scheduled task finds its schedule and tick:
/// {"tasker_schedule": {"name": "nightly", "tick": "2026-01-01T00:00:00.000Z", "triggered": false}}.
inline constexpr std::string_view kScheduleContextKey = "tasker_schedule";
/// A scheduled task's initiator is this prefix and the schedule's name.
inline constexpr std::string_view kScheduleInitiatorPrefix = "schedule:";

/// What Client::create_schedule takes.
struct ScheduleRequest {
  std::string name;            ///< unique; see kMaxScheduleNameLength
  std::string namespace_name;  ///< the template, found as submit finds it
  std::string task_name;
  std::string version;  ///< empty: the latest loaded version, pinned when the schedule is created
  std::string cron;     ///< 5 or 6 fields (CronExpression)
  std::string time_zone{"UTC"};
  json context = json::object();  ///< every task's context, plus kScheduleContextKey
  ScheduleOverlap overlap{ScheduleOverlap::allow};
  ScheduleCatchUp catch_up{ScheduleCatchUp::latest};
  bool paused{false};
};

/// Changes to a schedule (Client::update_schedule): each field given replaces
/// the stored one. A new cron or time zone, or a resume, computes the next
/// tick from now; the ticks a paused schedule passed are never made up.
struct ScheduleUpdate {
  std::optional<std::string> cron{};
  std::optional<std::string> time_zone{};
  std::optional<json> context{};
  std::optional<ScheduleOverlap> overlap{};
  std::optional<ScheduleCatchUp> catch_up{};
  std::optional<bool> paused{};
};

struct ScheduleView {
  std::string name;
  std::string namespace_name;
  std::string task_name;
  std::string version;
  std::string cron;
  std::string time_zone;
  json context = json::object();
  ScheduleOverlap overlap{ScheduleOverlap::allow};
  ScheduleCatchUp catch_up{ScheduleCatchUp::latest};
  bool paused{false};
  std::optional<TimePoint> next_tick;  ///< nullopt: the expression names no later time
  std::optional<TimePoint> last_tick;  ///< the last tick (or trigger) that created a task
  std::string last_task_uuid;          ///< that task; empty before the first
  TimePoint created_at;
  TimePoint updated_at;
};

/// The JSON form (CLI --json, the HTTP API): times as RFC 3339 UTC, null when absent.
[[nodiscard]] json to_json(const ScheduleView& schedule);

/// A schedule as the store keeps it: the view and the template's definition
/// (template_definition), so that firing needs no template files.
struct ScheduleRecord {
  ScheduleView view;
  json template_definition;
};

/// What Store::fire_schedules does in one call.
struct FireRequest {
  int limit{100};  ///< the most schedules looked at
  /// catch-up none: a tick fired later than this after its time is dropped as missed.
  std::chrono::milliseconds misfire_grace{std::chrono::seconds{60}};
};

/// What happened to one tick.
struct FiredTick {
  enum class Outcome {
    created,          ///< a task was created for it
    skipped_overlap,  ///< overlap skip: the previous task was unfinished
    missed,           ///< dropped by the catch-up policy
    already_created,  ///< its task existed (the same tick fired before): nothing new
  };
  std::string schedule;
  TimePoint tick;
  Outcome outcome{Outcome::created};
  std::string task_uuid;  ///< when created
  /// missed: how many ticks this entry stands for (the latest of them is `tick`).
  std::int64_t count{1};
};

struct FireResult {
  std::vector<FiredTick> ticks;
  std::vector<LifecycleEvent> events;  ///< the created tasks', to publish; already committed
};

}  // namespace tasker
