#include "storage/sql/views.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "storage/sql/state_sql.hpp"
#include "storage/sql/values.hpp"

namespace tasker::detail::sql {

namespace {

std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& item : j) out.push_back(item.get<std::string>());
  return out;
}

/// A row of kTaskColumns; counts are filled by fill_counts.
TaskView task_from_row(const Rows& r, std::size_t i) {
  TaskView v;
  v.uuid = r.text(i, 1);
  v.namespace_name = r.text(i, 2);
  v.name = r.text(i, 3);
  v.version = r.text(i, 4);
  v.state = task_state_from(r.text(i, 5));
  v.context = parse_json(r.rows[i][6]);
  v.initiator = r.text_or(i, 7, "");
  v.source_system = r.text_or(i, 8, "");
  v.reason = r.text_or(i, 9, "");
  v.tags = string_list(parse_json(r.rows[i][10]));
  v.priority = static_cast<int>(r.integer(i, 11));
  v.correlation_id = r.text_or(i, 12, "");
  if (!r.is_null(i, 13)) v.idempotency_key = r.text(i, 13);
  if (!r.is_null(i, 14)) v.identity_hash = r.text(i, 14);
  v.bypassed_steps = string_list(parse_json(r.rows[i][15]));
  v.created_at = from_epoch_ms(r.integer(i, 16));
  v.updated_at = from_epoch_ms(r.integer(i, 17));
  if (auto t = r.optional_integer(i, 18)) v.completed_at = from_epoch_ms(*t);
  v.counts.total = static_cast<int>(r.integer(i, 19));
  if (auto t = r.optional_integer(i, 20)) v.run_at = from_epoch_ms(*t);
  return v;
}

/// A row of kStepColumns and kSignalSpecColumn.
StepView step_from_row(const Rows& r, std::size_t i) {
  StepView v;
  v.step_uuid = r.text(i, 1);
  v.name = r.text(i, 2);
  v.callable = r.text(i, 3);
  v.state = step_state_from(r.text(i, 4));
  v.dependencies = string_list(parse_json(r.rows[i][5]));
  v.attempts = static_cast<int>(r.integer(i, 6));
  v.retry_count = std::max(v.attempts - 1, 0);
  v.retry = policy_from(r, i, 7);
  v.max_attempts = v.retry.max_attempts;
  v.retryable = v.retry.retryable;
  v.timeout_seconds = static_cast<int>(r.integer(i, 12));
  if (!r.is_null(i, 13)) v.results = parse_json(r.rows[i][13]);
  if (!r.is_null(i, 14)) v.error = failure_from_json(parse_json(r.rows[i][14]));
  v.worker_id = r.text_or(i, 15, "");
  v.created_at = from_epoch_ms(r.integer(i, 16));
  if (auto t = r.optional_integer(i, 17)) v.last_attempted_at = from_epoch_ms(*t);
  if (auto t = r.optional_integer(i, 18)) v.completed_at = from_epoch_ms(*t);
  if (v.state == StepState::waiting_for_retry)
    if (auto t = r.optional_integer(i, 19)) v.next_retry_at = from_epoch_ms(*t);
  if (v.state == StepState::in_progress)
    if (auto t = r.optional_integer(i, 20)) v.lease_expires_at = from_epoch_ms(*t);
  v.task_uuid = r.text(i, 21);
  v.type = parse_step_type(r.text(i, 22)).value_or(StepType::standard);
  v.template_step = r.text_or(i, 23, "");
  if (!r.is_null(i, 24)) v.checkpoint = parse_json(r.rows[i][24]);
  if (auto t = r.optional_integer(i, 25)) v.wake_at = from_epoch_ms(*t);
  if (!r.is_null(i, 26)) v.signal_name = signal_spec_from_json(parse_json(r.rows[i][26]), v.name).name;
  return v;
}

/// Step counts by state for the tasks `ids` (in `views`' order), then their derived statuses.
void fill_counts(Connection& c, const Statements& sql, const std::vector<std::int64_t>& ids,
                 std::vector<TaskView>& views, TimePoint now) {
  if (ids.empty()) return;
  std::unordered_map<std::int64_t, TaskView*> by_id;
  for (std::size_t i = 0; i < ids.size(); ++i) by_id[ids[i]] = &views[i];
  std::vector<Param> p{id_list(ids), ms(now)};
  Rows r = c.query(sql.step_counts, p);
  for (std::size_t i = 0; i < r.size(); ++i) {
    TaskView& v = *by_id.at(r.integer(i, 0));
    int n = static_cast<int>(r.integer(i, 2));
    int due = static_cast<int>(r.optional_integer(i, 3).value_or(0));
    switch (step_state_from(r.text(i, 1))) {
      case StepState::pending: v.counts.pending += n; break;
      case StepState::enqueued: v.counts.ready += due; break;  // not before a delayed start (run_at)
      case StepState::in_progress: v.counts.in_progress += n; break;
      case StepState::waiting: v.counts.waiting += n; break;
      case StepState::waiting_for_retry:
        v.counts.waiting_for_retry += n;
        v.counts.ready += due;
        break;
      case StepState::complete:
      case StepState::resolved_manually: v.counts.completed += n; break;
      case StepState::error: v.counts.failed += n; break;
      case StepState::cancelled: v.counts.cancelled += n; break;
    }
  }
  for (auto& v : views) derive_statuses(v);
}

}  // namespace

std::optional<TaskView> load_task(Connection& c, const Statements& sql, const std::string& task_uuid, TimePoint now) {
  Param u{task_uuid};
  Rows r = c.query(sql.task_by_uuid, {&u, 1});
  if (r.empty()) return std::nullopt;
  std::vector<TaskView> views{task_from_row(r, 0)};
  fill_counts(c, sql, {r.integer(0, 0)}, views, now);
  return std::move(views.front());
}

TaskView task_view_as_created(const Rows& task_row, int enqueued, int pending) {
  TaskView v = task_from_row(task_row, 0);
  v.counts.ready = enqueued;
  v.counts.pending = pending;
  derive_statuses(v);
  return v;
}

std::vector<StepView> load_steps(Connection& c, const Statements& sql, const std::string& task_uuid) {
  Param u{task_uuid};
  Rows r = c.query(sql.steps_of_task, {&u, 1});
  std::vector<StepView> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(step_from_row(r, i));
  return out;
}

TaskPage load_task_page(Connection& c, const Statements& sql, const TaskFilter& filter,
                        std::optional<std::int64_t> before_id, TimePoint now) {
  std::string where;
  std::vector<Param> p;
  auto add = [&](const std::string& cond, Param value) {
    p.push_back(std::move(value));
    where += fmt::format("{} {}", where.empty() ? " WHERE" : " AND", fmt::format(fmt::runtime(cond), p.size()));
  };
  if (filter.namespace_name) add("namespace_name = ${}", *filter.namespace_name);
  if (filter.state) add("state = ${}", std::string(to_string(*filter.state)));
  if (filter.initiator) add("initiator = ${}", *filter.initiator);
  if (filter.source_system) add("source_system = ${}", *filter.source_system);
  if (filter.name) add("name = ${}", *filter.name);
  TaskPage page;
  if (filter.count_total)  // before the cursor's condition: the total of every match
    page.total_count = c.query("SELECT COUNT(*) FROM tasker_tasks" + where, p).integer(0, 0);
  if (before_id) add("id < ${}", *before_id);
  p.push_back(static_cast<std::int64_t>(filter.limit + 1));
  std::string text =
      fmt::format("SELECT {} FROM tasker_tasks{} ORDER BY id DESC LIMIT ${}", kTaskColumns, where, p.size());
  if (filter.offset > 0) {
    p.push_back(static_cast<std::int64_t>(filter.offset));
    text += fmt::format(" OFFSET ${}", p.size());
  }
  Rows r = c.query(text, p);
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < r.size() && i < static_cast<std::size_t>(filter.limit); ++i) {
    page.tasks.push_back(task_from_row(r, i));
    ids.push_back(r.integer(i, 0));
  }
  if (r.size() > static_cast<std::size_t>(filter.limit)) page.next_cursor = std::to_string(ids.back());
  fill_counts(c, sql, ids, page.tasks, now);
  return page;
}

ActivityCounts load_activity(Connection& c, TimePoint now) {
  ActivityCounts a;
  // Each statement reads one index of active rows (tasker_tasks_by_state's
  // active prefix, tasker_steps_due, tasker_steps_leases): finished work is never read.
  static const std::string tasks_sql =
      fmt::format("SELECT state, COUNT(*) FROM tasker_tasks WHERE state IN ({}, {}) GROUP BY state",
                  literal(TaskState::pending), literal(TaskState::in_progress));
  Rows t = c.query(tasks_sql);
  for (std::size_t i = 0; i < t.size(); ++i)
    (task_state_from(t.text(i, 0)) == TaskState::pending ? a.tasks_pending : a.tasks_in_progress) = t.integer(i, 1);
  static const std::string steps_sql = fmt::format(
      "SELECT state, COUNT(*), SUM(CASE WHEN claimable_at <= $1 THEN 1 ELSE 0 END), "
      "MIN(CASE WHEN claimable_at <= $1 THEN claimable_at END) FROM tasker_steps "
      "WHERE {} AND claimable_at IS NOT NULL GROUP BY state",
      in_states("state", step_sets::kClaimable));
  Rows q = c.query(steps_sql, std::vector<Param>{ms(now)});
  for (std::size_t i = 0; i < q.size(); ++i) {
    const StepState s = step_state_from(q.text(i, 0));
    (s == StepState::enqueued ? a.steps_enqueued : a.steps_waiting_for_retry) += q.integer(i, 1);
    if (!q.is_null(i, 2)) a.steps_ready += q.integer(i, 2);
    if (!q.is_null(i, 3)) {
      const TimePoint since = from_epoch_ms(q.integer(i, 3));
      if (!a.oldest_ready_since || since < *a.oldest_ready_since) a.oldest_ready_since = since;
    }
  }
  static const std::string running_sql =
      fmt::format("SELECT COUNT(*) FROM tasker_steps WHERE {} AND lease_expires_at IS NOT NULL",
                  in_states("state", step_sets::kHoldsWorker));
  a.steps_in_progress = c.query(running_sql).integer(0, 0);
  return a;
}

std::vector<Transition> load_transitions(Connection& c, const Statements& sql, const std::string& task_uuid,
                                         const std::optional<std::string>& step_name) {
  std::vector<Param> p{task_uuid};
  if (step_name) p.push_back(*step_name);
  Rows r = c.query(step_name ? sql.transitions_of_step : sql.transitions_of_task, p);
  std::vector<Transition> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i)
    out.push_back({r.text(i, 0), r.text_or(i, 1, ""), r.text_or(i, 2, ""), r.text(i, 3), from_epoch_ms(r.integer(i, 4)),
                   r.text_or(i, 5, ""), r.text_or(i, 6, ""), static_cast<int>(r.integer(i, 7)),
                   parse_json(r.rows[i][8])});
  return out;
}

}  // namespace tasker::detail::sql
