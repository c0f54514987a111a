#include "storage/sql/schedules.hpp"

#include <fmt/format.h>

#include "model/schedule_ticks.hpp"
#include "storage/sql/task_creation.hpp"
#include "storage/sql/values.hpp"
#include "tasker/cron.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"
#include "tasker/states.hpp"
#include "tasker/task.hpp"

namespace tasker::detail::sql {

namespace {

constexpr const char* kColumns =
    "name, namespace_name, task_name, version, template_definition, context, cron, time_zone, overlap, catch_up, "
    "paused, next_tick, last_tick, last_task_uuid, created_at, updated_at, id";
constexpr std::size_t kIdColumn = 16;

std::optional<TimePoint> optional_time(const Rows& r, std::size_t row, std::size_t col) {
  auto v = r.optional_integer(row, col);
  return v ? std::optional<TimePoint>(from_epoch_ms(*v)) : std::nullopt;
}

Param optional_ms(const std::optional<TimePoint>& t) { return t ? Param{ms(*t)} : Param{nullptr}; }

ScheduleRecord record_from(const Rows& r, std::size_t i) {
  ScheduleRecord s;
  ScheduleView& v = s.view;
  v.name = r.text(i, 0);
  v.namespace_name = r.text(i, 1);
  v.task_name = r.text(i, 2);
  v.version = r.text(i, 3);
  s.template_definition = parse_json(r.rows[i][4]);
  v.context = parse_json(r.rows[i][5]);
  v.cron = r.text(i, 6);
  v.time_zone = r.text(i, 7);
  v.overlap = parse_schedule_overlap(r.text(i, 8)).value_or(ScheduleOverlap::allow);
  v.catch_up = parse_schedule_catch_up(r.text(i, 9)).value_or(ScheduleCatchUp::latest);
  v.paused = r.integer(i, 10) != 0;
  v.next_tick = optional_time(r, i, 11);
  v.last_tick = optional_time(r, i, 12);
  v.last_task_uuid = r.text_or(i, 13, "");
  v.created_at = from_epoch_ms(r.integer(i, 14));
  v.updated_at = from_epoch_ms(r.integer(i, 15));
  return s;
}

/// The task a tick creates: the schedule's context with the tick under kScheduleContextKey.
TaskRequest request_for(const ScheduleView& v, TimePoint tick, bool triggered) {
  TaskRequest r;
  r.namespace_name = v.namespace_name;
  r.name = v.task_name;
  r.version = v.version;
  r.context = v.context;
  r.context[std::string(kScheduleContextKey)] = {
      {"name", v.name}, {"tick", format_time(tick)}, {"triggered", triggered}};
  r.initiator = std::string(kScheduleInitiatorPrefix) + v.name;
  r.source_system = "tasker";
  r.reason = triggered ? fmt::format("schedule {} triggered by an operator", v.name)
                       : fmt::format("schedule {}: tick {}", v.name, format_time(tick));
  return r;
}

/// Creates the task of `tick` unless it exists; returns its uuid and whether this created it.
std::pair<std::string, bool> create_tick_task(WriteTx& tx, const ScheduleRecord& s, const TaskTemplate& tmpl,
                                              TimePoint tick, bool triggered, const TaskCreator& create) {
  const std::string hash = schedule_identity_hash(s.view.name, tick, triggered);
  const TaskRequest request = request_for(s.view, tick, triggered);
  const TaskPlan plan = plan_task(tmpl, request, hash, tx.now);
  std::string uuid = create(tx, plan);
  const bool created = uuid == plan.task_uuid;
  return {std::move(uuid), created};
}

bool unfinished(Connection& c, const std::string& task_uuid) {
  if (task_uuid.empty()) return false;
  Param u{task_uuid};
  Rows r = c.query("SELECT state FROM tasker_tasks WHERE uuid = $1", {&u, 1});
  return !r.empty() && !is_terminal(task_state_from(r.text(0, 0)));
}

void record_fired(Connection& c, std::int64_t id, const std::optional<TimePoint>& next,
                  const std::optional<TimePoint>& last_tick, const std::string& last_task_uuid) {
  std::vector<Param> p{optional_ms(next), optional_ms(last_tick),
                       last_task_uuid.empty() ? Param{nullptr} : Param{last_task_uuid}, id};
  c.query("UPDATE tasker_schedules SET next_tick = $1, last_tick = $2, last_task_uuid = $3 WHERE id = $4", p);
}

}  // namespace

namespace {

/// The parameters `name, <the definition's columns>, now` that insert and update share:
/// context, cron, time_zone, overlap, catch_up, paused, next_tick are $2..$8, now $9.
std::vector<Param> definition_params(const ScheduleView& v, TimePoint now) {
  return {v.name,
          v.context.dump(),
          v.cron,
          v.time_zone,
          std::string(to_string(v.overlap)),
          std::string(to_string(v.catch_up)),
          std::int64_t{v.paused ? 1 : 0},
          optional_ms(v.next_tick),
          ms(now)};
}

}  // namespace

void insert_schedule(Connection& c, const ScheduleRecord& s, TimePoint now) {
  const ScheduleView& v = s.view;
  std::vector<Param> p = definition_params(v, now);
  for (const std::string& text : {v.namespace_name, v.task_name, v.version, s.template_definition.dump()})
    p.emplace_back(text);
  Rows r = c.query(
      "INSERT INTO tasker_schedules (name, context, cron, time_zone, overlap, catch_up, paused, next_tick, "
      "created_at, updated_at, namespace_name, task_name, version, template_definition) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13) ON CONFLICT (name) DO NOTHING RETURNING id",
      p);
  if (r.empty())
    throw ConflictError(
        fmt::format("schedule `{}` exists already; choose another name, or update or delete the existing one", v.name));
}

bool update_schedule_row(Connection& c, const ScheduleRecord& s, TimePoint now) {
  Rows r = c.query(
      "UPDATE tasker_schedules SET context = $2, cron = $3, time_zone = $4, overlap = $5, catch_up = $6, paused = $7, "
      "next_tick = $8, updated_at = $9 WHERE name = $1 RETURNING id",
      definition_params(s.view, now));
  return !r.empty();
}

std::optional<ScheduleRecord> load_schedule(Connection& c, const std::string& name) {
  Param n{name};
  Rows r = c.query(fmt::format("SELECT {} FROM tasker_schedules WHERE name = $1", kColumns), {&n, 1});
  if (r.empty()) return std::nullopt;
  return record_from(r, 0);
}

std::vector<ScheduleView> load_schedules(Connection& c) {
  Rows r = c.query(fmt::format("SELECT {} FROM tasker_schedules ORDER BY name", kColumns));
  std::vector<ScheduleView> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(std::move(record_from(r, i).view));
  return out;
}

bool delete_schedule_row(Connection& c, const std::string& name) {
  Param n{name};
  return !c.query("DELETE FROM tasker_schedules WHERE name = $1 RETURNING id", {&n, 1}).empty();
}

std::optional<TimePoint> earliest_schedule_tick(Connection& c) {
  Rows r = c.query(
      "SELECT next_tick FROM tasker_schedules WHERE paused = 0 AND next_tick IS NOT NULL ORDER BY next_tick LIMIT 1");
  if (r.empty()) return std::nullopt;
  return from_epoch_ms(r.integer(0, 0));
}

std::vector<FiredTick> fire_due(WriteTx& tx, const FireRequest& request, int batch, const TaskCreator& create) {
  // The CAS: only rows still due inside this transaction are fired. PostgreSQL
  // skips rows another worker has locked; SQLite has one writer at a time.
  std::vector<Param> p{ms(tx.now), std::int64_t{batch}};
  Rows due = tx.c.query(fmt::format("SELECT {} FROM tasker_schedules WHERE paused = 0 AND next_tick IS NOT NULL AND "
                                    "next_tick <= $1 ORDER BY next_tick, id LIMIT $2{}",
                                    kColumns, tx.dialect.skip_locked),
                        p);
  std::vector<FiredTick> out;
  for (std::size_t i = 0; i < due.size(); ++i) {
    const ScheduleRecord s = record_from(due, i);
    const ScheduleView& v = s.view;
    const TaskTemplate tmpl = template_from_definition(s.template_definition);
    const TickPlan plan =
        plan_ticks(CronExpression::parse(v.cron), v.time_zone, *v.next_tick, tx.now, v.catch_up, request.misfire_grace);
    if (plan.missed > 0) out.push_back({v.name, *plan.latest_missed, FiredTick::Outcome::missed, {}, plan.missed});
    std::optional<TimePoint> last_tick = v.last_tick;
    std::string last_task = v.last_task_uuid;
    for (TimePoint tick : plan.fire) {
      if (v.overlap == ScheduleOverlap::skip && unfinished(tx.c, last_task)) {
        out.push_back({v.name, tick, FiredTick::Outcome::skipped_overlap, {}, 1});
        continue;
      }
      auto [uuid, created] = create_tick_task(tx, s, tmpl, tick, false, create);
      out.push_back(
          {v.name, tick, created ? FiredTick::Outcome::created : FiredTick::Outcome::already_created, uuid, 1});
      last_tick = tick;
      last_task = uuid;
    }
    record_fired(tx.c, due.integer(i, kIdColumn), plan.next, last_tick, last_task);
  }
  return out;
}

std::string trigger(WriteTx& tx, const std::string& name, const TaskCreator& create) {
  Param n{name};
  Rows r = tx.c.query(fmt::format("SELECT {} FROM tasker_schedules WHERE name = $1{}", kColumns, tx.dialect.for_update),
                      {&n, 1});
  if (r.empty()) throw NotFoundError("schedule", name);
  const ScheduleRecord s = record_from(r, 0);
  const TaskTemplate tmpl = template_from_definition(s.template_definition);
  auto [uuid, created] = create_tick_task(tx, s, tmpl, tx.now, true, create);
  if (!created)
    throw ConflictError(fmt::format(
        "schedule `{}` was triggered at this very millisecond already: task {} is that trigger's task; trigger "
        "again to create another",
        name, uuid));
  record_fired(tx.c, r.integer(0, kIdColumn), s.view.next_tick, tx.now, uuid);
  return uuid;
}

}  // namespace tasker::detail::sql
