#include "storage/sql/claims.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "storage/sql/values.hpp"

namespace tasker::detail::sql {

namespace {

/// Each claimed step's task (uuid, names, context), read once per task.
void fill_tasks(WriteTx& tx, std::vector<ClaimedStep>& claimed, const std::vector<std::int64_t>& task_of) {
  std::set<std::int64_t> task_ids(task_of.begin(), task_of.end());
  Param list{id_list({task_ids.begin(), task_ids.end()})};
  Rows tasks = tx.c.query(tx.sql.claim_tasks, {&list, 1});
  std::unordered_map<std::int64_t, std::size_t> row_of;
  std::unordered_map<std::int64_t, json> contexts;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    row_of[tasks.integer(i, 0)] = i;
    contexts[tasks.integer(i, 0)] = parse_json(tasks.rows[i][5]);
  }
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    std::size_t t = row_of.at(task_of[i]);
    claimed[i].task_uuid = tasks.text(t, 1);
    claimed[i].namespace_name = tasks.text(t, 2);
    claimed[i].task_name = tasks.text(t, 3);
    claimed[i].task_version = tasks.text(t, 4);
    claimed[i].context = contexts[task_of[i]];
  }
}

/// Each claimed step's parents' results by name; a convergence step gets
/// every ancestor's (it reads, say, the batchable step two levels up).
void fill_dependency_results(WriteTx& tx, std::vector<ClaimedStep>& claimed) {
  std::unordered_map<std::int64_t, std::size_t> index_of;
  std::vector<std::int64_t> parents_of, ancestors_of;
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    index_of[claimed[i].step_id] = i;
    (claimed[i].type == StepType::deferred_convergence ? ancestors_of : parents_of).push_back(claimed[i].step_id);
  }
  for (const auto* ids : {&parents_of, &ancestors_of}) {
    if (ids->empty()) continue;
    Param list{id_list(*ids)};
    Rows deps =
        tx.c.query(ids == &parents_of ? tx.sql.claim_dependency_results : tx.sql.claim_ancestor_results, {&list, 1});
    for (std::size_t i = 0; i < deps.size(); ++i)
      claimed[index_of.at(deps.integer(i, 0))].dependency_results[deps.text(i, 1)] = parse_json(deps.rows[i][2]);
  }
}

}  // namespace

std::vector<ClaimedStep> claimed_from(const Rows& r, TimePoint now, TimePoint lease_end) {
  std::vector<ClaimedStep> claimed(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    ClaimedStep& s = claimed[i];
    s.step_id = r.integer(i, 0);
    s.step_uuid = r.text(i, 2);
    s.step_name = r.text(i, 3);
    s.callable = r.text(i, 4);
    s.initialization = parse_json(r.rows[i][5]);
    s.attempt = static_cast<int>(r.integer(i, 6));
    s.claim_token = r.integer(i, 7);
    s.retry = policy_from(r, i, 8);
    s.timeout_seconds = static_cast<int>(r.integer(i, 13));
    s.type = parse_step_type(r.text(i, 14)).value_or(StepType::standard);
    s.checkpoint = parse_json(r.rows[i][15]);
    if (!r.is_null(i, 16)) s.previous_error = failure_from_json(parse_json(r.rows[i][16]));
    s.claimed_at = now;
    s.lease_expires_at = lease_end;
  }
  return claimed;
}

void record_started(Changes& ch, std::int64_t task_id, const ClaimedStep& s, const std::string& worker_id) {
  ch.event(events::kStepStarted, task_id, s.step_name, {{"attempt", s.attempt}, {"worker_id", worker_id}});
}

std::string work_filter_clause(const Dialect& d, const WorkFilter& f, std::vector<Param>& params) {
  auto in = [&](const std::string& column, const std::vector<std::string>& values) {
    params.push_back(text_list(values));
    return d.in_list(column, static_cast<int>(params.size()), ColumnType::text);
  };
  std::string sql = " AND " + in("callable", f.callables);
  if (!f.namespaces.empty()) sql += " AND " + in("namespace_name", f.namespaces);
  if (!f.task_uuids.empty())
    sql += " AND task_id IN (SELECT id FROM tasker_tasks WHERE " + in("uuid", f.task_uuids) + ")";
  return sql;
}

std::vector<ClaimedStep> claim_steps(WriteTx& tx, const ClaimRequest& req) {
  Changes& ch = tx.changes;
  std::vector<Param> p{ms(tx.now), static_cast<std::int64_t>(req.limit)};
  std::string sql =
      "SELECT id, state FROM tasker_steps WHERE state IN ('enqueued', 'waiting_for_retry') "
      "AND claimable_at <= $1" +
      work_filter_clause(tx.dialect, req.filter, p) + " ORDER BY priority DESC, claimable_at, id LIMIT $2" +
      tx.dialect.skip_locked;
  Rows candidates = tx.c.query(sql, p);
  if (candidates.empty()) return {};
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, std::string> previous_state;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    ids.push_back(candidates.integer(i, 0));
    previous_state[ids.back()] = candidates.text(i, 1);
  }
  const TimePoint lease_end = tx.now + req.lease;
  std::vector<Param> up{id_list(ids), req.worker_id, ms(lease_end), ms(tx.now)};
  Rows r = tx.c.query(tx.sql.claim_update, up);
  // In id order, as tasker_exchange returns them (UPDATE ... RETURNING has no order of its own).
  std::sort(r.rows.begin(), r.rows.end(),
            [](const Rows::Row& a, const Rows::Row& b) { return std::stoll(*a[0]) < std::stoll(*b[0]); });

  std::vector<ClaimedStep> claimed = claimed_from(r, tx.now, lease_end);
  std::vector<std::int64_t> task_of(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    const ClaimedStep& s = claimed[i];
    task_of[i] = r.integer(i, 1);
    ch.tasks[task_of[i]].started = true;
    ch.transition(task_of[i], s.step_id, previous_state[s.step_id], "in_progress", req.worker_id, "claimed", s.attempt);
    record_started(ch, task_of[i], s, req.worker_id);
  }
  if (claimed.empty()) return claimed;
  fill_tasks(tx, claimed, task_of);
  fill_dependency_results(tx, claimed);
  return claimed;
}

}  // namespace tasker::detail::sql
