// The worker transaction and the submit exist twice on PostgreSQL: as server
// functions (one round trip each) and as several statements (the path SQLite
// takes, and PostgreSQL's where the functions fall back). This runs one seeded
// sequence of operations on two schemas of one server, one per path, under one
// ManualClock, and after every operation requires the two databases to hold
// the same rows (tasks, steps, edges, transitions) and the operations to have
// returned the same results and events, with ids and uuids masked.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <regex>
#include <set>

#include "storage/backends.hpp"
#include "store/support.hpp"
#include "store/task_rule_table.hpp"
#include "tasker/clock.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"
#include "tasker/template_set.hpp"

using tasker::ClaimedStep;
using tasker::json;
using tasker::StepOutcome;
using tasker::StepType;

namespace {

using tasker::test::server_url;
using tasker::test::with_option;

/// Replaces every uuid in `j` by a label in order of first appearance, and
/// ids by their rank among the ids of their table, so that two databases
/// that did the same things compare equal.
class Masker {
 public:
  explicit Masker(std::map<std::string, std::map<long long, long long>> ranks = {}) : ranks_(std::move(ranks)) {}

  json mask(json j) {
    if (j.is_string()) {
      std::string s = j.get<std::string>();
      static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
      std::string out;
      auto begin = std::sregex_iterator(s.begin(), s.end(), uuid);
      std::size_t last = 0;
      for (auto it = begin; it != std::sregex_iterator(); ++it) {
        out += s.substr(last, static_cast<std::size_t>(it->position()) - last);
        auto [label, added] = labels_.emplace(it->str(), fmt::format("uuid#{}", labels_.size()));
        out += label->second;
        last = static_cast<std::size_t>(it->position() + it->length());
      }
      return out + s.substr(last);
    }
    if (j.is_array())
      for (auto& e : j) e = mask(e);
    if (j.is_object())
      for (auto& [k, v] : j.items()) v = id_field(k) ? rank(k, v) : mask(v);
    return j;
  }

  json step_id(long long id) { return rank("step_id", json(id)); }

 private:
  static bool id_field(const std::string& k) {
    return k == "id" || k == "task_id" || k == "step_id" || k == "batch_id" || k == "parent_id" || k == "child_id";
  }
  json rank(const std::string& field, const json& v) {
    if (!v.is_number_integer()) return v;
    const std::string table = field == "task_id" ? "tasks" : "steps";
    const auto& r = ranks_[table];
    auto it = r.find(v.get<long long>());
    return it == r.end() ? json(fmt::format("{}#?{}", table, v.get<long long>()))
                         : json(fmt::format("{}#{}", table, it->second));
  }

  std::map<std::string, std::map<long long, long long>> ranks_;
  std::map<std::string, std::string> labels_;
};

json event_json(const tasker::LifecycleEvent& e) {
  return {{"name", e.name},
          {"at", tasker::to_epoch_ms(e.at)},
          {"task_uuid", e.task_uuid},
          {"step_name", e.step_name},
          {"payload", e.payload}};
}

json events_json(const std::vector<tasker::LifecycleEvent>& events) {
  json out = json::array();
  for (const auto& e : events) out.push_back(event_json(e));
  return out;
}

json claimed_json(const ClaimedStep& s) {
  return {{"step_id", s.step_id},
          {"claim_token", s.claim_token},
          {"step_uuid", s.step_uuid},
          {"step_name", s.step_name},
          {"task_uuid", s.task_uuid},
          {"namespace", s.namespace_name},
          {"task", s.task_name},
          {"version", s.task_version},
          {"callable", s.callable},
          {"initialization", s.initialization},
          {"context", s.context},
          {"dependency_results", s.dependency_results},
          {"attempt", s.attempt},
          {"type", tasker::to_string(s.type)},
          {"checkpoint", s.checkpoint},
          {"previous_error", s.previous_error ? json{{"message", s.previous_error->message},
                                                     {"error_type", s.previous_error->error_type},
                                                     {"retryable", s.previous_error->retryable},
                                                     {"context", s.previous_error->context}}
                                              : json(nullptr)},
          {"max_attempts", s.retry.max_attempts},
          {"timeout_seconds", s.timeout_seconds},
          {"claimed_at", tasker::to_epoch_ms(s.claimed_at)},
          {"lease_expires_at", tasker::to_epoch_ms(s.lease_expires_at)}};
}

/// One database and the path its store takes.
struct Side {
  std::string schema;
  std::string url;
  std::shared_ptr<tasker::Store> store;
  pqxx::connection db;

  Side(const std::string& server, const std::string& name, bool functions)
      : schema(name),
        url(with_option(with_option(server, "schema=" + name),
                        functions ? "server_functions=on" : "server_functions=off")),
        db(server) {
    pqxx::work w(db);
    w.exec0("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    w.commit();
    store = tasker::open_store(url);
  }

  /// Every row the store wrote, ids ranked and uuids labelled.
  json rows() {
    pqxx::nontransaction n(db);
    auto all = [&](const std::string& table, const std::string& order) {
      json out = json::array();
      for (const auto& r :
           n.exec(fmt::format("SELECT row_to_json(x)::text FROM {}.{} x ORDER BY {}", schema, table, order)))
        out.push_back(json::parse(r[0].c_str()));
      return out;
    };
    json tasks = all("tasker_tasks", "id"), steps = all("tasker_steps", "id");
    json edges = all("tasker_step_edges", "parent_id, child_id"), transitions = all("tasker_transitions", "id");
    std::map<std::string, std::map<long long, long long>> ranks;
    for (std::size_t i = 0; i < tasks.size(); ++i) ranks["tasks"][tasks[i]["id"].get<long long>()] = i;
    for (std::size_t i = 0; i < steps.size(); ++i) ranks["steps"][steps[i]["id"].get<long long>()] = i;
    for (auto& t : transitions) t.erase("id");
    for (auto& s : steps) {
      // JSON columns as text (SQLite) or JSONB: compare their values.
      for (auto& [k, v] : s.items())
        if (v.is_string() && (k == "results" || k == "error")) v = json::parse(v.get<std::string>(), nullptr, false);
    }
    Masker m(ranks);
    return m.mask(json{{"tasks", tasks}, {"steps", steps}, {"edges", edges}, {"transitions", transitions}});
  }

  Masker masker() {
    pqxx::nontransaction n(db);
    std::map<std::string, std::map<long long, long long>> ranks;
    long long i = 0;
    for (const auto& r : n.exec(fmt::format("SELECT id FROM {}.tasker_steps ORDER BY id", schema)))
      ranks["steps"][r[0].as<long long>()] = i++;
    i = 0;
    for (const auto& r : n.exec(fmt::format("SELECT id FROM {}.tasker_tasks ORDER BY id", schema)))
      ranks["tasks"][r[0].as<long long>()] = i++;
    return Masker(ranks);
  }
};

/// The first place where `a` and `b` differ, as a JSON pointer with both values.
std::string first_difference(const json& a, const json& b, const std::string& at = "") {
  if (a.type() != b.type() || (!a.is_structured() && a != b))
    return fmt::format("{}: {} != {}", at.empty() ? "/" : at, a.dump().substr(0, 400), b.dump().substr(0, 400));
  if (a.is_array()) {
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      if (a[i] != b[i]) return first_difference(a[i], b[i], at + "/" + std::to_string(i));
    if (a.size() != b.size()) return fmt::format("{}: {} items != {} items", at, a.size(), b.size());
  }
  if (a.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k)) return fmt::format("{}/{}: only on the first side", at, k);
      if (v != b[k]) return first_difference(v, b[k], at + "/" + k);
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return fmt::format("{}/{}: only on the second side", at, k);
  }
  return {};
}

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
  static inline const std::set<std::string> kTemplates{
      "linear_workflow/mathematical_sequence", "diamond_workflow/diamond_pattern",
      "dynamic_e2e/approval_routing",          "dynamic_e2e/csv_inventory",
      "dynamic_e2e/diamond_decision_batch",    "error_scenarios/retry_mechanics"};

  struct InFlight {
    ClaimedStep fn, st;
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
    const int roll = pick(100);
    if (roll < 12 || tasks_.empty()) return submit();
    if (roll < 37) return claim(false);
    if (roll < 70 && !in_flight_.empty()) return report();
    if (roll < 75 && !finished_.empty()) return stale();
    if (roll < 85) return advance();
    if (roll < 89) return claim(true);
    if (roll < 92) return cancel();
    return operate();
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
    both([&](Side& side, bool first) {
      auto created = side.store->create_task(t, request, hash, clock_.now());
      (first ? tasks_ : st_tasks_).push_back(created.task.uuid);
      return json{{"state", tasker::to_string(created.task.state)}, {"events", events_json(created.events)}};
    });
    if (tasks_.size() != st_tasks_.size()) {  // a duplicate on both sides (or a difference, caught by the caller)
      tasks_.resize(std::min(tasks_.size(), st_tasks_.size()));
      st_tasks_.resize(tasks_.size());
    }
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
    for (std::size_t i = 0; i < std::min(got_fn.size(), got_st.size()); ++i)
      in_flight_.push_back({got_fn[i], got_st[i]});
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
  std::vector<InFlight> in_flight_, finished_;
  std::pair<Answer, Answer> answers_;
  std::map<std::string, std::size_t> counts_;
};

}  // namespace

TEST_CASE("differential: server functions and statements write the same rows and events") {
  const std::string server = server_url();
  std::size_t total_reports = 0, total_reclaims = 0, total_operators = 0;
  for (unsigned seed : {1U, 2U, 3U, 4U}) {
    CAPTURE(seed);
    Differential d(server, seed);
    d.run(160);
    total_reports += d.operations_with("report");
    total_reclaims += d.operations_with("reclaim");
    total_operators += d.operations_with("reset") + d.operations_with("resolve") + d.operations_with("complete") +
                       d.operations_with("cancel");
  }
  // The sequences exercised what they are for.
  CHECK(total_reports > 100);
  CHECK(total_reclaims > 5);
  CHECK(total_operators > 10);
}

TEST_CASE("differential: the task-state rule rendered as SQL agrees with the C++ one on PostgreSQL") {
  auto backend = tasker::detail::make_postgres_backend(with_option(server_url(), "schema=diff_rule"), {});
  auto connection = backend->connect();
  CHECK(tasker::test::check_task_state_rule(*connection) == 6 * 2 * 243);
}
