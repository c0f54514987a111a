#include "storage/sql/one_call.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "storage/sql/claims.hpp"
#include "storage/sql/outcomes.hpp"
#include "storage/sql/statements.hpp"
#include "storage/sql/values.hpp"
#include "storage/sql/views.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

/// Claims remembered beyond this many (outcomes that never came) are dropped:
/// a forgotten claim only sends its failure through the multi-statement path.
constexpr std::size_t kMaxRemembered = 100'000;

const std::string& submit_sql() {
  static const std::string text = fmt::format(
      "SELECT {} FROM tasker_submit($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::jsonb, $11::integer, $12, $13, "
      "$14, $15::jsonb, $16::integer, $17::integer, $18::bigint, $19::bigint, $20::jsonb, $21::jsonb, $22::jsonb, "
      "$23, $24::jsonb)",
      kTaskColumns);
  return text;
}

/// A JSON array parameter as text[]: NULL for a NULL parameter.
std::string text_array(int param) {
  return fmt::format("(SELECT array_agg(e) FROM jsonb_array_elements_text(${}::jsonb) AS t(e))", param);
}

const std::string& exchange_sql() {
  static const std::string text =
      fmt::format("SELECT tasker_exchange($1::jsonb, $2::bigint, $3, $4::integer, $5::bigint, {}, {}, {}, $9)",
                  text_array(6), text_array(7), text_array(8));
  return text;
}

Param optional_list(const std::vector<std::string>& items) {
  return items.empty() ? Param{nullptr} : Param{text_list(items)};
}

json optional_ms(const std::optional<std::int64_t>& t) { return t ? json(*t) : json(nullptr); }

}  // namespace

CreateResult OneCall::create_task(const TaskPlan& plan, TimePoint now, Wakeups& wake) {
  // The creation's transitions and events, as the multi-statement path records them;
  // the function writes the same transitions.
  Changes ch;
  record_creation(ch, plan, 0, std::vector<std::int64_t>(plan.steps.size(), 0));
  wake = Wakeups{ch.enqueued, ch.finished_tasks};
  json edges = json::array();
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    for (auto parent : plan.parents[i]) edges.push_back({parent, i});
  std::vector<Param> p = task_row_params(plan, now);
  // Work for other workers, but no end: nobody can be watching a task that did not exist.
  p.insert(p.end(),
           {plan.step_rows.dump(), edges.dump(), channel_, json(notification_payloads(Wakeups{wake.work, {}})).dump()});
  Rows r = runner_.run(Access::statement, [&](Connection& c) { return c.call(submit_sql(), p); });
  if (r.empty() || r.text(0, 1) != plan.task_uuid)
    throw DuplicateTaskError(r.empty() ? "(being created concurrently)" : r.text(0, 1), *plan.identity_hash);
  CreateResult out;
  const int roots = static_cast<int>(plan.roots);
  out.task = task_view_as_created(r, roots, static_cast<int>(plan.steps.size()) - roots);
  for (auto& e : ch.events) out.events.push_back(resolve_event(std::move(e), plan.task_uuid, now));
  return out;
}

std::optional<ExchangeResult> OneCall::exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim,
                                                TimePoint now, Wakeups& wake) {
  if (claim && claim->reclaim_expired) return std::nullopt;
  // Each outcome's row and events, decided from its claim as outcomes.cpp decides from the locked row.
  json rows = json::array();
  std::vector<std::vector<LifecycleEvent>> outcome_events;
  {
    std::lock_guard lock(mutex_);
    for (const auto& o : outcomes) {
      auto it = claims_.find(o.step_id);
      if (it == claims_.end() || it->second.token != o.claim_token || it->second.creates_steps) return std::nullopt;
      const Claim& k = it->second;
      LockedStep s{o.step_id, 0, k.token, StepState::in_progress, k.attempts, k.retry, k.step_name, "", {}, {}, ""};
      Changes ch;
      StepUpdate u = outcome_update(ch, s, o, "", now);
      rows.push_back({u.id, o.claim_token, std::string(to_string(u.state)), u.results ? 1 : 0,
                      u.results ? json(u.results->dump()) : json(nullptr),
                      u.error ? json(u.error->dump()) : json(nullptr), u.attempts_delta, optional_ms(u.claimable_at),
                      optional_ms(u.completed_at), ch.transitions.back().reason});
      auto& events = outcome_events.emplace_back();
      for (auto& e : ch.events) events.push_back(resolve_event(std::move(e), k.task_uuid, now));
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
  // Events in the multi-statement path's order, the outcomes' first.
  for (const auto& id : answer.at("discarded")) out.discarded.push_back(id.get<std::int64_t>());
  for (std::size_t i = 0, d = 0; i < outcomes.size(); ++i) {
    if (d < out.discarded.size() && out.discarded[d] == outcomes[i].step_id) {
      ++d;
      continue;
    }
    for (auto& e : outcome_events[i]) out.events.push_back(std::move(e));
  }
  // What the function did, recorded as the multi-statement path records it and
  // in its order: children enqueued, claims, task states.
  Changes ch;
  for (const auto& c : answer.at("enqueued"))
    ch.event(events::kStepEnqueued, c.at(1).get<std::int64_t>(), c.at(2).get<std::string>());
  const Rows claimed = rows_from_json(answer.at("claimed"));
  out.claimed = claimed_from(claimed, now, lease_end);
  for (std::size_t i = 0; i < out.claimed.size(); ++i) {
    ClaimedStep& s = out.claimed[i];
    s.task_uuid = claimed.text(i, 17);
    s.namespace_name = claimed.text(i, 18);
    s.task_name = claimed.text(i, 19);
    s.task_version = claimed.text(i, 20);
    s.context = parse_json(claimed.rows[i][21]);
    const json dependency_results = parse_json(claimed.rows[i][22]);  // null when the step has no parents
    if (dependency_results.is_object())
      for (const auto& [name, result] : dependency_results.items()) s.dependency_results[name] = result;
    record_started(ch, claimed.integer(i, 1), s, claim->worker_id);
  }
  for (const auto& t : answer.at("tasks")) {
    const auto state = task_state_from(t.at(3).get<std::string>());
    if (state != task_state_from(t.at(2).get<std::string>()))
      record_task_state(ch, t.at(0).get<std::int64_t>(), t.at(1).get<std::string>(), state, t.at(4).get<int>());
  }
  for (auto& e : ch.events) {
    const std::string& uuid = uuid_of.at(e.task_id);
    out.events.push_back(resolve_event(std::move(e), uuid, now));
  }
  wake.work = answer.at("work").get<bool>();
  wake.finished = std::move(ch.finished_tasks);
  forget(outcomes);
  remember(out.claimed);
  return out;
}

void OneCall::remember(const std::vector<ClaimedStep>& claimed) {
  std::lock_guard lock(mutex_);
  if (claims_.size() + claimed.size() > kMaxRemembered) claims_.clear();
  for (const auto& s : claimed)
    claims_[s.step_id] =
        Claim{s.claim_token,
              s.task_uuid,
              s.step_name,
              s.attempt,
              s.retry,
              s.type == StepType::decision || s.type == StepType::batchable || s.type == StepType::batch_worker};
}

void OneCall::forget(const std::vector<StepOutcome>& outcomes) {
  std::lock_guard lock(mutex_);
  for (const auto& o : outcomes)
    if (auto it = claims_.find(o.step_id); it != claims_.end() && it->second.token == o.claim_token) claims_.erase(it);
}

}  // namespace tasker::detail::sql
