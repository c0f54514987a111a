#pragma once
// Schedules in SQL (docs/schedules.md): the rows of tasker_schedules, and
// firing them: lock due rows (others skip them), create each tick's task with
// the tick's identity hash, advance next_tick, all in the caller's write
// transaction.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/task_creation.hpp"
#include "tasker/schedule.hpp"

namespace tasker::detail::sql {

/// Throws InvalidRequestError when the name is taken.
void insert_schedule(Connection& c, const ScheduleRecord& s, TimePoint now);
/// Returns false when there is no such schedule.
bool update_schedule_row(Connection& c, const ScheduleRecord& s, TimePoint now);
[[nodiscard]] std::optional<ScheduleRecord> load_schedule(Connection& c, const std::string& name);
[[nodiscard]] std::vector<ScheduleView> load_schedules(Connection& c);
bool delete_schedule_row(Connection& c, const std::string& name);
[[nodiscard]] std::optional<TimePoint> earliest_schedule_tick(Connection& c);

/// Creates a tick's task inside the firing transaction unless a task holds its
/// identity hash already: insert_task's statements after a lookup, or on
/// PostgreSQL the submit function alone (one round trip a task, which is what
/// keeps a thousand schedules due at one instant close to it). Returns the uuid
/// of the task that holds the identity: the plan's when this created it.
using TaskCreator = std::function<std::string(WriteTx&, const TaskPlan&)>;

/// Lock up to `batch` due schedules that no other transaction holds and fire
/// them (their ticks per catch-up and overlap). Returns what happened to each
/// tick; an empty result means none was due and free.
std::vector<FiredTick> fire_due(WriteTx& tx, const FireRequest& request, int batch, const TaskCreator& create);

/// An operator's trigger of `name` at tx.now: one task, recorded as the
/// schedule's last. Returns the task's uuid; NotFoundError when there is no such schedule.
std::string trigger(WriteTx& tx, const std::string& name, const TaskCreator& create);

}  // namespace tasker::detail::sql
