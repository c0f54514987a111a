#include "storage/sql/one_call.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "model/event_record.hpp"
#include "storage/sql/claims.hpp"
#include "storage/sql/outcomes.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/statements.hpp"
#include "storage/sql/values.hpp"
#include "storage/sql/views.hpp"
#include "storage/sql/waiting.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

/// Claims remembered beyond this many (outcomes that never came) are dropped:
/// a forgotten claim only sends its failure through the multi-statement path.
constexpr std::size_t kMaxRemembered = 100'000;

const std::string& submit_sql() {
  static const std::string text = fmt::format(
      "SELECT {} FROM tasker_submit_v3($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::jsonb, $11::integer, $12, $13, "
      "$14, $15::jsonb, $16::integer, $17::integer, $18::bigint, $19::bigint, $20::jsonb, $21::jsonb, $22::jsonb, "
      "$23, $24::jsonb, $25::jsonb, $26::bigint)",
      kTaskColumns);
  return text;
}

/// A JSON array parameter as text[]: NULL for a NULL parameter.
std::string text_array(int param) {
  return fmt::format("(SELECT array_agg(e) FROM jsonb_array_elements_text(${}::jsonb) AS t(e))", param);
}

const std::string& exchange_sql() {
  static const std::string text =
      fmt::format("SELECT tasker_exchange_v2($1::jsonb, $2::bigint, $3, $4::integer, $5::bigint, {}, {}, {}, $9)",
                  text_array(6), text_array(7), text_array(8));
  return text;
}

Param optional_list(const std::vector<std::string>& items) {
  return items.empty() ? Param{nullptr} : Param{text_list(items)};
}

/// The lifecycle events of the transitions a function appended (rows.hpp's
/// transition rows), in their order, as the statements path derives them from
/// the rows it inserts; the tasks that reached a final state are added to `finished`.
template <typename UuidOf>
std::vector<LifecycleEvent> events_of_log(const json& transitions, const UuidOf& uuid_of,
                                          const std::unordered_map<std::int64_t, json>& results, TimePoint now,
                                          std::vector<std::string>& finished) {
  std::vector<LifecycleEvent> out;
  const Rows logged = rows_from_json(transitions);
  for (std::size_t i = 0; i < logged.size(); ++i) {
    const NamedRow row(logged, i, kTransitionColumns);
    const Transition t{uuid_of(row.integer("task_id")),
                       row.is_null("step_name") ? std::string{} : row.text("step_name"),
                       row.is_null("from_state") ? std::string{} : row.text("from_state"),
                       row.text("to_state"),
                       now,
                       row.text("worker_id"),
                       row.text("reason"),
                       static_cast<int>(row.integer("attempt")),
                       row.json_value("payload")};
    std::optional<json> result;
    if (!row.is_null("step_id"))
      if (auto it = results.find(row.integer("step_id")); it != results.end()) result = it->second;
    for (auto& e : events_of(t, result)) out.push_back(std::move(e));
    if (t.step_name.empty())
      if (auto state = parse_task_state(t.to_state); state && is_terminal(*state)) finished.push_back(t.task_uuid);
  }
  return out;
}

const std::string& signal_sql() {
  static const std::string text = "SELECT tasker_signal_v1($1, $2, $3, $4::jsonb, $5, $6::bigint, $7, $8::jsonb, $9)";
  return text;
}

}  // namespace

std::vector<Param> OneCall::submit_params(const TaskPlan& plan, TimePoint now, const std::string& notifications) {
  json edges = json::array();
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    for (auto parent : plan.parents[i]) edges.push_back({parent, i});
  std::vector<Param> p = task_row_params(plan, now);
  p.insert(p.end(), {plan.step_rows.dump(), edges.dump(), channel_, notifications, plan.created_payload.dump(),
                     run_at_param(plan)});
  return p;
}

namespace {

/// The creation's transitions as the multi-statement path records them; the
/// function writes the same rows, and the events and wake-ups follow from them.
Changes creation_of(const TaskPlan& plan) {
  Changes ch;
  record_creation(ch, plan, 0, std::vector<std::int64_t>(plan.rows.size(), 0));
  return ch;
}

}  // namespace

CreateResult OneCall::created(const Rows& r, const TaskPlan& plan, const Changes& ch, TimePoint now) {
  if (r.empty() || r.text(0, 1) != plan.task_uuid)
    throw DuplicateTaskError(r.empty() ? "(being created concurrently)" : r.text(0, 1), *plan.identity_hash);
  CreateResult out;
  out.task = task_view_as_created(r, plan.counters.active, plan.counters.total - plan.counters.active);
  for (const auto& t : ch.transitions)
    for (auto& e : events_of(as_transition(t, plan.task_uuid, now), std::nullopt)) out.events.push_back(std::move(e));
  return out;
}

CreateResult OneCall::create_task(const TaskPlan& plan, TimePoint now, Wakeups& wake) {
  const Changes ch = creation_of(plan);
  wake = Wakeups{ch.enqueued, ch.finished_tasks};
  // Work for other workers, but no end: nobody can be watching a task that did not exist.
  const std::vector<Param> p = submit_params(plan, now, json(notification_payloads(Wakeups{wake.work, {}})).dump());
  Rows r = runner_.run(Access::statement, [&](Connection& c) { return c.call(submit_sql(), p); });
  return created(r, plan, ch, now);
}

std::optional<CreateResult> OneCall::create_task_in(Connection& c, const TaskPlan& plan, TimePoint now, Wakeups& wake,
                                                    std::string& existing) {
  const std::vector<Param> p = submit_params(plan, now, "[]");
  const Rows r = c.query(submit_sql(), p);
  if (!r.empty() && r.text(0, 1) != plan.task_uuid) {
    existing = r.text(0, 1);
    return std::nullopt;
  }
  const Changes ch = creation_of(plan);
  wake = Wakeups{ch.enqueued, ch.finished_tasks};
  return created(r, plan, ch, now);
}

std::optional<ExchangeResult> OneCall::exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim,
                                                TimePoint now, Wakeups& wake) {
  if (claim && claim->reclaim_expired) return std::nullopt;
  // Each outcome's row, reason and payload, decided from its claim as outcomes.cpp decides from the locked row.
  json rows = json::array();
  std::unordered_map<std::int64_t, json> results;  // for the completions' events
  {
    std::lock_guard lock(mutex_);
    for (const auto& o : outcomes) {
      auto it = claims_.find(o.step_id);
      if (it == claims_.end() || it->second.token != o.claim_token || it->second.creates_steps) return std::nullopt;
      const Claim& k = it->second;
      LockedStep s{o.step_id, 0, k.token, StepState::in_progress, k.attempts, k.retry, k.step_name, "", {}, {}, ""};
      Changes ch;
      const StepUpdate u = outcome_update(ch, s, o, "", now);
      const TransitionRow& t = ch.transitions.back();
      rows.push_back(to_outcome_row(u, o.claim_token, t.reason, t.payload));
      if (auto r = ch.results.find(o.step_id); r != ch.results.end()) results.emplace(o.step_id, r->second);
    }
  }
  const bool claiming = claim && claim->limit > 0 && !claim->filter.callables.empty();
  const TimePoint lease_end = now + (claim ? claim->lease : std::chrono::milliseconds{0});
  std::vector<Param> p{rows.dump(),
                       ms(now),
                       claim ? claim->worker_id : std::string{},
                       static_cast<std::int64_t>(claiming ? claim->limit : 0),
                       ms(lease_end),
                       claiming ? Param{text_list(claim->filter.callables)} : Param{nullptr},
                       claiming ? optional_list(claim->filter.namespaces) : Param{nullptr},
                       claiming ? optional_list(claim->filter.task_uuids) : Param{nullptr},
                       channel_};
  Rows r = runner_.run(Access::statement, [&](Connection& c) { return c.call(exchange_sql(), p); });
  const json answer = parse_json(r.rows.at(0).at(0));
  if (answer.value("fallback", false)) return std::nullopt;

  ExchangeResult out;
  std::unordered_map<std::int64_t, std::string> uuid_of;  // task id -> uuid, for every touched task
  for (const auto& t : answer.at("tasks")) uuid_of[t.at(0).get<std::int64_t>()] = t.at(1).get<std::string>();
  for (const auto& id : answer.at("discarded")) out.discarded.push_back(id.get<std::int64_t>());
  out.events = events_of_log(
      answer.at("transitions"), [&](std::int64_t id) -> const std::string& { return uuid_of.at(id); }, results, now,
      wake.finished);
  // The claimed steps: their columns, their task's, then their dependency results.
  const Rows claimed = rows_from_json(answer.at("claimed"));
  out.claimed = claimed_from(claimed, now, lease_end);
  constexpr std::size_t kResults = kClaimedColumns.size() + kClaimedTaskColumns.size();
  for (std::size_t i = 0; i < out.claimed.size(); ++i) {
    ClaimedStep& s = out.claimed[i];
    const NamedRow task(claimed, i, kClaimedTaskColumns, kClaimedColumns.size());
    s.task_uuid = task.text("uuid");
    s.namespace_name = task.text("namespace_name");
    s.task_name = task.text("name");
    s.task_version = task.text("version");
    s.context = task.json_value("context");
    const json dependency_results = parse_json(claimed.rows[i][kResults]);  // null when the step has no parents
    if (dependency_results.is_object())
      for (const auto& [name, result] : dependency_results.items()) s.dependency_results[name] = result;
  }
  wake.work = answer.at("work").get<bool>();
  forget(outcomes);
  remember(out.claimed);
  return out;
}

std::optional<SignalResult> OneCall::deliver_signal(const SignalDelivery& signal, TimePoint now, Wakeups& wake) {
  const SignalCompletion done = signal_completion(signal, now);
  const std::vector<Param> p{
      signal.task_uuid,      signal.name,         signal.key ? Param{*signal.key} : Param{nullptr},
      signal.payload.dump(), signal.sender,       ms(now),
      done.reason,           done.payload.dump(), channel_};
  Rows r = runner_.run(Access::statement, [&](Connection& c) { return c.call(signal_sql(), p); });
  const json answer = parse_json(r.rows.at(0).at(0));
  if (answer.value("fallback", false)) return std::nullopt;
  if (answer.contains("refused")) {
    const auto why = parse_signal_refusal(answer.at("refused").get<std::string>());
    if (!why) throw StorageError(fmt::format("internal: tasker_signal_v1 refused a signal as {}", answer.dump()));
    refuse_signal(signal, *why, answer.value("state", ""));
  }
  SignalResult out;
  const std::string status = answer.at("status").get<std::string>();
  if (status == to_string(SignalStatus::duplicate)) {
    out.status = SignalStatus::duplicate;
  } else if (status == to_string(SignalStatus::buffered)) {
    out.status = SignalStatus::buffered;
  } else {
    out.status = SignalStatus::delivered;
    const std::unordered_map<std::int64_t, json> results{{answer.at("step_id").get<std::int64_t>(), signal.payload}};
    out.events = events_of_log(
        answer.at("transitions"), [&](std::int64_t) -> const std::string& { return signal.task_uuid; }, results, now,
        wake.finished);
    wake.work = answer.at("work").get<bool>();
  }
  return out;
}

void OneCall::remember(const std::vector<ClaimedStep>& claimed) {
  std::lock_guard lock(mutex_);
  if (claims_.size() + claimed.size() > kMaxRemembered) claims_.clear();
  for (const auto& s : claimed)
    claims_[s.step_id] =
        Claim{s.claim_token, s.step_name, s.attempt, s.retry,
              s.type == StepType::decision || s.type == StepType::batchable || s.type == StepType::batch_worker};
}

void OneCall::forget(const std::vector<StepOutcome>& outcomes) {
  std::lock_guard lock(mutex_);
  for (const auto& o : outcomes)
    if (auto it = claims_.find(o.step_id); it != claims_.end() && it->second.token == o.claim_token) claims_.erase(it);
}

}  // namespace tasker::detail::sql
