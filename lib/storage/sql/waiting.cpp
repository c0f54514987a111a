#include "storage/sql/waiting.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "storage/sql/state_sql.hpp"
#include "storage/sql/step_writes.hpp"
#include "storage/sql/values.hpp"
#include "tasker/errors.hpp"
#include "tasker/template.hpp"

namespace tasker::detail::sql {

namespace {

/// Lock a task row (the first lock a signal or a suspend takes): its id and state.
std::pair<std::int64_t, TaskState> lock_task_of_step(WriteTx& tx, std::int64_t step_id) {
  Param id{step_id};
  Rows r =
      tx.c.query(fmt::format("SELECT t.id, t.state FROM tasker_tasks t WHERE t.id = (SELECT task_id FROM tasker_steps "
                             "WHERE id = $1){}",
                             tx.dialect.for_update),
                 {&id, 1});
  if (r.empty()) return {0, TaskState::cancelled};
  return {r.integer(0, 0), task_state_from(r.text(0, 1))};
}

/// A kept signal of this name for the task, oldest first, marked consumed by `step_id`.
std::optional<json> consume_signal(WriteTx& tx, std::int64_t task_id, const std::string& name, std::int64_t step_id) {
  std::vector<Param> p{task_id, name};
  Rows r = tx.c.query(
      "SELECT id, payload, signal_key, sender, received_at FROM tasker_signals WHERE task_id = $1 AND name = $2 "
      "AND consumed_at IS NULL ORDER BY id LIMIT 1",
      p);
  if (r.empty()) return std::nullopt;
  std::vector<Param> u{r.integer(0, 0), ms(tx.now), step_id};
  tx.c.query("UPDATE tasker_signals SET consumed_at = $2, step_id = $3 WHERE id = $1", u);
  return json{{"payload", parse_json(r.rows[0][1])},
              {"key", r.is_null(0, 2) ? json(nullptr) : json(r.text(0, 2))},
              {"sender", r.text(0, 3)},
              {"received_at", format_time(from_epoch_ms(r.integer(0, 4)))}};
}

/// Complete a waiting step (locked, in its state as of this transaction) with
/// `result` by `move`; its children advance as on any success.
void complete_waiting(WriteTx& tx, const LockedStep& s, StepMove move, const json& result, const std::string& reason,
                      json payload) {
  apply_updates(tx, {{s.id, target_of(move), result, std::nullopt, 0, std::nullopt, ms(tx.now)}});
  tx.changes.step(s.task_id, s.id, s.name, move, s.state, "", reason, s.attempts, std::move(payload));
  tx.changes.results[s.id] = result;
  advance_children(tx, {s.id});
}

json signal_audit(const std::string& name, const json& consumed) {
  return {{"waited", "signal"},
          {"signal", name},
          {"key", consumed.at("key")},
          {"sender", consumed.at("sender")},
          {"received_at", consumed.at("received_at")}};
}

}  // namespace

void suspend_steps(WriteTx& tx, const std::vector<Suspension>& steps, std::vector<std::int64_t>& discarded) {
  for (const Suspension& w : steps) {
    const auto [task_id, task_state] = lock_task_of_step(tx, w.step_id);
    auto locked = lock_steps(tx, {w.step_id});
    if (task_id == 0 || locked.empty() || !allows(StepMove::suspended, locked.front().state) ||
        locked.front().claim_token != w.claim_token) {
      discarded.push_back(w.step_id);
      continue;
    }
    const LockedStep& s = locked.front();
    json payload = json::object();
    std::string reason;
    if (!w.signal.empty()) {
      payload["signal"] = w.signal;
      reason = fmt::format("waiting for signal `{}`", w.signal);
    } else {
      reason = "sleeping";
    }
    if (w.wake_at) {
      payload["wake_at"] = format_time(*w.wake_at);
      reason += w.signal.empty() ? fmt::format(" until {}", format_time(*w.wake_at))
                                 : fmt::format(" (times out at {})", format_time(*w.wake_at));
    }
    tx.changes.step(s.task_id, s.id, s.name, StepMove::suspended, s.state, s.worker_id, reason, s.attempts, payload);
    if (!w.signal.empty()) {
      if (auto consumed = consume_signal(tx, task_id, w.signal, s.id)) {
        LockedStep waiting = s;  // as the move above left it
        waiting.state = StepState::waiting;
        complete_waiting(tx, waiting, StepMove::signalled, consumed->at("payload"),
                         fmt::format("signal `{}` received (kept since {})", w.signal, consumed->at("received_at")),
                         signal_audit(w.signal, *consumed));
        continue;
      }
    }
    apply_updates(tx, {{s.id, StepState::waiting, std::nullopt, std::nullopt, 0, std::nullopt, std::nullopt}});
    std::vector<Param> p{s.id, w.wake_at ? Param{ms(*w.wake_at)} : Param{nullptr}};
    tx.c.query("UPDATE tasker_steps SET wake_at = $2 WHERE id = $1", p);
  }
}

std::size_t wake_due_steps(WriteTx& tx, int limit) {
  std::vector<Param> p{ms(tx.now), static_cast<std::int64_t>(limit)};
  // wake_at is set exactly while a step waits (Store::check_consistency), so this reads tasker_steps_wake alone.
  Rows due = tx.c.query(fmt::format("SELECT id, callable, initialization, wake_at FROM tasker_steps "
                                    "WHERE wake_at <= $1 ORDER BY wake_at, id LIMIT $2{}",
                                    tx.dialect.skip_locked),
                        p);
  if (due.empty()) return 0;
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < due.size(); ++i) ids.push_back(due.integer(i, 0));
  std::sort(ids.begin(), ids.end());
  std::size_t woken = 0;
  for (const LockedStep& s : lock_steps(tx, ids)) {
    if (!allows(StepMove::woke, s.state)) continue;
    std::size_t row = 0;
    while (due.integer(row, 0) != s.id) ++row;
    const json init = parse_json(due.rows[row][2]);
    const std::string at = format_time(from_epoch_ms(due.integer(row, 3)));
    ++woken;
    if (due.text(row, 1) == kSleepCallable) {
      complete_waiting(tx, s, StepMove::woke, {{"slept_until", at}}, fmt::format("slept until {}", at),
                       {{"waited", "sleep"}});
      continue;
    }
    const SignalSpec spec = signal_spec_from_json(init, s.name);
    const std::string& name = spec.name;
    if (spec.complete_on_timeout) {
      complete_waiting(tx, s, StepMove::woke, spec.on_timeout_result,
                       fmt::format("signal `{}` did not arrive by {}: completed with on_timeout_result", name, at),
                       {{"waited", "timeout"}, {"signal", name}});
      continue;
    }
    StepFailure f{fmt::format("signal `{}` did not arrive by {} (timeout_seconds {})", name, at,
                              spec.timeout_seconds.value_or(0)),
                  "signal_timeout", false, json::object()};
    json error = failure_json(f);
    error["attempt"] = s.attempts;
    apply_updates(tx, {{s.id, StepState::error, std::nullopt, error, 0, std::nullopt, ms(tx.now)}});
    tx.changes.step(s.task_id, s.id, s.name, StepMove::timed_out, s.state, "", "signal_timeout", s.attempts,
                    {{"error", error}, {"waited", "timeout"}, {"signal", name}});
  }
  return woken;
}

SignalStatus deliver_signal(WriteTx& tx, const SignalDelivery& signal) {
  Param u{signal.task_uuid};
  Rows t = tx.c.query(tx.sql.task_id_by_uuid, {&u, 1});
  if (t.empty()) refuse_signal(signal, SignalRefusal::no_task);
  const std::int64_t task_id = t.integer(0, 0);
  const TaskState state = task_state_from(t.text(0, 1));
  if (signal.key) {
    std::vector<Param> k{task_id, *signal.key};
    if (!tx.c.query("SELECT id FROM tasker_signals WHERE task_id = $1 AND signal_key = $2", k).empty())
      return SignalStatus::duplicate;
  }
  if (is_terminal(state)) refuse_signal(signal, SignalRefusal::task_finished, to_string(state));
  // The task's signal steps of that name (the name travels in the step's initialization).
  std::vector<Param> q{task_id, std::string(kSignalCallable)};
  Rows steps = tx.c.query(
      "SELECT id, state, initialization, name FROM tasker_steps WHERE task_id = $1 AND callable = $2 ORDER BY id", q);
  std::optional<std::int64_t> waiting;
  bool ahead = false;
  bool any = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (signal_spec_from_json(parse_json(steps.rows[i][2]), steps.text(i, 3)).name != signal.name) continue;
    any = true;
    const StepState s = step_state_from(steps.text(i, 1));
    if (s == StepState::waiting && !waiting) waiting = steps.integer(i, 0);
    ahead = ahead || (step_sets::kUnfinished.contains(s) && s != StepState::waiting);
  }
  if (!any) {
    // A signal step created at run time (below a decision) is in the task's definition until then.
    Param id{task_id};
    Rows d = tx.c.query(tx.sql.task_definition, {&id, 1});
    const json definition = d.empty() ? json(nullptr) : parse_json(d.rows[0][0]);
    if (definition.is_object())
      for (const auto& s : definition.value("steps", json::array()))
        if (s.value("callable", "") == kSignalCallable &&
            signal_spec_from_json(s.value("initialization", json::object()), s.value("name", "")).name == signal.name)
          ahead = true;
    if (!ahead) refuse_signal(signal, SignalRefusal::no_step);
  }
  if (!waiting && !ahead) refuse_signal(signal, SignalRefusal::steps_finished);
  // The state read above was not locked: a wake pass may have timed the step
  // out (or an operator ended it) since. Locked now, it is checked again.
  std::optional<LockedStep> target;
  if (waiting) {
    target = lock_steps(tx, {*waiting}).front();
    if (!allows(StepMove::signalled, target->state))
      refuse_signal(signal, SignalRefusal::stopped_waiting, to_string(target->state));
  }
  std::vector<Param> ins{task_id,
                         signal.name,
                         signal.key ? Param{*signal.key} : Param{nullptr},
                         signal.payload.dump(),
                         signal.sender,
                         ms(tx.now),
                         waiting ? Param{ms(tx.now)} : Param{nullptr},
                         waiting ? Param{*waiting} : Param{nullptr}};
  tx.c.query(
      "INSERT INTO tasker_signals (task_id, name, signal_key, payload, sender, received_at, consumed_at, step_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      ins);
  tx.changes.tasks[task_id];
  if (!target) return SignalStatus::buffered;
  SignalCompletion done = signal_completion(signal, tx.now);
  complete_waiting(tx, *target, StepMove::signalled, signal.payload, done.reason, std::move(done.payload));
  return SignalStatus::delivered;
}

namespace {
constexpr std::array<std::pair<SignalRefusal, std::string_view>, 5> kRefusalNames{{
    {SignalRefusal::no_task, "no_task"},
    {SignalRefusal::task_finished, "task_finished"},
    {SignalRefusal::no_step, "no_step"},
    {SignalRefusal::steps_finished, "steps_finished"},
    {SignalRefusal::stopped_waiting, "stopped_waiting"},
}};
}  // namespace

std::optional<SignalRefusal> parse_signal_refusal(std::string_view name) {
  for (const auto& [why, text] : kRefusalNames)
    if (text == name) return why;
  return std::nullopt;
}

void refuse_signal(const SignalDelivery& signal, SignalRefusal why, std::string_view state) {
  switch (why) {
    case SignalRefusal::no_task: throw NotFoundError("task", signal.task_uuid);
    case SignalRefusal::task_finished:
      throw ConflictError(fmt::format("task {} is {}: it takes no more signals", signal.task_uuid, state));
    case SignalRefusal::no_step:
      throw NotFoundError(
          "signal", signal.name,
          fmt::format("task {} has no signal step waiting for signal `{}`", signal.task_uuid, signal.name));
    case SignalRefusal::steps_finished:
      throw ConflictError(fmt::format("the signal steps of task {} waiting for `{}` have finished: it takes no more",
                                      signal.task_uuid, signal.name));
    case SignalRefusal::stopped_waiting:
      throw ConflictError(fmt::format(
          "the signal step of task {} waiting for `{}` stopped waiting ({}) as the signal arrived; nothing was "
          "delivered: look at the step's state before sending it again",
          signal.task_uuid, signal.name, state));
  }
  throw StorageError("internal: an unknown signal refusal");
}

SignalCompletion signal_completion(const SignalDelivery& signal, TimePoint now) {
  return {fmt::format("signal `{}` received", signal.name),
          signal_audit(signal.name, {{"key", signal.key ? json(*signal.key) : json(nullptr)},
                                     {"sender", signal.sender},
                                     {"received_at", format_time(now)}})};
}

}  // namespace tasker::detail::sql

namespace tasker {

std::string_view to_string(SignalStatus status) {
  switch (status) {
    case SignalStatus::delivered: return "delivered";
    case SignalStatus::buffered: return "buffered";
    case SignalStatus::duplicate: return "duplicate";
  }
  return "unknown";
}

}  // namespace tasker
