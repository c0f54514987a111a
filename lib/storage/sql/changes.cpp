#include "storage/sql/changes.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "model/event_record.hpp"
#include "storage/sql/values.hpp"

namespace tasker::detail::sql {

std::string_view TransitionRow::from_name() const {
  if (is_step()) return step_from ? to_string(*step_from) : std::string_view{};
  return task_from ? to_string(*task_from) : std::string_view{};
}

std::string_view TransitionRow::to_name() const { return is_step() ? to_string(step_to) : to_string(task_to); }

void Changes::step(std::int64_t task_id, std::int64_t step_id, std::string step_name, StepMove move,
                   std::optional<StepState> from, std::string worker, std::string reason, int attempt, json payload) {
  if (!allows(move, from))
    throw std::logic_error(fmt::format("step `{}` cannot make the move {} from {}", step_name, rule_of(move).name,
                                       from ? to_string(*from) : "nothing"));
  tasks[task_id];
  TransitionRow row;
  row.task_id = task_id;
  row.step_id = step_id;
  row.step_name = std::move(step_name);
  row.step_from = from;
  row.step_to = target_of(move);
  row.worker_id = std::move(worker);
  row.reason = std::move(reason);
  row.attempt = attempt;
  row.payload = std::move(payload);
  if (row.step_to == StepState::enqueued) {  // claimable now: other workers may want it
    enqueued = true;
    enqueued_steps.push_back(step_id);
  }
  transitions.push_back(std::move(row));
}

void Changes::task(std::int64_t task_id, std::optional<TaskState> from, TaskState to, std::string worker,
                   std::string reason, json payload) {
  tasks[task_id];
  TransitionRow row;
  row.task_id = task_id;
  row.task_from = from;
  row.task_to = to;
  row.worker_id = std::move(worker);
  row.reason = std::move(reason);
  row.payload = std::move(payload);
  transitions.push_back(std::move(row));
}

std::map<std::int64_t, TaskCounters> counter_deltas(const Changes& ch) {
  std::map<std::int64_t, TaskCounters> out;
  for (const auto& t : ch.transitions)
    if (t.is_step()) count_move(out[t.task_id], t.step_from, t.step_to);
  return out;
}

std::map<std::int64_t, bool> started_tasks(const Changes& ch) {
  std::map<std::int64_t, bool> out;
  for (const auto& t : ch.transitions)
    if (t.is_step() && t.step_from && t.step_to == target_of(StepMove::claimed) &&
        allows(StepMove::claimed, t.step_from))
      out[t.task_id] = true;
  return out;
}

namespace {

/// Lock the touched tasks, apply their steps' moves to their counters, and
/// record the state changes that follow. Returns the tasks' uuids.
std::unordered_map<std::int64_t, std::string> settle_tasks(WriteTx& tx, bool tasks_changed) {
  Changes& ch = tx.changes;
  std::unordered_map<std::int64_t, std::string> uuids;
  if (ch.tasks.empty()) return uuids;
  std::vector<std::int64_t> ids;
  for (const auto& [id, delta] : ch.tasks) ids.push_back(id);
  Param list{id_list(ids)};
  Rows r = tx.c.query(tx.sql.lock_tasks, {&list, 1});
  const auto deltas = tasks_changed ? counter_deltas(ch) : std::map<std::int64_t, TaskCounters>{};
  const auto started = started_tasks(ch);
  json updates = json::array();
  for (std::size_t i = 0; i < r.size(); ++i) {
    const std::int64_t id = r.integer(i, 0);
    uuids[id] = r.text(i, 1);
    if (!tasks_changed) continue;
    const TaskDelta& d = ch.tasks[id];
    const TaskState old_state = task_state_from(r.text(i, 2));
    TaskFacts facts{old_state, started.count(id) > 0,
                    TaskCounters{static_cast<int>(r.integer(i, 3)), static_cast<int>(r.integer(i, 4)),
                                 static_cast<int>(r.integer(i, 5)), static_cast<int>(r.integer(i, 6)),
                                 static_cast<int>(r.integer(i, 7))}};
    const auto delta = deltas.find(id);
    const bool counters_changed = delta != deltas.end() && !delta->second.zero();
    if (counters_changed) facts.counters += delta->second;
    const TaskStateRule& rule = decide_task_state(facts);
    const TaskState state = d.forced.value_or(rule.then);
    if (state == old_state && !counters_changed && !d.forced) continue;
    const TaskCounters& c = facts.counters;
    updates.push_back({id, std::string(to_string(state)), c.total, c.completed, c.resolved, c.failed, c.active,
                       is_terminal(state) ? json(ms(tx.now)) : json(nullptr)});
    if (state == old_state) continue;
    json payload = state == TaskState::error ? json{{"failed_steps", c.failed}} : json(nullptr);
    ch.task(id, old_state, state, ch.worker_id, d.forced ? d.reason : std::string(rule.reason), std::move(payload));
    if (is_terminal(state)) ch.finished_tasks.push_back(uuids[id]);
  }
  if (!updates.empty()) {
    std::vector<Param> p{updates.dump(), ms(tx.now)};
    tx.c.query(tx.sql.update_tasks, p);
  }
  return uuids;
}

void write_transitions(WriteTx& tx) {
  if (tx.changes.transitions.empty()) return;
  json rows = json::array();
  std::int64_t seq = 0;
  for (const auto& t : tx.changes.transitions) {
    const std::string_view from = t.from_name();
    rows.push_back({seq++, t.task_id, t.step_id ? json(*t.step_id) : json(nullptr),
                    from.empty() ? json(nullptr) : json(from), t.to_name(), t.worker_id, t.reason, t.attempt,
                    t.payload.is_null() ? json(nullptr) : json(t.payload.dump())});
  }
  std::vector<Param> p{rows.dump(), ms(tx.now)};
  tx.c.query(tx.sql.insert_transitions, p);
}

}  // namespace

std::vector<std::string> notification_payloads(const Wakeups& wake) {
  constexpr std::size_t kMaxPayload = 7000;
  std::vector<std::string> out;
  if (wake.work) out.emplace_back();
  std::string payload;
  for (const auto& uuid : wake.finished) {
    if (!payload.empty() && payload.size() + uuid.size() + 1 > kMaxPayload) out.push_back(std::exchange(payload, {}));
    payload += payload.empty() ? std::string(kFinishedPrefix) + uuid : "," + uuid;
  }
  if (!payload.empty()) out.push_back(std::move(payload));
  return out;
}

Transition as_transition(const TransitionRow& t, const std::string& task_uuid, TimePoint now) {
  return {task_uuid, t.step_name, std::string(t.from_name()), std::string(t.to_name()), now, t.worker_id, t.reason,
          t.attempt, t.payload};
}

std::vector<LifecycleEvent> settle(WriteTx& tx, bool tasks_changed) {
  auto uuids = settle_tasks(tx, tasks_changed);
  write_transitions(tx);
  std::vector<LifecycleEvent> out;
  for (const auto& t : tx.changes.transitions) {
    std::optional<json> result;
    if (t.step_id)
      if (auto it = tx.changes.results.find(*t.step_id); it != tx.changes.results.end()) result = it->second;
    auto uuid = uuids.find(t.task_id);
    for (auto& e : events_of(as_transition(t, uuid == uuids.end() ? std::string{} : uuid->second, tx.now), result))
      out.push_back(std::move(e));
  }
  return out;
}

}  // namespace tasker::detail::sql
