#pragma once
// Dead-letter entries (docs/triage.md), on the caller's connection: finding the
// tasks that need one (in error with no entry since, or stale), writing them,
// and the reads and the update of the /v1/dlq routes. Entries are written by a
// worker's background pass, never by the transaction that failed the task
// (docs/architecture.md, "Dead letters").
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/connection.hpp"
#include "storage/sql/statements.hpp"
#include "tasker/dlq.hpp"

namespace tasker::detail::sql {

/// An entry to write, built from a snapshot read before the write transaction.
struct PendingEntry {
  std::int64_t task_id{0};
  std::string task_uuid;
  std::string original_state;
  DlqReason reason{DlqReason::max_retries_exceeded};
  json snapshot;
  std::int64_t condition_ms{0};  ///< the task's completed_at (error) or its stale step's start (staleness)
};

/// Tasks in error since `since` with no pending entry and none made after they
/// failed, oldest failure first, with their snapshots. Sets `latest` to the
/// newest completion time seen.
[[nodiscard]] std::vector<PendingEntry> errored_without_entry(Connection& c, const Statements& sql,
                                                              std::optional<TimePoint> since, int limit,
                                                              std::optional<TimePoint>& latest, TimePoint now);
/// Stale tasks (a step beyond its threshold) with no pending entry and none made since the step stalled.
[[nodiscard]] std::vector<PendingEntry> stale_without_entry(Connection& c, const Dialect& d, const Statements& sql,
                                                            const StalenessThresholds& thresholds, int limit,
                                                            TimePoint now);
/// Insert those whose condition still holds and that still have no pending entry; returns how many.
std::size_t insert_entries(Connection& c, const Dialect& d, const std::vector<PendingEntry>& entries, TimePoint now);

/// The live staleness view: tasks whose stalest step is at least the warning share of its threshold.
[[nodiscard]] std::vector<StalenessEntry> staleness(Connection& c, const StalenessThresholds& thresholds, int limit,
                                                    TimePoint now);

[[nodiscard]] std::vector<DlqEntry> list_entries(Connection& c, const DlqFilter& filter);
/// The task's newest entry.
[[nodiscard]] std::optional<DlqEntry> entry_of_task(Connection& c, const std::string& task_uuid);
/// Apply `update` and return the entry; nullopt when no entry has that uuid.
/// Throws ConflictError when it would make a second pending entry for the task.
std::optional<DlqEntry> update_entry(Connection& c, const std::string& entry_uuid, const DlqUpdate& update,
                                     TimePoint now);
[[nodiscard]] std::vector<DlqStats> entry_stats(Connection& c);
[[nodiscard]] std::vector<DlqQueueEntry> investigation_queue(Connection& c, int limit, TimePoint now);

}  // namespace tasker::detail::sql
