// The worker transaction, the submit and a signal's delivery exist twice on
// PostgreSQL: as server functions (one round trip each) and as several
// statements (the path SQLite takes, and PostgreSQL's where the functions fall
// back). This runs one seeded sequence of operations on two schemas of one
// server, one per path, under one ManualClock, and after every operation
// requires the two databases to hold the same rows (tasks, steps, edges,
// transitions, signals) and the operations to have returned the same results
// and events, with ids and uuids masked.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>

#include "storage/backends.hpp"
#include "store/differential_rows.hpp"
#include "store/support.hpp"
#include "store/task_rule_table.hpp"
#include "tasker/clock.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"
#include "tasker/template.hpp"
#include "tasker/template_set.hpp"

using tasker::ClaimedStep;
using tasker::json;
using tasker::StepOutcome;
using tasker::StepType;

namespace {

using differential::claimed_json;
using differential::events_json;
using differential::first_difference;
using differential::Masker;
using differential::Side;
using tasker::test::server_url;
using tasker::test::with_option;

/// What an operation returned (or threw), masked.
struct Answer {
  json value;
};

class Differential {
 public:
  Differential(const std::string& server, unsigned seed)
      : rng_(seed),
        fn_(server, fmt::format("diff_fn_{}", seed), true),
        st_(server, fmt::format("diff_st_{}", seed), false),
        templates_(
            tasker::TemplateSet::load({TASKER_SOURCE_DIR "/templates", TASKER_SOURCE_DIR "/tests/e2e/templates"})) {
    for (const auto* t : templates_.all()) {
      for (const auto& s : t->steps) callables_.insert(s.handler.callable);
      if (kTemplates.count(t->namespace_name + "/" + t->name)) chosen_.push_back(t);
    }
    REQUIRE(chosen_.size() == kTemplates.size());
  }

  /// Run `count` operations, comparing after each.
  void run(int count) {
    for (int i = 0; i < count; ++i) {
      const std::string what = step();
      const json a = answers_.first.value, b = answers_.second.value;
      const std::string answer_diff = first_difference(a, b);
      INFO("operation ", i, ": ", what);
      if (!answer_diff.empty()) MESSAGE("server functions: ", a.dump(), "\nstatements: ", b.dump());
      REQUIRE_MESSAGE(answer_diff.empty(), "the two paths answered differently at ", answer_diff);
      const std::string rows_diff = first_difference(fn_.rows(), st_.rows());
      REQUIRE_MESSAGE(rows_diff.empty(), "the two paths wrote different rows at ", rows_diff);
      for (const auto& v : fn_.store->check_consistency()) FAIL(v);
    }
  }

  std::size_t operations_with(const std::string& kind) const {
    auto it = counts_.find(kind);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  static inline const std::set<std::string> kTemplates{"linear_workflow/mathematical_sequence",
                                                       "diamond_workflow/diamond_pattern",
                                                       "dynamic_e2e/approval_routing",
                                                       "dynamic_e2e/csv_inventory",
                                                       "dynamic_e2e/diamond_decision_batch",
                                                       "error_scenarios/retry_mechanics",
                                                       "waiting_e2e/signal_wait",
                                                       "waiting_e2e/signal_after_signal",
                                                       "waiting_e2e/signal_short_timeout_fail",
                                                       "waiting_e2e/approval_decision"};

  struct InFlight {
    ClaimedStep fn, st;
  };
  struct SentSignal {
    std::size_t task;
    std::string name;
    std::optional<std::string> key;
  };

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  /// Run `op` on both sides and keep what each returned (or threw), masked.
  template <typename F>
  void both(F&& op) {
    auto run_one = [&](Side& side, bool first) {
      Answer out;
      try {
        out.value = op(side, first);
      } catch (const tasker::Error& e) {
        out.value = {{"threw", e.what()}};
      }
      Masker m = side.masker();
      out.value = m.mask(out.value);
      return out;
    };
    answers_.first = run_one(fn_, true);
    answers_.second = run_one(st_, false);
  }

  std::string step() {
    if (!to_suspend_.empty() && pick(2) == 0) return suspend();
    const int roll = pick(100);
    if (roll < 12 || tasks_.empty()) return submit();
    if (roll < 35) return claim(false);
    if (roll < 62 && !in_flight_.empty()) return report();
    if (roll < 66 && !finished_.empty()) return stale();
    if (roll < 76) return advance();
    if (roll < 79) return claim(true);
    if (roll < 81) return cancel();
    if (roll < 85) return operate();
    if (roll < 88) return wake();
    return signal();
  }

  std::string submit() {
    const tasker::TaskTemplate& t = *chosen_[pick(static_cast<int>(chosen_.size()))];
    tasker::TaskRequest request;
    request.namespace_name = t.namespace_name;
    request.name = t.name;
    request.context = {{"even_number", 2 * pick(5)}, {"n", pick(9)}};
    request.priority = pick(3);
    std::optional<std::string> hash;
    if (pick(4) == 0) hash = fmt::format("identity-{}", pick(3));  // sometimes a duplicate
    const std::size_t before = tasks_.size();
    both([&](Side& side, bool first) {
      auto created = side.store->create_task(t, request, hash, clock_.now());
      (first ? tasks_ : st_tasks_).push_back(created.task.uuid);
      return json{{"state", tasker::to_string(created.task.state)}, {"events", events_json(created.events)}};
    });
    if (tasks_.size() != st_tasks_.size()) {  // a duplicate on both sides (or a difference, caught by the caller)
      tasks_.resize(std::min(tasks_.size(), st_tasks_.size()));
      st_tasks_.resize(tasks_.size());
    }
    if (tasks_.size() > before && t.namespace_name == "waiting_e2e") waiting_tasks_.push_back(before);
    ++counts_["submit"];
    return fmt::format("submit {}/{} hash={}", t.namespace_name, t.name, hash.value_or("-"));
  }

  tasker::ClaimRequest claim_request(int limit, bool reclaim) const {
    tasker::ClaimRequest r;
    r.worker_id = reclaim ? "reclaimer" : fmt::format("worker-{}", limit);
    r.filter.callables.assign(callables_.begin(), callables_.end());
    r.limit = limit;
    r.lease = std::chrono::milliseconds{1000};
    r.reclaim_expired = reclaim;
    r.jitter = false;
    return r;
  }

  std::string claim(bool reclaim) {
    const int limit = 1 + pick(4);
    if (reclaim) clock_.advance(std::chrono::milliseconds{1100});
    const tasker::ClaimRequest r = claim_request(limit, reclaim);
    std::vector<ClaimedStep> got_fn, got_st;
    both([&](Side& side, bool first) {
      auto result = side.store->exchange({}, &r, clock_.now());
      (first ? got_fn : got_st) = result.claimed;
      json claimed = json::array();
      for (const auto& s : result.claimed) claimed.push_back(claimed_json(s));
      return json{{"claimed", claimed}, {"reclaimed", result.reclaimed}, {"events", events_json(result.events)}};
    });
    // A signal step's claim is suspended (as a worker's coordinator does), any other reported.
    for (std::size_t i = 0; i < std::min(got_fn.size(), got_st.size()); ++i)
      (got_fn[i].callable == tasker::kSignalCallable ? to_suspend_ : in_flight_).push_back({got_fn[i], got_st[i]});
    ++counts_[reclaim ? "reclaim" : "claim"];
    return fmt::format("{} limit {}", reclaim ? "reclaim and claim" : "claim", limit);
  }

  /// A result for `s` that its type accepts (or, now and then, one it refuses).
  json result_for(const ClaimedStep& s) {
    const tasker::TaskTemplate* t = templates_.find(s.namespace_name, s.task_name, s.task_version);
    if (s.type == StepType::decision && t) {
      std::vector<std::string> branches;
      for (const auto& c : t->steps)
        for (const auto& d : c.dependencies)
          if (d == s.step_name && pick(2) == 0) branches.push_back(c.name);
      if (pick(8) == 0) branches.emplace_back("no_such_step");
      if (branches.empty()) return {{"decision_point_outcome", {{"type", "no_branches"}}}};
      return {{"decision_point_outcome", {{"type", "create_steps"}, {"step_names", branches}}}};
    }
    if (s.type == StepType::batchable && t) {
      std::string worker;
      for (const auto& c : t->steps)
        if (c.type == StepType::batch_worker)
          for (const auto& d : c.dependencies)
            if (d == s.step_name) worker = c.name;
      const int total = pick(7);
      if (total == 0) return {{"batch_processing_outcome", {{"type", "no_batches"}}}};
      json cursors = json::array();
      for (int start = 0, k = 1; start < total; start += 2, ++k)
        cursors.push_back({{"batch_id", fmt::format("{:03}", k)},
                           {"start_cursor", start},
                           {"end_cursor", std::min(total, start + 2)},
                           {"batch_size", std::min(total, start + 2) - start}});
      return {{"batch_processing_outcome",
               {{"type", "create_batches"},
                {"worker_template_name", worker},
                {"worker_count", cursors.size()},
                {"total_items", total},
                {"cursor_configs", cursors}}}};
    }
    return {{"value", pick(1000)}, {"step", s.step_name}};
  }

  StepOutcome outcome_for(const ClaimedStep& s, int kind, const json& result, double jitter, bool with_retry_after) {
    StepOutcome o;
    o.step_id = s.step_id;
    o.claim_token = s.claim_token;
    o.jitter_unit = jitter;
    switch (kind) {
      case 0:
      case 1:
      case 2:
        o.kind = StepOutcome::Kind::success;
        o.result = result;
        break;
      case 3:
      case 4:
        o.kind = StepOutcome::Kind::failure;
        o.failure = {"it broke", "retryable_error", true, {{"detail", "retry me"}}};
        if (with_retry_after) o.retry_after = std::chrono::milliseconds{700};
        break;
      case 5:
        o.kind = StepOutcome::Kind::failure;
        o.failure = {"it broke for good", "permanent_error", false, json::object()};
        break;
      default: o.kind = StepOutcome::Kind::release;
    }
    return o;
  }

  std::string report() {
    // A few in-flight claims, in random order, each with a random outcome.
    const int n = 1 + pick(std::min<int>(3, static_cast<int>(in_flight_.size())));
    std::vector<InFlight> chosen;
    for (int i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(pick(static_cast<int>(in_flight_.size())));
      chosen.push_back(in_flight_[k]);
      in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(k));
    }
    std::vector<StepOutcome> fn_outcomes, st_outcomes;
    std::string what = "report";
    for (const auto& c : chosen) {
      const int kind = pick(7);
      const json result = result_for(c.fn);
      const double jitter = pick(100) / 100.0;
      const bool retry_after = pick(3) == 0;
      fn_outcomes.push_back(outcome_for(c.fn, kind, result, jitter, retry_after));
      st_outcomes.push_back(outcome_for(c.st, kind, result, jitter, retry_after));
      what += fmt::format(" {}:{}", c.fn.step_name, kind);
      finished_.push_back(c);
    }
    both([&](Side& side, bool first) {
      auto r = side.store->exchange(first ? fn_outcomes : st_outcomes, nullptr, clock_.now());
      Masker m = side.masker();
      json discarded = json::array();
      for (auto id : r.discarded) discarded.push_back(m.step_id(id));
      return json{{"discarded", discarded}, {"events", events_json(r.events)}};
    });
    ++counts_["report"];
    return what;
  }

  /// An outcome for a claim that already ended: fenced out on both paths.
  std::string stale() {
    const InFlight& c = finished_[static_cast<std::size_t>(pick(static_cast<int>(finished_.size())))];
    both([&](Side& side, bool first) {
      const ClaimedStep& s = first ? c.fn : c.st;
      StepOutcome o;
      o.step_id = s.step_id;
      o.claim_token = s.claim_token;
      o.result = {{"late", true}};
      auto r = side.store->exchange({o}, nullptr, clock_.now());
      return json{{"discarded", r.discarded.size()}, {"events", events_json(r.events)}};
    });
    ++counts_["stale"];
    return "stale outcome for " + c.fn.step_name;
  }

  std::string advance() {
    const int ms = pick(4) * 400;
    clock_.advance(std::chrono::milliseconds{ms});
    answers_ = {};
    ++counts_["advance"];
    return fmt::format("advance {} ms", ms);
  }

  std::string cancel() {
    const auto k = static_cast<std::size_t>(pick(static_cast<int>(tasks_.size())));
    both([&](Side& side, bool first) {
      auto r = side.store->cancel_task(first ? tasks_[k] : st_tasks_[k], "differential cancel", clock_.now());
      return json{{"state", tasker::to_string(r.task.state)}, {"events", events_json(r.events)}};
    });
    ++counts_["cancel"];
    return fmt::format("cancel task {}", k);
  }

  /// The claimed signal steps begin to wait, until their timeout if they have one.
  std::string suspend() {
    std::vector<tasker::Suspension> fn_steps, st_steps;
    for (const auto& c : to_suspend_) {
      const tasker::SignalSpec spec = tasker::signal_spec_from_json(c.fn.initialization, c.fn.step_name);
      std::optional<tasker::TimePoint> wake_at;
      if (spec.timeout_seconds) wake_at = clock_.now() + std::chrono::seconds{*spec.timeout_seconds};
      fn_steps.push_back({c.fn.step_id, c.fn.claim_token, wake_at, spec.name});
      const auto task = std::find(tasks_.begin(), tasks_.end(), c.fn.task_uuid);
      if (task != tasks_.end()) waited_for_.push_back({static_cast<std::size_t>(task - tasks_.begin()), spec.name, {}});
      st_steps.push_back({c.st.step_id, c.st.claim_token, wake_at, spec.name});
    }
    to_suspend_.clear();
    both([&](Side& side, bool first) {
      auto r = side.store->suspend(first ? fn_steps : st_steps, clock_.now());
      return json{{"discarded", r.discarded.size()}, {"events", events_json(r.events)}};
    });
    ++counts_["suspend"];
    return fmt::format("suspend {} signal steps", fn_steps.size());
  }

  std::string wake() {
    both([&](Side& side, bool) {
      auto r = side.store->wake_due(100, clock_.now());
      return json{{"woken", r.woken}, {"events", events_json(r.events)}};
    });
    if (answers_.first.value.value("woken", 0) > 0) ++counts_["timed out"];
    ++counts_["wake"];
    return "wake due steps";
  }

  /// A signal to a random task: of a name its steps wait for or not, with a key sometimes seen before.
  std::string signal() {
    static const char* const kSignalNames[] = {"approval", "approval", "submitted", "no_such_signal"};
    auto k = static_cast<std::size_t>(pick(static_cast<int>(tasks_.size())));
    if (!waiting_tasks_.empty() && pick(4) != 0)  // mostly to a task with signal steps
      k = waiting_tasks_[static_cast<std::size_t>(pick(static_cast<int>(waiting_tasks_.size())))];
    std::string name = kSignalNames[pick(4)];
    std::optional<std::string> key;
    if (pick(2) == 0) key = fmt::format("key-{}", pick(3));
    if (!waited_for_.empty() && pick(3) == 0) {  // to a task that had a step waiting for it
      const SentSignal& w = waited_for_[static_cast<std::size_t>(pick(static_cast<int>(waited_for_.size())))];
      k = w.task;
      name = w.name;
    }
    if (last_signal_ && pick(2) == 0) {  // the last one again: its key (a duplicate) or another (its step finished)
      k = last_signal_->task;
      name = last_signal_->name;
      key = pick(2) == 0 && last_signal_->key ? last_signal_->key : fmt::format("key-{}", 3 + pick(1000));
    }
    last_signal_ = SentSignal{k, name, key};
    const json payload = {{"approved", pick(2) == 0}, {"n", pick(100)}};
    both([&](Side& side, bool first) {
      auto r = side.store->deliver_signal({first ? tasks_[k] : st_tasks_[k], name, payload, key, "differential"},
                                          clock_.now());
      return json{{"status", tasker::to_string(r.status)}, {"events", events_json(r.events)}};
    });
    const json& a = answers_.first.value;
    ++counts_[a.contains("status") ? "signal " + a["status"].get<std::string>() : "signal refused"];
    if (a.contains("threw")) {
      const std::string what = a["threw"].get<std::string>();
      for (const char* refusal : {"takes no more signals", "has no signal step", "have finished"})
        if (what.find(refusal) != std::string::npos) ++counts_[refusal];
    }
    return fmt::format("signal `{}` key {} to task {}", name, key.value_or("-"), k);
  }

  /// reset, resolve or complete a step of a random task.
  std::string operate() {
    const auto k = static_cast<std::size_t>(pick(static_cast<int>(tasks_.size())));
    auto snapshot = fn_.store->find_task_with_steps(tasks_[k], clock_.now());
    REQUIRE(snapshot);
    if (snapshot->steps.empty()) return advance();
    const auto& step = snapshot->steps[static_cast<std::size_t>(pick(static_cast<int>(snapshot->steps.size())))];
    const int action = step.state == tasker::StepState::error && pick(2) == 0 ? 0 : 1 + pick(2);
    std::optional<json> result;
    if (action == 2) {
      ClaimedStep as_claimed;
      as_claimed.namespace_name = snapshot->task.namespace_name;
      as_claimed.task_name = snapshot->task.name;
      as_claimed.task_version = snapshot->task.version;
      as_claimed.step_name = step.name;
      as_claimed.type = step.type;
      result = result_for(as_claimed);
    }
    both([&](Side& side, bool first) {
      const std::string& uuid = first ? tasks_[k] : st_tasks_[k];
      tasker::OperatorResult r;
      if (action == 0) r = side.store->reset_step(uuid, step.name, "differential reset", clock_.now());
      if (action == 1) r = side.store->resolve_step(uuid, step.name, "differential resolve", clock_.now());
      if (action == 2) r = side.store->complete_step(uuid, step.name, *result, "differential complete", clock_.now());
      return json{{"state", tasker::to_string(r.task.state)}, {"events", events_json(r.events)}};
    });
    static const char* const kNames[] = {"reset", "resolve", "complete"};
    ++counts_[kNames[action]];
    return fmt::format("{} step {} of task {}", kNames[action], step.name, k);
  }

  std::mt19937 rng_;
  tasker::ManualClock clock_;
  Side fn_, st_;
  tasker::TemplateSet templates_;
  std::set<std::string> callables_;
  std::vector<const tasker::TaskTemplate*> chosen_;
  std::vector<std::string> tasks_, st_tasks_;  // uuids by submission, per side
  std::vector<std::size_t> waiting_tasks_;     // those of templates with signal steps
  std::vector<InFlight> in_flight_, finished_, to_suspend_;
  std::optional<SentSignal> last_signal_;
  std::vector<SentSignal> waited_for_;  // tasks whose signal step began to wait, and the name
  std::pair<Answer, Answer> answers_;
  std::map<std::string, std::size_t> counts_;
};

}  // namespace

TEST_CASE("differential: server functions and statements write the same rows and events") {
  const std::string server = server_url();
  std::size_t total_reports = 0, total_reclaims = 0, total_operators = 0;
  std::map<std::string, std::size_t> signals;
  for (unsigned seed : {1U, 2U, 3U, 4U}) {
    CAPTURE(seed);
    Differential d(server, seed);
    d.run(160);
    total_reports += d.operations_with("report");
    total_reclaims += d.operations_with("reclaim");
    total_operators += d.operations_with("reset") + d.operations_with("resolve") + d.operations_with("complete") +
                       d.operations_with("cancel");
    for (const char* kind : {"signal delivered", "signal buffered", "signal duplicate", "takes no more signals",
                             "has no signal step", "have finished", "timed out", "suspend"})
      signals[kind] += d.operations_with(kind);
  }
  // The sequences exercised what they are for.
  CHECK(total_reports > 60);
  CHECK(total_reclaims > 5);
  CHECK(total_operators > 10);
  // Signals: delivered, kept, repeated, to a finished task, of an unknown name, for steps that finished; and
  // steps that timed out while they waited.
  for (const auto& kind : signals) CHECK_MESSAGE(kind.second > 0, kind.first);
}

namespace {

/// A signal_wait task parked on its signal step, whose row another
/// transaction moves out of waiting (uncommitted) as the signal arrives: the
/// delivery reads the step waiting, blocks on its lock, and finds it in error
/// once that commits. Returns the error the delivery raised, the task's uuid as TASK.
std::string signal_racing_a_timeout(const std::string& server, const std::string& schema, bool functions) {
  Side side(server, schema, functions);
  const auto templates = tasker::TemplateSet::load({TASKER_SOURCE_DIR "/tests/e2e/templates"});
  tasker::ManualClock clock;
  tasker::TaskRequest request;
  request.namespace_name = "waiting_e2e";
  request.name = "signal_wait";
  const auto task = side.store->create_task(*templates.find("waiting_e2e", "signal_wait", "1.0.0"), request,
                                            std::nullopt, clock.now());
  tasker::ClaimRequest claim;
  claim.worker_id = "w";
  claim.limit = 1;
  claim.filter.callables = {"errors.succeed"};
  auto prepare = side.store->exchange({}, &claim, clock.now()).claimed;
  REQUIRE(prepare.size() == 1);
  StepOutcome done;
  done.step_id = prepare[0].step_id;
  done.claim_token = prepare[0].claim_token;
  done.result = json::object();
  claim.filter.callables = {std::string(tasker::kSignalCallable)};
  auto approval = side.store->exchange({done}, &claim, clock.now()).claimed;
  REQUIRE(approval.size() == 1);
  REQUIRE(side.store->suspend({{approval[0].step_id, approval[0].claim_token, std::nullopt, "approval"}}, clock.now())
              .discarded.empty());

  pqxx::connection blocker(server);
  pqxx::work moving(blocker);
  moving.exec0(fmt::format("UPDATE {}.tasker_steps SET state = '{}' WHERE id = {}", schema,
                           tasker::to_string(tasker::StepState::error), approval[0].step_id));
  std::string refused;
  std::thread delivery([&] {
    try {
      (void)side.store->deliver_signal({task.task.uuid, "approval", json::object(), std::nullopt, "racer"},
                                       clock.now());
    } catch (const tasker::ConflictError& e) {
      refused = e.what();
    }
  });
  // Until the delivery waits for the lock the mover holds (a guard against a hang, not a time limit).
  bool waiting = false;
  for (int i = 0; i < 2000 && !waiting; ++i) {
    pqxx::nontransaction look(side.db);
    waiting = look.exec1(fmt::format("SELECT count(*) FROM pg_stat_activity WHERE {} = ANY(pg_blocking_pids(pid))",
                                     blocker.backendpid()))[0]
                  .as<long long>() > 0;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  moving.commit();
  delivery.join();
  CHECK(waiting);
  for (auto at = refused.find(task.task.uuid); at != std::string::npos; at = refused.find(task.task.uuid))
    refused.replace(at, task.task.uuid.size(), "TASK");
  return refused;
}

}  // namespace

TEST_CASE("differential: a signal whose step stops waiting as it arrives is refused alike on both paths") {
  const std::string server = server_url();
  const std::string fn = signal_racing_a_timeout(server, "diff_race_fn", true);
  const std::string st = signal_racing_a_timeout(server, "diff_race_st", false);
  CHECK(fn == st);
  CHECK(fn.find("stopped waiting (error) as the signal arrived") != std::string::npos);
}

TEST_CASE("differential: the task-state rule rendered as SQL agrees with the C++ one on PostgreSQL") {
  auto backend = tasker::detail::make_postgres_backend(with_option(server_url(), "schema=diff_rule"), {});
  auto connection = backend->connect();
  CHECK(tasker::test::check_task_state_rule(*connection) == 6 * 2 * 243);
}
