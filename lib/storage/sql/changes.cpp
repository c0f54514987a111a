#include "storage/sql/changes.hpp"

#include <unordered_map>
#include <utility>

#include "storage/sql/values.hpp"

namespace tasker::detail::sql {

namespace {

std::string state_change_reason(TaskState old_state, TaskState state) {
  if (state == TaskState::error) return "a step failed and nothing else can run";
  if (state == TaskState::in_progress) return old_state != TaskState::pending ? "resumed" : "first step started";
  return "all steps complete";
}

/// Lock the touched tasks, apply their deltas and record their state changes.
std::unordered_map<std::int64_t, std::string> settle_tasks(WriteTx& tx, bool tasks_changed) {
  Changes& ch = tx.changes;
  std::unordered_map<std::int64_t, std::string> uuids;
  if (ch.tasks.empty()) return uuids;
  std::vector<std::int64_t> ids;
  for (const auto& [id, delta] : ch.tasks) ids.push_back(id);
  Param list{id_list(ids)};
  Rows r = tx.c.query(tx.sql.lock_tasks, {&list, 1});
  json updates = json::array();
  for (std::size_t i = 0; i < r.size(); ++i) {
    const std::int64_t id = r.integer(i, 0);
    uuids[id] = r.text(i, 1);
    if (!tasks_changed) continue;
    const TaskDelta& d = ch.tasks[id];
    TaskState old_state = task_state_from(r.text(i, 2));
    int total = static_cast<int>(r.integer(i, 3)) + d.added;
    int completed = static_cast<int>(r.integer(i, 4)) + d.completed;
    int resolved = static_cast<int>(r.integer(i, 5)) + d.resolved;
    int failed = static_cast<int>(r.integer(i, 6)) + d.failed;
    int active = static_cast<int>(r.integer(i, 7)) + d.active;
    if (d.forced == TaskState::cancelled) active = 0;
    TaskState state = derive_task_state(old_state, d, total, completed, resolved, failed, active);
    bool counters_changed = d.completed || d.resolved || d.failed || d.active || d.added || d.forced;
    if (state == old_state && !counters_changed) continue;
    std::optional<std::int64_t> completed_at;
    if (is_terminal(state)) completed_at = ms(tx.now);
    updates.push_back({id, std::string(to_string(state)), total, completed, resolved, failed, active,
                       completed_at ? json(*completed_at) : json(nullptr)});
    if (state == old_state) continue;
    std::string reason = d.reason.empty() ? state_change_reason(old_state, state) : d.reason;
    ch.transition(id, std::nullopt, to_string(old_state), to_string(state), ch.worker_id, reason, 0);
    record_task_state(ch, id, uuids[id], state, failed);
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
  for (const auto& t : tx.changes.transitions)
    rows.push_back({seq++, t.task_id, t.step_id ? json(*t.step_id) : json(nullptr),
                    t.from_state.empty() ? json(nullptr) : json(t.from_state), t.to_state, t.worker_id, t.reason,
                    t.attempt});
  std::vector<Param> p{rows.dump(), ms(tx.now)};
  tx.c.query(tx.sql.insert_transitions, p);
}

}  // namespace

void record_task_state(Changes& ch, std::int64_t task_id, const std::string& task_uuid, TaskState state,
                       int failed_steps) {
  if (state == TaskState::complete || state == TaskState::resolved_manually)
    ch.event(events::kTaskCompleted, task_id, "", {{"state", to_string(state)}});
  else if (state == TaskState::error)
    ch.event(events::kTaskFailed, task_id, "", {{"failed_steps", failed_steps}});
  if (is_terminal(state)) ch.finished_tasks.push_back(task_uuid);
}

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

LifecycleEvent resolve_event(PendingEvent e, const std::string& task_uuid, TimePoint now) {
  e.payload["task_uuid"] = task_uuid;
  if (!e.step_name.empty()) e.payload["step_name"] = e.step_name;
  return {std::move(e.name), now, task_uuid, std::move(e.step_name), std::move(e.payload)};
}

std::vector<LifecycleEvent> settle(WriteTx& tx, bool tasks_changed) {
  auto uuids = settle_tasks(tx, tasks_changed);
  write_transitions(tx);
  std::vector<LifecycleEvent> out;
  out.reserve(tx.changes.events.size());
  for (auto& e : tx.changes.events) {
    auto it = uuids.find(e.task_id);
    out.push_back(resolve_event(std::move(e), it == uuids.end() ? std::string{} : it->second, tx.now));
  }
  return out;
}

TaskState derive_task_state(TaskState old_state, const TaskDelta& d, int total, int completed, int resolved, int failed,
                            int active) {
  if (d.forced) return *d.forced;
  if (old_state == TaskState::cancelled) return old_state;
  if (completed + resolved >= total) return resolved > 0 ? TaskState::resolved_manually : TaskState::complete;
  if (failed > 0 && active == 0) return TaskState::error;
  if (old_state == TaskState::pending && !d.started) return TaskState::pending;
  return TaskState::in_progress;
}

}  // namespace tasker::detail::sql
