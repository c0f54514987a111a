#include "storage/sql/dead_letters.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "storage/sql/state_sql.hpp"
#include "storage/sql/values.hpp"
#include "storage/sql/views.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

constexpr const char* kEntryColumns =
    "e.uuid, e.task_uuid, e.original_state, e.dlq_reason, e.dlq_timestamp, e.resolution_status, "
    "e.resolution_timestamp, e.resolution_notes, e.resolved_by, e.task_snapshot, e.metadata, e.created_at, "
    "e.updated_at";
constexpr std::size_t kEntryColumnCount = 13;

const std::string kPending(to_string(DlqResolutionStatus::pending));

DlqReason reason_from(const std::string& text) {
  if (auto r = parse_dlq_reason(text)) return *r;
  throw StorageError(fmt::format("a dead-letter entry has the reason `{}`, which this build does not know", text));
}

DlqResolutionStatus status_from(const std::string& text) {
  if (auto s = parse_dlq_resolution_status(text)) return *s;
  throw StorageError(fmt::format("a dead-letter entry has the status `{}`, which this build does not know", text));
}

std::optional<TimePoint> time_or_none(const Rows& r, std::size_t i, std::size_t col) {
  if (r.is_null(i, col)) return std::nullopt;
  return from_epoch_ms(r.integer(i, col));
}

DlqEntry entry_from_row(const Rows& r, std::size_t i) {
  DlqEntry e;
  e.dlq_entry_uuid = r.text(i, 0);
  e.task_uuid = r.text(i, 1);
  e.original_state = r.text(i, 2);
  e.dlq_reason = reason_from(r.text(i, 3));
  e.dlq_timestamp = from_epoch_ms(r.integer(i, 4));
  e.resolution_status = status_from(r.text(i, 5));
  e.resolution_timestamp = time_or_none(r, i, 6);
  if (!r.is_null(i, 7)) e.resolution_notes = r.text(i, 7);
  if (!r.is_null(i, 8)) e.resolved_by = r.text(i, 8);
  e.task_snapshot = parse_json(r.rows[i][9]);
  e.metadata = parse_json(r.rows[i][10]);
  e.created_at = from_epoch_ms(r.integer(i, 11));
  e.updated_at = from_epoch_ms(r.integer(i, 12));
  return e;
}

json step_json(const StepView& s) {
  json out = {{"name", s.name},
              {"step_uuid", s.step_uuid},
              {"state", to_string(s.state)},
              {"attempts", s.attempts},
              {"max_attempts", s.max_attempts}};
  if (s.error)
    out["error"] = {{"message", s.error->message},
                    {"error_type", s.error->error_type},
                    {"retryable", s.error->retryable},
                    {"context", s.error->context}};
  return out;
}

/// The task as an entry keeps it (DlqEntry::task_snapshot).
json snapshot_of(const TaskView& t, const std::vector<StepView>& steps) {
  json failed = json::array();
  json states = json::object();
  for (const StepView& s : steps) {
    states[s.name] = to_string(s.state);
    if (s.state == StepState::error) failed.push_back(step_json(s));
  }
  return {{"task_uuid", t.uuid},
          {"namespace", t.namespace_name},
          {"task_name", t.name},
          {"version", t.version},
          {"current_state", to_string(t.state)},
          {"context", t.context},
          {"initiator", t.initiator},
          {"source_system", t.source_system},
          {"reason", t.reason},
          {"tags", t.tags},
          {"correlation_id", t.correlation_id},
          {"created_at", format_time(t.created_at)},
          {"completed_at", t.completed_at ? json(format_time(*t.completed_at)) : json(nullptr)},
          {"total_steps", t.counts.total},
          {"failed_steps", failed},
          {"step_states", states}};
}

/// worker_unavailable when every failed step lost its worker; max_retries_exceeded otherwise.
DlqReason reason_of_failure(const std::vector<StepView>& steps) {
  bool any = false;
  for (const StepView& s : steps) {
    if (s.state != StepState::error) continue;
    if (!s.error || s.error->error_type != "worker_lost") return DlqReason::max_retries_exceeded;
    any = true;
  }
  return any ? DlqReason::worker_unavailable : DlqReason::max_retries_exceeded;
}

/// A step found by the staleness query, with the time its state began.
struct StaleStep {
  std::int64_t task_id{0};
  StalenessEntry view;
  std::int64_t since_ms{0};
  double share{0};  ///< of its threshold
};

std::chrono::milliseconds threshold_of(StepState s, const StalenessThresholds& t) {
  return s == StepState::in_progress ? t.in_progress : s == StepState::enqueued ? t.enqueued : t.waiting_for_retry;
}

/// Steps at least `share` of their state's threshold into it, one per task
/// (its stalest), most stale first, at most `limit`.
std::vector<StaleStep> stale_steps(Connection& c, const StalenessThresholds& t, double share, int limit,
                                   TimePoint now) {
  // A claimable step's clock starts when it became claimable (claimable_at): a
  // retry waiting out its backoff is not stale. A running step's starts at its
  // claim (updated_at; a lease renewal is no progress). Each half reads a
  // partial index of active steps (tasker_steps_due by claimable_at up to the
  // later cutoff, tasker_steps_leases), so neither database reads the history.
  static const std::string text = fmt::format(
      "SELECT * FROM (SELECT s.task_id, t.uuid, t.namespace_name, t.name, t.priority, t.created_at, s.uuid AS "
      "step_uuid, s.name AS step_name, s.state, s.claimable_at AS since, s.id FROM tasker_steps s JOIN tasker_tasks t "
      "ON t.id = s.task_id WHERE s.claimable_at <= $5 AND ((s.state = {0} AND s.claimable_at <= $1) OR (s.state = {1} "
      "AND s.claimable_at <= $2)) UNION ALL SELECT s.task_id, t.uuid, t.namespace_name, t.name, t.priority, "
      "t.created_at, s.uuid, s.name, s.state, s.updated_at, s.id FROM tasker_steps s JOIN tasker_tasks t ON t.id = "
      "s.task_id WHERE s.lease_expires_at IS NOT NULL AND {2} AND s.updated_at <= $3) AS stale "
      "ORDER BY since, id LIMIT $4",
      literal(StepState::enqueued), literal(StepState::waiting_for_retry),
      in_states("s.state", step_sets::kHoldsWorker));
  auto cutoff = [&](std::chrono::milliseconds threshold) {
    return ms(now) - static_cast<std::int64_t>(static_cast<double>(threshold.count()) * share);
  };
  const std::vector<Param> p{cutoff(t.enqueued), cutoff(t.waiting_for_retry), cutoff(t.in_progress),
                             static_cast<std::int64_t>(limit) * 4 + 16,
                             std::max(cutoff(t.enqueued), cutoff(t.waiting_for_retry))};
  Rows r = c.query(text, p);
  std::map<std::int64_t, StaleStep> by_task;
  for (std::size_t i = 0; i < r.size(); ++i) {
    StaleStep s;
    s.task_id = r.integer(i, 0);
    const StepState state = step_state_from(r.text(i, 8));
    s.since_ms = r.integer(i, 9);
    const auto threshold = threshold_of(state, t);
    StalenessEntry& v = s.view;
    v.task_uuid = r.text(i, 1);
    v.namespace_name = r.text(i, 2);
    v.task_name = r.text(i, 3);
    v.priority = static_cast<int>(r.integer(i, 4));
    v.task_age_seconds = (ms(now) - r.integer(i, 5)) / 1000;
    v.step_uuid = r.text(i, 6);
    v.step_name = r.text(i, 7);
    v.current_state = std::string(to_string(state));
    v.time_in_state_seconds = static_cast<double>(std::max<std::int64_t>(ms(now) - s.since_ms, 0)) / 1000.0;
    v.staleness_threshold_seconds = static_cast<double>(threshold.count()) / 1000.0;
    s.share = v.time_in_state_seconds / v.staleness_threshold_seconds;
    v.health_status = s.share >= 1.0                      ? StalenessHealth::stale
                      : s.share >= kStalenessWarningShare ? StalenessHealth::warning
                                                          : StalenessHealth::healthy;
    auto [it, inserted] = by_task.emplace(s.task_id, s);
    if (!inserted && s.share > it->second.share) it->second = s;
  }
  std::vector<StaleStep> out;
  for (auto& [id, s] : by_task)
    if (s.share >= share) out.push_back(std::move(s));
  std::sort(out.begin(), out.end(), [](const StaleStep& a, const StaleStep& b) { return a.share > b.share; });
  if (out.size() > static_cast<std::size_t>(limit)) out.resize(static_cast<std::size_t>(limit));
  return out;
}

}  // namespace

std::vector<PendingEntry> errored_without_entry(Connection& c, const Statements& sql, std::optional<TimePoint> since,
                                                int limit, std::optional<TimePoint>& latest, TimePoint now) {
  // Reads migration 10's index of finished tasks (state, completed_at) from `since` on.
  static const std::string text = fmt::format(
      "SELECT t.id, t.uuid, t.completed_at FROM tasker_tasks t WHERE t.state = {} AND t.completed_at IS NOT NULL "
      "AND t.completed_at >= $1 AND NOT EXISTS (SELECT 1 FROM tasker_dlq_entries e WHERE e.task_id = t.id AND "
      "(e.resolution_status = $2 OR e.dlq_timestamp >= t.completed_at)) ORDER BY t.completed_at LIMIT $3",
      literal(TaskState::error));
  const std::vector<Param> p{since ? ms(*since) : std::int64_t{0}, kPending, static_cast<std::int64_t>(limit)};
  Rows r = c.query(text, p);
  std::vector<PendingEntry> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const std::string& uuid = r.text(i, 1);
    auto task = load_task(c, sql, uuid, now);
    if (!task) continue;
    const auto steps = load_steps(c, sql, uuid);
    out.push_back({r.integer(i, 0), uuid, std::string(to_string(task->state)), reason_of_failure(steps),
                   snapshot_of(*task, steps), r.integer(i, 2)});
    const TimePoint completed = from_epoch_ms(r.integer(i, 2));
    if (!latest || completed > *latest) latest = completed;
  }
  return out;
}

std::vector<PendingEntry> stale_without_entry(Connection& c, const Dialect& d, const Statements& sql,
                                              const StalenessThresholds& thresholds, int limit, TimePoint now) {
  const auto stale = stale_steps(c, thresholds, 1.0, limit, now);
  if (stale.empty()) return {};
  std::vector<std::int64_t> ids;
  ids.reserve(stale.size());
  for (const auto& s : stale) ids.push_back(s.task_id);
  // Tasks with a pending entry already, or one made since their step stalled.
  const std::vector<Param> p{id_list(ids)};
  Rows known = c.query(fmt::format("SELECT e.task_id, e.resolution_status, MAX(e.dlq_timestamp) FROM "
                                   "tasker_dlq_entries e WHERE {} GROUP BY e.task_id, e.resolution_status",
                                   d.in_list("e.task_id", 1, ColumnType::integer)),
                       p);
  std::map<std::int64_t, std::int64_t> newest;
  std::map<std::int64_t, bool> pending;
  for (std::size_t i = 0; i < known.size(); ++i) {
    const std::int64_t id = known.integer(i, 0);
    newest[id] = std::max(newest[id], known.integer(i, 2));
    if (known.text(i, 1) == kPending) pending[id] = true;
  }
  std::vector<PendingEntry> out;
  for (const auto& s : stale) {
    if (pending[s.task_id] || (newest.count(s.task_id) && newest[s.task_id] >= s.since_ms)) continue;
    auto task = load_task(c, sql, s.view.task_uuid, now);
    if (!task) continue;
    json snapshot = snapshot_of(*task, load_steps(c, sql, s.view.task_uuid));
    snapshot["stale_step"] = {{"name", s.view.step_name},
                              {"step_uuid", s.view.step_uuid},
                              {"state", s.view.current_state},
                              {"since", format_time(from_epoch_ms(s.since_ms))},
                              {"time_in_state_seconds", s.view.time_in_state_seconds},
                              {"staleness_threshold_seconds", s.view.staleness_threshold_seconds}};
    out.push_back({s.task_id, s.view.task_uuid, std::string(to_string(task->state)), DlqReason::staleness_timeout,
                   std::move(snapshot), s.since_ms});
  }
  return out;
}

std::size_t insert_entries(Connection& c, const Dialect& d, const std::vector<PendingEntry>& entries, TimePoint now) {
  // The condition is checked again in the write: the task still in error since
  // the same time (or still existing, for staleness), no pending entry and none
  // made since. Two workers at once insert once: the unique index on pending
  // entries makes the second insert do nothing.
  // Casts: PostgreSQL infers no type for a parameter in a SELECT list.
  const std::string text = fmt::format(
      "INSERT INTO tasker_dlq_entries (uuid, task_id, task_uuid, original_state, dlq_reason, dlq_timestamp, "
      "resolution_status, task_snapshot, created_at, updated_at) "
      "SELECT CAST($1 AS TEXT), t.id, t.uuid, CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT), "
      "CAST($5 AS TEXT), CAST($6 AS {1}), CAST($4 AS BIGINT), CAST($4 AS BIGINT) FROM tasker_tasks t WHERE t.id = $7 "
      "AND ($8 = 0 OR (t.state = {0} AND t.completed_at = $9)) "
      "AND NOT EXISTS (SELECT 1 FROM tasker_dlq_entries e WHERE e.task_id = t.id AND "
      "(e.resolution_status = $5 OR e.dlq_timestamp >= $9)) "
      "ON CONFLICT DO NOTHING RETURNING id",
      literal(TaskState::error), d.json_type);
  std::size_t inserted = 0;
  for (const PendingEntry& e : entries) {
    const bool errored = e.reason != DlqReason::staleness_timeout;
    const std::vector<Param> p{
        new_uuid(),        e.original_state, std::string(to_string(e.reason)), ms(now),       kPending,
        e.snapshot.dump(), e.task_id,        std::int64_t{errored ? 1 : 0},    e.condition_ms};
    inserted += c.query(text, p).size();
  }
  return inserted;
}

std::vector<StalenessEntry> staleness(Connection& c, const StalenessThresholds& thresholds, int limit, TimePoint now) {
  std::vector<StalenessEntry> out;
  for (auto& s : stale_steps(c, thresholds, kStalenessWarningShare, limit, now)) out.push_back(std::move(s.view));
  return out;
}

std::vector<DlqEntry> list_entries(Connection& c, const DlqFilter& filter) {
  std::vector<Param> p;
  std::string where;
  if (filter.resolution_status) {
    p.emplace_back(std::string(to_string(*filter.resolution_status)));
    where = "WHERE e.resolution_status = $1 ";
  }
  p.emplace_back(static_cast<std::int64_t>(filter.limit));
  p.emplace_back(static_cast<std::int64_t>(filter.offset));
  Rows r = c.query(fmt::format("SELECT {} FROM tasker_dlq_entries e {}ORDER BY e.dlq_timestamp DESC, e.id DESC "
                               "LIMIT ${} OFFSET ${}",
                               kEntryColumns, where, p.size() - 1, p.size()),
                   p);
  std::vector<DlqEntry> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(entry_from_row(r, i));
  return out;
}

std::optional<DlqEntry> entry_of_task(Connection& c, const std::string& task_uuid) {
  static const std::string text = fmt::format(
      "SELECT {} FROM tasker_dlq_entries e WHERE e.task_id = (SELECT id FROM tasker_tasks WHERE uuid = $1) "
      "ORDER BY e.dlq_timestamp DESC, e.id DESC LIMIT 1",
      kEntryColumns);
  const std::vector<Param> p{task_uuid};
  Rows r = c.query(text, p);
  if (r.empty()) return std::nullopt;
  return entry_from_row(r, 0);
}

std::optional<DlqEntry> update_entry(Connection& c, const std::string& entry_uuid, const DlqUpdate& update,
                                     TimePoint now) {
  static const std::string read =
      fmt::format("SELECT {}, e.id, e.task_id FROM tasker_dlq_entries e WHERE e.uuid = $1", kEntryColumns);
  std::vector<Param> p{entry_uuid};
  Rows r = c.query(read, p);
  if (r.empty()) return std::nullopt;
  DlqEntry e = entry_from_row(r, 0);
  const std::int64_t id = r.integer(0, kEntryColumnCount);
  const std::int64_t task_id = r.integer(0, kEntryColumnCount + 1);
  if (update.resolution_status && *update.resolution_status != e.resolution_status) {
    if (*update.resolution_status == DlqResolutionStatus::pending) {
      const std::vector<Param> q{task_id, kPending, id};
      Rows other =
          c.query("SELECT uuid FROM tasker_dlq_entries WHERE task_id = $1 AND resolution_status = $2 AND id <> $3", q);
      if (!other.empty())
        throw ConflictError(
            fmt::format("task {} has a pending dead-letter entry already ({}): a task has one pending entry at a time; "
                        "update that one instead",
                        e.task_uuid, other.text(0, 0)));
      e.resolution_timestamp.reset();
    } else {
      e.resolution_timestamp = now;
    }
    e.resolution_status = *update.resolution_status;
  }
  if (update.resolution_notes) e.resolution_notes = *update.resolution_notes;
  if (update.resolved_by) e.resolved_by = *update.resolved_by;
  if (update.metadata) e.metadata = *update.metadata;
  const std::vector<Param> w{id,
                             std::string(to_string(e.resolution_status)),
                             e.resolution_timestamp ? Param{ms(*e.resolution_timestamp)} : Param{nullptr},
                             e.resolution_notes ? Param{*e.resolution_notes} : Param{nullptr},
                             e.resolved_by ? Param{*e.resolved_by} : Param{nullptr},
                             e.metadata.is_null() ? Param{nullptr} : Param{e.metadata.dump()},
                             ms(now)};
  c.query(
      "UPDATE tasker_dlq_entries SET resolution_status = $2, resolution_timestamp = $3, resolution_notes = $4, "
      "resolved_by = $5, metadata = $6, updated_at = $7 WHERE id = $1",
      w);
  e.updated_at = now;
  return e;
}

std::vector<DlqStats> entry_stats(Connection& c) {
  static const std::string text =
      "SELECT dlq_reason, COUNT(*), SUM(CASE WHEN resolution_status = $1 THEN 1 ELSE 0 END), "
      "SUM(CASE WHEN resolution_status = $2 THEN 1 ELSE 0 END), SUM(CASE WHEN resolution_status = $3 THEN 1 ELSE 0 "
      "END), SUM(CASE WHEN resolution_status = $4 THEN 1 ELSE 0 END), MIN(dlq_timestamp), MAX(dlq_timestamp), "
      "SUM(resolution_timestamp - dlq_timestamp), COUNT(resolution_timestamp) "
      "FROM tasker_dlq_entries GROUP BY dlq_reason ORDER BY COUNT(*) DESC, dlq_reason";
  std::vector<Param> p;
  for (auto s : dlq_resolution_statuses()) p.emplace_back(std::string(to_string(s)));
  Rows r = c.query(text, p);
  std::vector<DlqStats> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    DlqStats s;
    s.dlq_reason = reason_from(r.text(i, 0));
    s.total_entries = r.integer(i, 1);
    s.pending = r.integer(i, 2);
    s.manually_resolved = r.integer(i, 3);
    s.permanent_failures = r.integer(i, 4);
    s.cancelled = r.integer(i, 5);
    s.oldest_entry = time_or_none(r, i, 6);
    s.newest_entry = time_or_none(r, i, 7);
    const std::int64_t resolved = r.integer(i, 9);
    if (resolved > 0 && !r.is_null(i, 8))
      s.avg_resolution_time_minutes =
          static_cast<double>(std::stoll(r.text(i, 8))) / static_cast<double>(resolved) / 60000.0;
    out.push_back(s);
  }
  return out;
}

std::vector<DlqQueueEntry> investigation_queue(Connection& c, int limit, TimePoint now) {
  // tasker-core's score, weight + minutes waited, ordered in SQL as weight in
  // milliseconds minus the entry's time (the same order, without `now`).
  static const std::string text = [] {
    std::string weight = "CASE e.dlq_reason";
    for (DlqReason reason : dlq_reasons())
      weight += fmt::format(" WHEN '{}' THEN {}", to_string(reason),
                            static_cast<std::int64_t>(dlq_reason_weight(reason)) * 60000);
    weight += " ELSE 0 END";
    return fmt::format(
        "SELECT {}, t.namespace_name, t.name, t.state FROM tasker_dlq_entries e JOIN tasker_tasks t "
        "ON t.id = e.task_id WHERE e.resolution_status = $1 ORDER BY {} - e.dlq_timestamp DESC, e.id "
        "LIMIT $2",
        kEntryColumns, weight);
  }();
  const std::vector<Param> p{kPending, static_cast<std::int64_t>(limit)};
  Rows r = c.query(text, p);
  std::vector<DlqQueueEntry> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const DlqEntry e = entry_from_row(r, i);
    DlqQueueEntry q;
    q.dlq_entry_uuid = e.dlq_entry_uuid;
    q.task_uuid = e.task_uuid;
    q.original_state = e.original_state;
    q.dlq_reason = e.dlq_reason;
    q.dlq_timestamp = e.dlq_timestamp;
    q.minutes_in_dlq = static_cast<double>(ms(now) - ms(e.dlq_timestamp)) / 60000.0;
    q.namespace_name = r.text(i, kEntryColumnCount);
    q.task_name = r.text(i, kEntryColumnCount + 1);
    q.current_state = r.text(i, kEntryColumnCount + 2);
    const json& stale = e.task_snapshot.value("stale_step", json());
    if (stale.is_object() && stale.contains("time_in_state_seconds"))
      q.time_in_state_minutes = static_cast<int>(stale["time_in_state_seconds"].get<double>() / 60);
    q.priority_score = dlq_reason_weight(q.dlq_reason) + q.minutes_in_dlq;
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace tasker::detail::sql
