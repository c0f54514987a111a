#include "storage/sql/task_creation.hpp"

#include <set>
#include <unordered_map>

#include "storage/sql/values.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"

namespace tasker::detail::sql {

NewStep new_step(const StepTemplate& t, std::int64_t position, std::string name, const json& initialization,
                 std::vector<std::string> dependencies, std::int64_t waiting, TimePoint now,
                 std::optional<TimePoint> run_at) {
  NewStep s;
  s.uuid = new_uuid();
  s.position = position;
  s.name = std::move(name);
  s.callable = t.handler.callable;
  s.initialization = initialization;
  s.dependencies = std::move(dependencies);
  s.pending_parents = waiting;
  s.state = target_of(waiting == 0 ? StepMove::created_ready : StepMove::created_waiting);
  if (step_sets::kClaimable.contains(s.state)) s.claimable_at = ms(run_at ? std::max(now, *run_at) : now);
  s.retry = t.retry;
  s.timeout_seconds = t.timeout_seconds;
  s.type = t.type;
  return s;
}

StepMove creation_move(const NewStep& s) {
  return s.state == target_of(StepMove::created_ready) ? StepMove::created_ready : StepMove::created_waiting;
}

TaskPlan plan_task(const TaskTemplate& tmpl, const TaskRequest& request,
                   const std::optional<std::string>& identity_hash, TimePoint now) {
  TaskPlan plan;
  plan.task_uuid = new_uuid();
  plan.tmpl = &tmpl;
  plan.request = &request;
  plan.identity_hash = identity_hash;
  std::set<std::string, std::less<>> bypass(request.bypass_steps.begin(), request.bypass_steps.end());
  // Steps created at run time come later; a template with such steps keeps its definition for then.
  const std::vector<bool> created = initially_created(tmpl);
  if (tmpl.has_dynamic_steps()) plan.definition = template_definition(tmpl).dump();
  // Included steps get consecutive positions; a dependency on a bypassed step is satisfied.
  std::unordered_map<std::string_view, std::size_t> position;
  for (std::size_t i = 0; i < tmpl.steps.size(); ++i) {
    const StepTemplate& s = tmpl.steps[i];
    if (created[i] && !bypass.count(s.name)) position.emplace(s.name, plan.steps.size()), plan.steps.push_back(&s);
  }
  plan.parents.resize(plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const StepTemplate& s = *plan.steps[i];
    for (const auto& dep : s.dependencies)
      if (auto it = position.find(dep); it != position.end()) plan.parents[i].push_back(it->second);
    NewStep row = new_step(s, static_cast<std::int64_t>(i), s.name, s.handler.initialization, s.dependencies,
                           static_cast<std::int64_t>(plan.parents[i].size()), now, request.run_at);
    count_move(plan.counters, std::nullopt, row.state);
    plan.step_rows.push_back(to_row(row));
    plan.rows.push_back(std::move(row));
  }
  plan.state = decide_task_state({TaskState::pending, false, plan.counters}).then;
  plan.created_payload = {{"namespace", tmpl.namespace_name},
                          {"name", tmpl.name},
                          {"version", tmpl.version},
                          {"total_steps", plan.steps.size()}};
  return plan;
}

std::vector<Param> task_row_params(const TaskPlan& plan, TimePoint now) {
  const TaskTemplate& tmpl = *plan.tmpl;
  const TaskRequest& request = *plan.request;
  return {plan.task_uuid,
          tmpl.namespace_name,
          tmpl.name,
          tmpl.version,
          std::string(to_string(plan.state)),
          request.context.dump(),
          request.initiator,
          request.source_system,
          request.reason,
          json(request.tags).dump(),
          static_cast<std::int64_t>(request.priority),
          request.correlation_id,
          request.idempotency_key ? Param{*request.idempotency_key} : Param{nullptr},
          plan.identity_hash ? Param{*plan.identity_hash} : Param{nullptr},
          json(request.bypass_steps).dump(),
          static_cast<std::int64_t>(plan.counters.total),
          static_cast<std::int64_t>(plan.counters.active),
          ms(now),
          is_terminal(plan.state) ? Param{ms(now)} : Param{nullptr},
          plan.definition ? Param{*plan.definition} : Param{nullptr}};
}

Param run_at_param(const TaskPlan& plan) {
  return plan.request->run_at ? Param{ms(*plan.request->run_at)} : Param{nullptr};
}

void record_creation(Changes& ch, const TaskPlan& plan, std::int64_t task_id,
                     const std::vector<std::int64_t>& step_ids) {
  const std::string created(rule_of(StepMove::created_ready).reason);
  ch.task(task_id, std::nullopt, plan.state, "", created, plan.created_payload);
  if (is_terminal(plan.state)) ch.finished_tasks.push_back(plan.task_uuid);
  for (std::size_t i = 0; i < plan.rows.size(); ++i)
    ch.step(task_id, step_ids[i], plan.rows[i].name, creation_move(plan.rows[i]), std::nullopt, "", created, 0);
}

namespace {

std::int64_t insert_task_row(WriteTx& tx, const TaskPlan& plan) {
  std::vector<Param> p = task_row_params(plan, tx.now);
  p.push_back(run_at_param(plan));
  Rows inserted = tx.c.query(tx.sql.insert_task, p);
  if (inserted.empty()) {
    Param hash{*plan.identity_hash};
    Rows existing = tx.c.query(tx.sql.task_by_identity, {&hash, 1});
    throw DuplicateTaskError(existing.empty() ? "(being created concurrently)" : existing.text(0, 0),
                             *plan.identity_hash);
  }
  return inserted.integer(0, 0);
}

/// The step rows and edges; returns the steps' ids by position.
std::vector<std::int64_t> insert_steps(WriteTx& tx, const TaskPlan& plan, std::int64_t task_id) {
  std::vector<Param> sp{plan.step_rows.dump(), task_id, plan.tmpl->namespace_name,
                        static_cast<std::int64_t>(plan.request->priority), ms(tx.now)};
  Rows ids = tx.c.query(tx.sql.insert_steps, sp);
  std::vector<std::int64_t> id_of(plan.steps.size());
  for (std::size_t r = 0; r < ids.size(); ++r) id_of[static_cast<std::size_t>(ids.integer(r, 1))] = ids.integer(r, 0);
  json edge_rows = json::array();
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    for (auto parent : plan.parents[i]) edge_rows.push_back({id_of[parent], id_of[i]});
  if (!edge_rows.empty()) {
    Param edges{edge_rows.dump()};
    tx.c.query(tx.sql.insert_edges, {&edges, 1});
  }
  return id_of;
}

}  // namespace

std::int64_t insert_task(WriteTx& tx, const TaskPlan& plan) {
  const std::int64_t id = insert_task_row(tx, plan);
  record_creation(tx.changes, plan, id, plan.steps.empty() ? std::vector<std::int64_t>{} : insert_steps(tx, plan, id));
  return id;
}

}  // namespace tasker::detail::sql
