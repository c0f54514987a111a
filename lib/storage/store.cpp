// What a Store that keeps no schedules or dead letters, reruns no steps and purges nothing answers (the
// SQL store overrides these).
#include "tasker/store.hpp"

#include <fmt/format.h>

#include "tasker/errors.hpp"

namespace tasker {

namespace {
[[noreturn]] void no_schedules(const Store& store) {
  throw InvalidRequestError(
      fmt::format("the {} store {} keeps no schedules; open a database with open_store(url) to use them",
                  store.backend(), store.describe()));
}
[[noreturn]] void no_retention(const Store& store) {
  throw InvalidRequestError(
      fmt::format("the {} store {} neither purges nor imports tasks; open a database with open_store(url) to do so",
                  store.backend(), store.describe()));
}
[[noreturn]] void no_dead_letters(const Store& store) {
  throw InvalidRequestError(
      fmt::format("the {} store {} keeps no dead-letter entries; open a database with open_store(url) to use them",
                  store.backend(), store.describe()));
}
}  // namespace

ScheduleView Store::create_schedule(const ScheduleRecord& /*schedule*/, TimePoint /*now*/) { no_schedules(*this); }
std::optional<ScheduleRecord> Store::find_schedule(const std::string& /*name*/) { no_schedules(*this); }
std::vector<ScheduleView> Store::list_schedules() { no_schedules(*this); }
ScheduleView Store::update_schedule(const ScheduleRecord& /*schedule*/, TimePoint /*now*/) { no_schedules(*this); }
bool Store::delete_schedule(const std::string& /*name*/) { no_schedules(*this); }
FireResult Store::fire_schedules(const FireRequest& /*request*/, TimePoint /*now*/) { no_schedules(*this); }
CreateResult Store::trigger_schedule(const std::string& /*name*/, TimePoint /*now*/) { no_schedules(*this); }
std::optional<TimePoint> Store::next_schedule_tick() { return std::nullopt; }
std::size_t Store::count_purgeable(const PurgeSelection& /*selection*/) { no_retention(*this); }
PurgeBatch Store::purge_batch(const PurgeSelection& /*selection*/, int /*limit*/, const ArchiveSink& /*archive*/) {
  no_retention(*this);
}
ImportResult Store::import_archived(const std::vector<json>& /*records*/) { no_retention(*this); }

DeadLetterResult Store::record_dead_letters(const DeadLetterSweep& /*sweep*/, TimePoint /*now*/) {
  no_dead_letters(*this);
}
std::vector<DlqEntry> Store::list_dlq(const DlqFilter& /*filter*/) { no_dead_letters(*this); }
std::optional<DlqEntry> Store::find_dlq_entry(const std::string& /*task_uuid*/) { no_dead_letters(*this); }
std::optional<DlqEntry> Store::update_dlq_entry(const std::string& /*entry_uuid*/, const DlqUpdate& /*update*/,
                                                TimePoint /*now*/) {
  no_dead_letters(*this);
}
std::vector<DlqStats> Store::dlq_stats() { no_dead_letters(*this); }
std::vector<DlqQueueEntry> Store::dlq_investigation_queue(int /*limit*/, TimePoint /*now*/) { no_dead_letters(*this); }
std::vector<StalenessEntry> Store::staleness(const StalenessThresholds& /*thresholds*/, int /*limit*/,
                                             TimePoint /*now*/) {
  no_dead_letters(*this);
}

OperatorResult Store::rerun_step(const std::string& /*task_uuid*/, const std::string& /*step_name*/,
                                 const std::string& /*reason*/, TimePoint /*now*/) {
  throw InvalidRequestError(
      fmt::format("the {} store {} cannot rerun steps; open a database with open_store(url)", backend(), describe()));
}

}  // namespace tasker
