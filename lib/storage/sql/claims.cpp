#include "storage/sql/claims.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "storage/sql/rows.hpp"
#include "storage/sql/state_sql.hpp"
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
    contexts[tasks.integer(i, 0)] = NamedRow(tasks, i, kClaimedTaskColumns, 1).json_value("context");
  }
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    const NamedRow task(tasks, row_of.at(task_of[i]), kClaimedTaskColumns, 1);
    claimed[i].task_uuid = task.text("uuid");
    claimed[i].namespace_name = task.text("namespace_name");
    claimed[i].task_name = task.text("name");
    claimed[i].task_version = task.text("version");
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
    const NamedRow row(r, i, kClaimedColumns);
    ClaimedStep& s = claimed[i];
    s.step_id = row.integer("id");
    s.step_uuid = row.text("uuid");
    s.step_name = row.text("name");
    s.callable = row.text("callable");
    s.initialization = row.json_value("initialization");
    s.attempt = static_cast<int>(row.integer("attempts"));
    s.claim_token = row.integer("claim_token");
    s.retry = policy_from(r, i, column_index(kClaimedColumns, "max_attempts"));
    s.timeout_seconds = static_cast<int>(row.integer("timeout_seconds"));
    s.type = parse_step_type(row.text("step_type")).value_or(StepType::standard);
    s.checkpoint = row.json_value("checkpoint");
    if (!row.is_null("error")) s.previous_error = failure_from_json(row.json_value("error"));
    s.claimed_at = now;
    s.lease_expires_at = lease_end;
  }
  return claimed;
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
  std::string sql = "SELECT id, state FROM tasker_steps WHERE " + claimable_due("", "$1") +
                    work_filter_clause(tx.dialect, req.filter, p) + " ORDER BY " + claim_order("") + " LIMIT $2" +
                    tx.dialect.skip_locked;
  Rows candidates = tx.c.query(sql, p);
  if (candidates.empty()) return {};
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, StepState> previous_state;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    ids.push_back(candidates.integer(i, 0));
    previous_state[ids.back()] = step_state_from(candidates.text(i, 1));
  }
  const TimePoint lease_end = tx.now + req.lease;
  std::vector<Param> up{id_list(ids), req.worker_id, ms(lease_end), ms(tx.now)};
  Rows r = tx.c.query(tx.sql.claim_update, up);
  // In the order they were picked (UPDATE ... RETURNING has no order of its own), as the server function returns them.
  std::unordered_map<std::int64_t, std::size_t> rank;
  for (std::size_t i = 0; i < ids.size(); ++i) rank[ids[i]] = i;
  std::sort(r.rows.begin(), r.rows.end(), [&](const Rows::Row& a, const Rows::Row& b) {
    return rank.at(std::stoll(*a[0])) < rank.at(std::stoll(*b[0]));
  });

  std::vector<ClaimedStep> claimed = claimed_from(r, tx.now, lease_end);
  std::vector<std::int64_t> task_of(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    const ClaimedStep& s = claimed[i];
    task_of[i] = NamedRow(r, i, kClaimedColumns).integer("task_id");
    ch.step(task_of[i], s.step_id, s.step_name, StepMove::claimed, previous_state.at(s.step_id), req.worker_id,
            "claimed", s.attempt);
  }
  if (claimed.empty()) return claimed;
  fill_tasks(tx, claimed, task_of);
  fill_dependency_results(tx, claimed);
  return claimed;
}

}  // namespace tasker::detail::sql
