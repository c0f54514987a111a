// The Store of docs/design.md, written once in SQL for every backend.
//
// Shape of every write: one transaction (a WriteTx) that (1) locks and changes
// step rows, (2) advances the children of steps that became satisfied
// (decrementing pending_parents, enqueueing those that reach zero), (3)
// settles: updates the touched tasks' counters and derives their states, and
// appends transitions. Batches pass their rows as one JSON parameter, so a
// batch of N outcomes costs a fixed number of statements, and a step costs
// O(its edges): nothing rescans a task. Each concern lives in its own file:
// task_creation, outcomes, claims, operator_actions, views; this file only
// runs them in transactions and delivers wake-ups.
//
// Lock order (matters on PostgreSQL): step rows by id, then children by id,
// then task rows by id. Deadlocks that slip through are retried.
#include "storage/sql/sql_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <set>

#include "storage/sql/changes.hpp"
#include "storage/sql/claims.hpp"
#include "storage/sql/consistency.hpp"
#include "storage/sql/dead_letters.hpp"
#include "storage/sql/one_call.hpp"
#include "storage/sql/operator_actions.hpp"
#include "storage/sql/outcomes.hpp"
#include "storage/sql/pool.hpp"
#include "storage/sql/retention.hpp"
#include "storage/sql/schedules.hpp"
#include "storage/sql/schema.hpp"
#include "storage/sql/state_sql.hpp"
#include "storage/sql/statements.hpp"
#include "storage/sql/task_creation.hpp"
#include "storage/sql/transaction.hpp"
#include "storage/sql/values.hpp"
#include "storage/sql/views.hpp"
#include "storage/sql/waiting.hpp"
#include "storage/sql/watchers.hpp"
#include "storage/store_jitter.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

namespace {

/// The steps of `asked` (anything with a step_id) whose id is not in the
/// first column of `kept`: those whose claim was lost, as a fenced UPDATE ...
/// RETURNING id answers.
template <typename Ref>
std::vector<std::int64_t> not_returned(const Rows& kept, const std::vector<Ref>& asked) {
  std::set<std::int64_t> alive;
  for (std::size_t i = 0; i < kept.size(); ++i) alive.insert(kept.integer(i, 0));
  std::vector<std::int64_t> lost;
  for (const auto& a : asked)
    if (!alive.count(a.step_id)) lost.push_back(a.step_id);
  return lost;
}

template <typename Listener>
class Listeners {
 public:
  std::shared_ptr<void> add(Listener listener) {
    std::lock_guard lock(mutex_);
    auto id = next_++;
    listeners_.emplace(id, std::move(listener));
    // The handle removes the listener when the subscriber lets go of it.
    return std::shared_ptr<void>(nullptr, [this, id](void*) {
      std::lock_guard inner(mutex_);
      listeners_.erase(id);
    });
  }
  /// Calls every listener with `args` outside the lock (a listener may subscribe or unsubscribe).
  template <typename... Args>
  void call(const Args&... args) {
    std::vector<Listener> copy;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, l] : listeners_) copy.push_back(l);
    }
    for (const auto& l : copy) l(args...);
  }

 private:
  std::mutex mutex_;
  std::map<std::size_t, Listener> listeners_;
  std::size_t next_{1};
};

class SqlStore final : public Store {
 public:
  SqlStore(std::unique_ptr<Backend> backend, const StoreOptions& options)
      : backend_(std::move(backend)),
        options_(options),
        jitter_(store_allows_jitter(options)),
        pool_(*backend_, backend_->pool_size()),
        runner_(pool_, backend_->name()),
        sql_(make_statements(backend_->dialect())) {
    if (backend_->dialect().server_functions) {
      one_call_ = std::make_unique<OneCall>(runner_, backend_->notification_channel());
      watchers_ = std::make_shared<Watchers>(runner_, sql_);
    }
  }

  ~SqlStore() override {
    if (watchers_) watchers_->close();
    backend_->stop_listening();
  }

  void start_listening() {
    if (!options_.listen) return;
    backend_->listen([this](const std::string& payload) { on_notification(payload); });
  }

  std::string backend() const override { return backend_->name(); }
  std::string describe() const override { return backend_->describe(); }

  void migrate() override {
    auto conn = pool_.acquire();
    sql::migrate(*backend_, *conn);
  }

  int schema_version() override {
    auto conn = pool_.acquire();
    return sql::schema_version(*conn);
  }

  // -------------------------------------------------------------------------
  // Writes

  CreateResult create_task(const TaskTemplate& tmpl, const TaskRequest& request,
                           const std::optional<std::string>& identity_hash, TimePoint now) override {
    const TaskPlan plan = plan_task(tmpl, request, identity_hash, now);
    Wakeups wake;
    if (one_call()) {
      CreateResult created = one_call_->create_task(plan, now, wake);
      deliver(wake);
      return created;
    }
    CreateResult created = write(now, wake, [&](WriteTx& tx) {
      insert_task(tx, plan);
      CreateResult out;
      out.events = settle(tx, /*tasks_changed=*/false);
      // Read back in the same transaction: the view is the task as created,
      // even if a worker claims a step the moment this commits.
      out.task = std::move(load_task(tx.c, sql_, plan.task_uuid, now).value());
      return out;
    });
    deliver(wake);
    return created;
  }

  ExchangeResult exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim, TimePoint now) override {
    if (jitter_) return exchange_as_asked(outcomes, claim, now);
    const Unjittered plain(outcomes, claim);  // the deprecated StoreOptions::jitter = false
    return exchange_as_asked(plain.outcomes(), plain.claim(), now);
  }

  ExchangeResult exchange_as_asked(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim, TimePoint now) {
    Wakeups wake;
    if (one_call()) {
      if (auto done = one_call_->exchange(outcomes, claim, now, wake)) {
        deliver(wake);
        return std::move(*done);
      }
    }
    ExchangeResult result = write(now, wake, [&](WriteTx& tx) {
      ExchangeResult r;
      Changes& ch = tx.changes;
      ch.worker_id = claim ? claim->worker_id : std::string{};
      if (!outcomes.empty()) apply_outcomes(tx, outcomes, "", r.discarded);
      if (claim && claim->reclaim_expired) r.reclaimed = reclaim_expired(tx, claim->jitter);
      if (claim && claim->limit > 0 && !claim->filter.callables.empty()) r.claimed = claim_steps(tx, *claim);
      if (ch.enqueued && !r.claimed.empty()) {
        // Steps this transaction enqueued and then claimed itself are news to
        // nobody: wake workers (NOTIFY, in-process listeners) only for the
        // rest. A chain's next step is claimed by the worker that enqueued it,
        // so no other worker wakes up for a claim that would find nothing.
        std::set<std::int64_t> taken;
        for (const auto& s : r.claimed) taken.insert(s.step_id);
        ch.enqueued = std::any_of(ch.enqueued_steps.begin(), ch.enqueued_steps.end(),
                                  [&](std::int64_t id) { return !taken.count(id); });
      }
      r.events = settle(tx, true);
      return r;
    });
    deliver(wake);
    if (one_call_) {
      one_call_->forget(outcomes);
      one_call_->remember(result.claimed);
    }
    return result;
  }

  std::vector<std::int64_t> renew_leases(const std::vector<LeaseRef>& leases, TimePoint expires_at) override {
    if (leases.empty()) return {};
    json rows = json::array();
    for (const auto& l : leases) rows.push_back({l.step_id, l.claim_token});
    return runner_.run(Access::write, [&](Connection& c) {
      std::vector<Param> p{rows.dump(), ms(expires_at)};
      return not_returned(c.query(sql_.renew_leases, p), leases);
    });
  }

  SuspendResult suspend(const std::vector<Suspension>& steps, TimePoint now) override {
    if (steps.empty()) return {};
    Wakeups wake;
    SuspendResult result = write(now, wake, [&](WriteTx& tx) {
      SuspendResult r;
      suspend_steps(tx, steps, r.discarded);
      r.events = settle(tx, true);
      return r;
    });
    deliver(wake);
    if (one_call_) {
      std::vector<StepOutcome> done;
      for (const auto& s : steps) {
        StepOutcome o;
        o.step_id = s.step_id;
        o.claim_token = s.claim_token;
        done.push_back(std::move(o));
      }
      one_call_->forget(done);
    }
    return result;
  }

  WakeResult wake_due(int limit, TimePoint now) override {
    // Most passes find nothing due: a read on the index answers that without a write transaction
    // (on SQLite, without the write lock).
    const bool any = runner_.run(Access::statement, [&](Connection& c) {
      std::vector<Param> p{ms(now)};
      return !c.query("SELECT 1 FROM tasker_steps WHERE wake_at <= $1 LIMIT 1", p).empty();
    });
    if (!any) return {};
    Wakeups wake;
    WakeResult result = write(now, wake, [&](WriteTx& tx) {
      WakeResult r;
      r.woken = wake_due_steps(tx, limit);
      r.events = settle(tx, true);
      return r;
    });
    deliver(wake);
    return result;
  }

  SignalResult deliver_signal(const SignalDelivery& signal, TimePoint now) override {
    Wakeups wake;
    if (one_call() && schema_version_ >= kSignalFunctionVersion) {
      if (auto done = one_call_->deliver_signal(signal, now, wake)) {
        deliver(wake);
        return std::move(*done);
      }
    }
    SignalResult result = write(now, wake, [&](WriteTx& tx) {
      SignalResult r;
      r.status = sql::deliver_signal(tx, signal);
      r.events = settle(tx, true);
      return r;
    });
    deliver(wake);
    return result;
  }

  OperatorResult cancel_task(const std::string& task_uuid, const std::string& reason, TimePoint now) override {
    return operate(task_uuid, std::nullopt, now,
                   [&](WriteTx& tx, const LockedTask& task) { sql::cancel_task(tx, task, reason); });
  }

  OperatorResult reset_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason,
                            TimePoint now) override {
    return operate(task_uuid, step_name, now,
                   [&](WriteTx& tx, const LockedTask& task) { sql::reset_step(tx, task, step_name, reason); });
  }

  OperatorResult rerun_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason,
                            TimePoint now) override {
    return operate(task_uuid, step_name, now,
                   [&](WriteTx& tx, const LockedTask& task) { sql::rerun_step(tx, task, step_name, reason); });
  }

  OperatorResult resolve_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason,
                              TimePoint now) override {
    return operate(task_uuid, step_name, now, [&](WriteTx& tx, const LockedTask& task) {
      satisfy_step(tx, task, step_name, StepMove::resolved_by_operator, std::nullopt, reason);
    });
  }

  OperatorResult complete_step(const std::string& task_uuid, const std::string& step_name, const json& result,
                               const std::string& reason, TimePoint now) override {
    return operate(task_uuid, step_name, now, [&](WriteTx& tx, const LockedTask& task) {
      satisfy_step(tx, task, step_name, StepMove::completed_by_operator, result, reason);
    });
  }

  // -------------------------------------------------------------------------
  // Reads

  std::optional<TaskView> find_task(const std::string& task_uuid, TimePoint now) override {
    return runner_.run(Access::snapshot, [&](Connection& c) { return load_task(c, sql_, task_uuid, now); });
  }

  std::optional<TaskSnapshot> find_task_with_steps(const std::string& task_uuid, TimePoint now) override {
    return runner_.run(Access::snapshot, [&](Connection& c) -> std::optional<TaskSnapshot> {
      auto task = load_task(c, sql_, task_uuid, now);
      if (!task) return std::nullopt;
      return TaskSnapshot{std::move(*task), load_steps(c, sql_, task_uuid)};
    });
  }

  TaskPage list_tasks(const TaskFilter& filter, TimePoint now) override {
    if (filter.limit < 1 || filter.limit > 1000)
      throw InvalidRequestError(fmt::format("limit {} is outside 1..1000", filter.limit));
    if (filter.offset < 0) throw InvalidRequestError(fmt::format("offset {} is negative", filter.offset));
    std::optional<std::int64_t> before;
    if (filter.cursor) {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(filter.cursor->data(), filter.cursor->data() + filter.cursor->size(), v);
      if (ec != std::errc{} || end != filter.cursor->data() + filter.cursor->size())
        throw InvalidRequestError(fmt::format("`{}` is not a cursor returned by list_tasks", *filter.cursor));
      before = v;
    }
    return runner_.run(Access::snapshot, [&](Connection& c) { return load_task_page(c, sql_, filter, before, now); });
  }

  ActivityCounts activity(TimePoint now) override {
    return runner_.run(Access::snapshot, [&](Connection& c) { return load_activity(c, now); });
  }

  std::vector<Transition> transitions(const std::string& task_uuid,
                                      const std::optional<std::string>& step_name) override {
    return runner_.run(Access::statement,
                       [&](Connection& c) { return load_transitions(c, sql_, task_uuid, step_name); });
  }

  std::vector<std::int64_t> save_checkpoints(const std::vector<CheckpointSave>& saves,
                                             TimePoint lease_expires_at) override {
    if (saves.empty()) return {};
    json rows = json::array();
    for (const auto& s : saves) rows.push_back({s.step_id, s.claim_token, s.checkpoint.dump()});
    return runner_.run(Access::write, [&](Connection& c) {
      std::vector<Param> p{rows.dump(), ms(lease_expires_at)};
      return not_returned(c.query(sql_.save_checkpoints, p), saves);
    });
  }

  std::optional<json> step_result(const std::string& task_uuid, const std::string& step_name) override {
    return runner_.run(Access::statement, [&](Connection& c) -> std::optional<json> {
      std::vector<Param> p{task_uuid, step_name};
      Rows r = c.query(sql_.step_result, p);
      if (r.empty() || !satisfies_dependents(step_state_from(r.text(0, 0)))) return std::nullopt;
      return parse_json(r.rows[0][1]);
    });
  }

  std::vector<std::string> check_consistency() override {
    return runner_.run(Access::snapshot, [&](Connection& c) { return consistency_violations(c); });
  }

  std::optional<TimePoint> next_due(const WorkFilter& filter) override {
    if (filter.callables.empty()) return std::nullopt;
    return runner_.run(Access::statement, [&](Connection& c) -> std::optional<TimePoint> {
      std::vector<Param> p;
      // ORDER BY ... LIMIT 1, not MIN(): with the callable filter a semi-join,
      // only this form reads tasker_steps_due in order and stops at the first match.
      std::string text = "SELECT claimable_at FROM tasker_steps WHERE " + in_states("state", step_sets::kClaimable) +
                         " AND claimable_at IS NOT NULL" + work_filter_clause(backend_->dialect(), filter, p) +
                         " ORDER BY claimable_at LIMIT 1";
      Rows r = c.query(text, p);
      std::optional<TimePoint> due;
      if (!r.empty() && !r.is_null(0, 0)) due = from_epoch_ms(r.integer(0, 0));
      // A worker that claims the waiting steps also wakes them (Worker: the wake pass).
      if (std::find(filter.callables.begin(), filter.callables.end(), kSleepCallable) != filter.callables.end()) {
        Rows w = c.query("SELECT wake_at FROM tasker_steps WHERE wake_at IS NOT NULL ORDER BY wake_at LIMIT 1");
        if (!w.empty() && !w.is_null(0, 0)) {
          const TimePoint wake = from_epoch_ms(w.integer(0, 0));
          due = due ? std::min(*due, wake) : wake;
        }
      }
      return due;
    });
  }

  // -------------------------------------------------------------------------
  // Schedules (schedules.cpp)

  ScheduleView create_schedule(const ScheduleRecord& schedule, TimePoint now) override {
    return runner_.run(Access::write, [&](Connection& c) {
      insert_schedule(c, schedule, now);
      return load_schedule(c, schedule.view.name).value().view;
    });
  }

  std::optional<ScheduleRecord> find_schedule(const std::string& name) override {
    return runner_.run(Access::statement, [&](Connection& c) { return load_schedule(c, name); });
  }

  std::vector<ScheduleView> list_schedules() override {
    return runner_.run(Access::statement, [&](Connection& c) { return load_schedules(c); });
  }

  ScheduleView update_schedule(const ScheduleRecord& schedule, TimePoint now) override {
    return runner_.run(Access::write, [&](Connection& c) {
      if (!update_schedule_row(c, schedule, now)) throw NotFoundError("schedule", schedule.view.name);
      return load_schedule(c, schedule.view.name).value().view;
    });
  }

  bool delete_schedule(const std::string& name) override {
    return runner_.run(Access::write, [&](Connection& c) { return delete_schedule_row(c, name); });
  }

  FireResult fire_schedules(const FireRequest& request, TimePoint now) override {
    // Small transactions of a few schedules each: a row stays locked only
    // while its tasks are created, and other workers take the next rows.
    constexpr int kBatch = 8;
    const bool functions = one_call();  // read before the transaction: it may take a connection
    FireResult result;
    for (int looked = 0; looked < request.limit; looked += kBatch) {
      Wakeups wake;
      FireResult part = write(now, wake, [&](WriteTx& tx) {
        FireResult r;
        r.ticks = fire_due(tx, request, std::min(kBatch, request.limit - looked), tick_creator(functions, r.events));
        for (auto& e : settle(tx, false)) r.events.push_back(std::move(e));
        return r;
      });
      deliver(wake);
      if (part.ticks.empty()) break;
      result.ticks.insert(result.ticks.end(), part.ticks.begin(), part.ticks.end());
      result.events.insert(result.events.end(), part.events.begin(), part.events.end());
    }
    return result;
  }

  CreateResult trigger_schedule(const std::string& name, TimePoint now) override {
    const bool functions = one_call();
    Wakeups wake;
    CreateResult created = write(now, wake, [&](WriteTx& tx) {
      CreateResult out;
      const std::string uuid = sql::trigger(tx, name, tick_creator(functions, out.events));
      for (auto& e : settle(tx, false)) out.events.push_back(std::move(e));
      out.task = std::move(load_task(tx.c, sql_, uuid, now).value());
      return out;
    });
    deliver(wake);
    return created;
  }

  std::optional<TimePoint> next_schedule_tick() override {
    return runner_.run(Access::statement, [&](Connection& c) { return earliest_schedule_tick(c); });
  }

  PoolUsage pool_usage() override { return pool_.usage(); }

  // -------------------------------------------------------------------------
  // Dead letters (dead_letters.cpp): candidates and snapshots are read in a
  // snapshot, then written in one short transaction that checks them again.

  DeadLetterResult record_dead_letters(const DeadLetterSweep& sweep, TimePoint now) override {
    const Dialect& d = backend_->dialect();
    DeadLetterResult result;
    std::vector<PendingEntry> errored;
    std::vector<PendingEntry> stale;
    runner_.run(Access::snapshot, [&](Connection& c) {
      result.latest_error.reset();
      errored = errored_without_entry(c, sql_, sweep.errored_since, sweep.limit, result.latest_error, now);
      stale.clear();
      if (sweep.detect_staleness) stale = stale_without_entry(c, d, sql_, sweep.staleness, sweep.limit, now);
    });
    if (errored.empty() && stale.empty()) return result;
    runner_.run(Access::write, [&](Connection& c) {
      result.errored = insert_entries(c, d, errored, now);
      result.stale = insert_entries(c, d, stale, now);
    });
    return result;
  }

  std::vector<DlqEntry> list_dlq(const DlqFilter& filter) override {
    return runner_.run(Access::statement, [&](Connection& c) { return list_entries(c, filter); });
  }

  std::optional<DlqEntry> find_dlq_entry(const std::string& task_uuid) override {
    return runner_.run(Access::statement, [&](Connection& c) { return entry_of_task(c, task_uuid); });
  }

  std::optional<DlqEntry> update_dlq_entry(const std::string& entry_uuid, const DlqUpdate& update,
                                           TimePoint now) override {
    return runner_.run(Access::write, [&](Connection& c) { return update_entry(c, entry_uuid, update, now); });
  }

  std::vector<DlqStats> dlq_stats() override {
    return runner_.run(Access::statement, [&](Connection& c) { return entry_stats(c); });
  }

  std::vector<DlqQueueEntry> dlq_investigation_queue(int limit, TimePoint now) override {
    return runner_.run(Access::statement, [&](Connection& c) { return investigation_queue(c, limit, now); });
  }

  std::vector<StalenessEntry> staleness(const StalenessThresholds& thresholds, int limit, TimePoint now) override {
    return runner_.run(Access::statement, [&](Connection& c) { return sql::staleness(c, thresholds, limit, now); });
  }

  // -------------------------------------------------------------------------
  // Retention (retention.cpp)

  std::size_t count_purgeable(const PurgeSelection& selection) override {
    return runner_.run(Access::statement,
                       [&](Connection& c) { return sql::count_purgeable(c, backend_->dialect(), selection); });
  }

  PurgeBatch purge_batch(const PurgeSelection& selection, int limit, const ArchiveSink& archive) override {
    const bool watchers = one_call();  // the watchers table came with the server functions
    return runner_.run(Access::write, [&](Connection& c) {
      const Dialect& d = backend_->dialect();
      const auto ids = lock_purgeable(c, d, selection, limit);
      if (ids.empty()) return PurgeBatch{};
      // Archived before the delete, inside its transaction: a sink that fails rolls it back.
      if (archive) archive(archive_records(c, d, ids));
      delete_tasks(c, d, ids, watchers);
      return PurgeBatch{ids.size()};
    });
  }

  ImportResult import_archived(const std::vector<json>& records) override {
    return runner_.run(Access::write, [&](Connection& c) { return import_records(c, backend_->dialect(), records); });
  }

  // -------------------------------------------------------------------------
  // Wake-ups

  std::shared_ptr<void> on_work_available(std::function<void()> callback) override {
    return work_listeners_.add(std::move(callback));
  }

  std::shared_ptr<void> on_tasks_finished(std::function<void(const std::vector<std::string>&)> callback) override {
    return finished_listeners_.add(std::move(callback));
  }

  std::shared_ptr<void> watch_task(const std::string& task_uuid, TimePoint until, TimePoint now) override {
    if (!one_call()) return nullptr;  // no watchers table below version 4: every end is announced
    return watchers_->watch(task_uuid, until, now);
  }

 private:
  /// The one-round-trip path, once the database has its server functions
  /// (a store opened without migrating may face an older schema, read once:
  /// schema_version_ says which functions it has).
  bool one_call() {
    if (!one_call_) return false;
    std::call_once(functions_checked_, [&] { schema_version_ = schema_version(); });
    return schema_version_ >= kServerFunctionsVersion;
  }

  /// How a schedule's tick creates its task inside the firing transaction:
  /// the submit function where the database has it (its events go to
  /// `events`, its work is announced by the transaction's commit), else the statements.
  sql::TaskCreator tick_creator(bool functions, std::vector<LifecycleEvent>& events) {
    if (!functions)
      return [](WriteTx& tx, const TaskPlan& plan) {
        Param h{*plan.identity_hash};
        Rows existing = tx.c.query(tx.sql.task_by_identity, {&h, 1});
        if (!existing.empty()) return existing.text(0, 0);
        insert_task(tx, plan);
        return plan.task_uuid;
      };
    return [this, &events](WriteTx& tx, const TaskPlan& plan) {
      Wakeups wake;
      std::string existing;
      auto created = one_call_->create_task_in(tx.c, plan, tx.now, wake, existing);
      if (!created) return existing;
      tx.changes.enqueued = tx.changes.enqueued || wake.work;
      for (auto& e : created->events) events.push_back(std::move(e));
      return plan.task_uuid;
    };
  }

  /// Run `body(WriteTx&)` in a write transaction (repeated with a fresh WriteTx
  /// when the database says it certainly did not commit), and send the
  /// notifications it calls for inside it; `wake` says whom to wake after the commit.
  template <typename F>
  auto write(TimePoint now, Wakeups& wake, F&& body) -> decltype(body(std::declval<WriteTx&>())) {
    const bool watchers = one_call();  // read before the transaction: it may take a connection
    return runner_.run(Access::write, [&](Connection& c) {
      WriteTx tx{c, sql_, backend_->dialect(), now, options_.dynamic, {}};
      auto out = body(tx);
      wake = Wakeups{tx.changes.enqueued, std::move(tx.changes.finished_tasks)};
      Wakeups announced{wake.work, watchers ? watched_tasks(c, sql_, wake.finished, now) : wake.finished};
      notify_in_transaction(c, announced);
      return out;
    });
  }

  /// An operator action on a task: lock it (so two actions on one task
  /// serialise), act, settle, and read the views back inside the transaction.
  template <typename F>
  OperatorResult operate(const std::string& task_uuid, const std::optional<std::string>& step_name, TimePoint now,
                         F&& action) {
    Wakeups wake;
    OperatorResult result = write(now, wake, [&](WriteTx& tx) {
      Param u{task_uuid};
      Rows t = tx.c.query(sql_.task_id_by_uuid, {&u, 1});
      if (t.empty()) throw NotFoundError("task", task_uuid);
      LockedTask task{t.integer(0, 0), task_uuid, task_state_from(t.text(0, 1))};
      if (task.state == TaskState::cancelled && step_name)
        throw InvalidRequestError(fmt::format("task {} is cancelled: its steps can no longer change", task_uuid));
      action(tx, task);
      tx.changes.tasks[task.id];
      OperatorResult out;
      out.events = settle(tx, true);
      // The views show the operation's effect, not whatever a worker did right after the commit.
      out.task = std::move(load_task(tx.c, sql_, task_uuid, now).value());
      if (step_name)
        for (auto& s : load_steps(tx.c, sql_, task_uuid))
          if (s.name == *step_name) out.step = std::move(s);
      return out;
    });
    deliver(wake);
    return result;
  }

  void notify_in_transaction(Connection& c, const Wakeups& wake) {
    for (const auto& payload : notification_payloads(wake)) backend_->notify_in_transaction(c, payload);
  }

  /// After a commit: this process's listeners (other processes hear the NOTIFY).
  void deliver(const Wakeups& wake) {
    if (wake.work) work_listeners_.call();
    if (!wake.finished.empty()) finished_listeners_.call(wake.finished);
  }

  /// Another process's notification (PostgreSQL).
  void on_notification(const std::string& payload) {
    if (payload.rfind(kFinishedPrefix, 0) != 0) {
      work_listeners_.call();
      return;
    }
    std::vector<std::string> uuids;
    std::string_view rest(payload);
    rest.remove_prefix(kFinishedPrefix.size());
    while (!rest.empty()) {
      auto comma = rest.find(',');
      uuids.emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    finished_listeners_.call(uuids);
  }

  std::unique_ptr<Backend> backend_;
  StoreOptions options_;
  bool jitter_{true};
  Pool pool_;
  Runner runner_;
  Statements sql_;
  std::unique_ptr<OneCall> one_call_;
  std::shared_ptr<Watchers> watchers_;  // shared with the watch handles
  std::once_flag functions_checked_;
  int schema_version_{0};  // at the first write (one_call())
  Listeners<std::function<void()>> work_listeners_;
  Listeners<std::function<void(const std::vector<std::string>&)>> finished_listeners_;
};

}  // namespace

std::shared_ptr<Store> make_sql_store(std::unique_ptr<Backend> backend, const StoreOptions& options) {
  auto store = std::make_shared<SqlStore>(std::move(backend), options);
  if (options.migrate) store->migrate();
  store->start_listening();
  return store;
}

}  // namespace tasker::detail::sql
