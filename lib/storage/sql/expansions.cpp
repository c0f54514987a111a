#include "storage/sql/expansions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "storage/sql/task_creation.hpp"
#include "storage/sql/values.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"

namespace tasker::detail::sql {

Expansions::TaskSteps& Expansions::task(std::int64_t task_id) {
  auto it = tasks_.find(task_id);
  if (it != tasks_.end()) return it->second;
  TaskSteps ts;
  Param id{task_id};
  Rows t = tx_.c.query(tx_.sql.task_definition, {&id, 1});
  if (t.empty() || t.is_null(0, 0))
    throw StorageError(fmt::format("task {} has steps created at run time but no template definition", task_id));
  ts.tmpl = template_from_definition(parse_json(t.rows[0][0]));
  ts.namespace_name = t.text(0, 1);
  ts.priority = t.integer(0, 2);
  Rows steps = tx_.c.query(tx_.sql.step_names_of_task, {&id, 1});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    ts.steps.emplace(steps.text(i, 1), Existing{steps.integer(i, 0), step_state_from(steps.text(i, 2))});
    ts.next_position = std::max(ts.next_position, steps.integer(i, 3) + 1);
  }
  return tasks_.emplace(task_id, std::move(ts)).first->second;
}

void Expansions::plan(const LockedStep& creator, const json& result) {
  if (creator.type != StepType::decision && creator.type != StepType::batchable) return;
  TaskSteps& ts = task(creator.task_id);
  // Steps planned earlier in this transaction count as existing.
  std::set<std::string> planned_names;
  for (const auto& p : planned_)
    if (p.task_id == creator.task_id)
      for (const auto& s : p.plan.steps) planned_names.insert(s.name);
  StepExists exists = [&](std::string_view name) {
    return ts.steps.count(std::string(name)) > 0 || planned_names.count(std::string(name)) > 0;
  };
  Expansion plan = creator.type == StepType::decision ? plan_decision(ts.tmpl, creator.name, result, exists, limits_)
                                                      : plan_batches(ts.tmpl, creator.name, result, exists, limits_);
  if (plan.steps.empty()) return;
  std::optional<json> child_results;
  if (creator.type == StepType::batchable) {
    child_results = result;
    (*child_results)["batch_processing_outcome"].erase("cursor_configs");
  }
  planned_.push_back({creator.task_id, creator, std::move(plan), std::move(child_results)});
}

void Expansions::apply(const std::vector<std::int64_t>& satisfied) {
  for (const auto& p : planned_) insert(p, satisfied);
  planned_.clear();
}

void Expansions::insert(const Planned& p, const std::vector<std::int64_t>& satisfied) {
  TaskSteps& ts = task(p.task_id);
  Changes& ch = tx_.changes;
  const std::set<std::int64_t> completing(satisfied.begin(), satisfied.end());
  std::set<std::string> fresh;
  for (const auto& s : p.plan.steps) fresh.insert(s.name);
  // A parent holds a new step back unless it was satisfied before this
  // transaction: new steps, and steps completing now (advance_children releases those).
  auto holds_back = [&](const std::string& parent) {
    if (fresh.count(parent)) return true;
    const Existing& e = ts.steps.at(parent);
    return !satisfies_dependents(e.state) || completing.count(e.id) > 0;
  };
  const std::set<std::size_t> slot_waiters(p.plan.waiting_for_slot.begin(), p.plan.waiting_for_slot.end());
  std::unordered_map<std::string, std::vector<std::string>> parents_of;
  for (const auto& [parent, child] : p.plan.edges) parents_of[child].push_back(parent);
  const bool instances = p.creator.type == StepType::batchable;
  json rows = json::array();
  std::vector<NewStep> created;
  for (std::size_t k = 0; k < p.plan.steps.size(); ++k) {
    const PlannedStep& s = p.plan.steps[k];
    const StepTemplate& t = ts.tmpl.steps.at(s.template_index);
    const std::vector<std::string>& parents = parents_of[s.name];
    std::int64_t waiting = std::count_if(parents.begin(), parents.end(), holds_back) + (slot_waiters.count(k) ? 1 : 0);
    NewStep row = new_step(t, ts.next_position++, s.name, s.initialization, parents, waiting, tx_.now);
    if (instances && t.type == StepType::batch_worker) {
      row.template_step = t.name;
      row.batch_id = p.creator.id;
    }
    rows.push_back(to_row(row));
    created.push_back(std::move(row));
  }
  std::vector<Param> params{rows.dump(), p.task_id, ts.namespace_name, ts.priority, ms(tx_.now)};
  Rows ids = tx_.c.query(tx_.sql.insert_steps, params);
  std::unordered_map<std::int64_t, std::int64_t> id_at_position;
  for (std::size_t r = 0; r < ids.size(); ++r) id_at_position[ids.integer(r, 1)] = ids.integer(r, 0);

  const std::string reason = fmt::format(
      "created by {} step `{}`", p.creator.type == StepType::decision ? "decision" : "batchable", p.creator.name);
  for (const NewStep& s : created) {
    const std::int64_t id = id_at_position.at(s.position);
    ts.steps.emplace(s.name, Existing{id, s.state});
    ch.step(p.task_id, id, s.name, creation_move(s), std::nullopt, p.creator.worker_id, reason, 0);
  }
  json edges = json::array();
  for (const auto& [parent, child] : p.plan.edges) edges.push_back({ts.steps.at(parent).id, ts.steps.at(child).id});
  Param edge_rows{edges.dump()};
  tx_.c.query(tx_.sql.insert_edges, {&edge_rows, 1});
  if (p.child_results) {
    std::vector<Param> child{p.creator.id, p.child_results->dump()};
    tx_.c.query(tx_.sql.set_child_results, child);
  }
}

}  // namespace tasker::detail::sql
