#include "storage/sql/step_writes.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "storage/sql/values.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

std::vector<LockedStep> locked_from(const Rows& r) {
  std::vector<LockedStep> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i)
    out.push_back({r.integer(i, 0), r.integer(i, 1), r.integer(i, 2), step_state_from(r.text(i, 3)),
                   static_cast<int>(r.integer(i, 4)), policy_from(r, i, 5), r.text(i, 10), r.text_or(i, 11, ""),
                   parse_step_type(r.text(i, 12)).value_or(StepType::standard), r.optional_integer(i, 13),
                   r.text_or(i, 14, "")});
  return out;
}

}  // namespace

void apply_updates(WriteTx& tx, const std::vector<StepUpdate>& updates) {
  if (updates.empty()) return;
  json rows = json::array();
  for (const auto& u : updates) rows.push_back(to_row(u));
  std::vector<Param> p{rows.dump(), ms(tx.now)};
  tx.c.query(tx.sql.update_steps, p);
}

std::vector<LockedStep> lock_steps(WriteTx& tx, const std::vector<std::int64_t>& ids) {
  Param list{id_list(ids)};
  return locked_from(tx.c.query(tx.sql.lock_steps, {&list, 1}));
}

LockedStep lock_step_by_name(WriteTx& tx, std::int64_t task_id, const std::string& task_uuid,
                             const std::string& step_name) {
  std::vector<Param> p{task_id, step_name};
  auto steps = locked_from(tx.c.query(tx.sql.step_by_name, p));
  if (steps.empty())
    throw NotFoundError("step", step_name, fmt::format("task {} has no step with that name", task_uuid));
  return steps.front();
}

void advance_children(WriteTx& tx, const std::vector<std::int64_t>& satisfied) {
  if (satisfied.empty()) return;
  Changes& ch = tx.changes;
  Param list{id_list(satisfied)};
  if (!tx.sql.lock_children.empty()) tx.c.query(tx.sql.lock_children, {&list, 1});
  std::vector<Param> p{list, ms(tx.now)};
  Rows r = tx.c.query(tx.sql.advance_children, p);
  // RETURNING gives the rows in whatever order the update visited them, which
  // follows where the rows lie on disk; the transitions (and so the events)
  // are recorded in step id order, as the server function records them.
  std::vector<std::size_t> met;
  for (std::size_t i = 0; i < r.size(); ++i) {
    // Those whose last parent this transaction satisfied: enqueued now, with no parent left.
    if (step_state_from(r.text(i, 3)) == target_of(StepMove::dependencies_met) && r.integer(i, 4) == 0)
      met.push_back(i);
  }
  std::sort(met.begin(), met.end(), [&r](std::size_t a, std::size_t b) { return r.integer(a, 0) < r.integer(b, 0); });
  for (std::size_t i : met)
    ch.step(r.integer(i, 1), r.integer(i, 0), r.text(i, 2), StepMove::dependencies_met, StepState::pending,
            ch.worker_id, std::string(rule_of(StepMove::dependencies_met).reason), 0);
}

}  // namespace tasker::detail::sql
