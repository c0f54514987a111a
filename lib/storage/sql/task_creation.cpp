#include "storage/sql/task_creation.hpp"

#include <set>
#include <unordered_map>

#include "storage/sql/values.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"

namespace tasker::detail::sql {

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
    bool root = plan.parents[i].empty();
    plan.roots += root ? 1 : 0;
    plan.step_rows.push_back({new_uuid(), static_cast<std::int64_t>(i), s.name, s.handler.callable,
                              s.handler.initialization.dump(), json(s.dependencies).dump(),
                              root ? "enqueued" : "pending", static_cast<std::int64_t>(plan.parents[i].size()),
                              s.retry.max_attempts, s.retry.retryable ? 1 : 0, std::string(to_string(s.retry.backoff)),
                              s.retry.backoff_base_ms, s.retry.max_backoff_ms, s.timeout_seconds,
                              root ? json(ms(now)) : json(nullptr), std::string(to_string(s.type)), nullptr, nullptr});
  }
  return plan;
}

std::vector<Param> task_row_params(const TaskPlan& plan, TimePoint now) {
  const TaskTemplate& tmpl = *plan.tmpl;
  const TaskRequest& request = *plan.request;
  const bool empty = plan.steps.empty();
  return {plan.task_uuid,
          tmpl.namespace_name,
          tmpl.name,
          tmpl.version,
          std::string(to_string(empty ? TaskState::complete : TaskState::pending)),
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
          static_cast<std::int64_t>(plan.steps.size()),
          static_cast<std::int64_t>(plan.roots),
          ms(now),
          empty ? Param{ms(now)} : Param{nullptr},
          plan.definition ? Param{*plan.definition} : Param{nullptr}};
}

void record_creation(Changes& ch, const TaskPlan& plan, std::int64_t task_id,
                     const std::vector<std::int64_t>& step_ids) {
  const TaskTemplate& tmpl = *plan.tmpl;
  const bool empty = plan.steps.empty();
  ch.transition(task_id, std::nullopt, "", to_string(empty ? TaskState::complete : TaskState::pending), "", "created",
                0);
  ch.event(events::kTaskCreated, task_id, "",
           {{"namespace", tmpl.namespace_name},
            {"name", tmpl.name},
            {"version", tmpl.version},
            {"total_steps", plan.steps.size()}});
  if (empty) {
    ch.event(events::kTaskCompleted, task_id, "", {{"state", "complete"}});
    ch.finished_tasks.push_back(plan.task_uuid);
    return;
  }
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    bool root = plan.parents[i].empty();
    ch.transition(task_id, step_ids[i], "", root ? "enqueued" : "pending", "", "created", 0);
    if (root) ch.event(events::kStepEnqueued, task_id, plan.steps[i]->name);
  }
  ch.enqueued = plan.roots > 0;
}

namespace {

std::int64_t insert_task_row(WriteTx& tx, const TaskPlan& plan) {
  Rows inserted = tx.c.query(tx.sql.insert_task, task_row_params(plan, tx.now));
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
