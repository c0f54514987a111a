// The state machine of design.md in SQL, shared by every backend.
//
// Shape of every write: one transaction that (1) locks and changes step rows,
// (2) advances the children of steps that became satisfied (decrementing
// pending_parents, enqueueing those that reach zero), (3) updates the touched
// tasks' counters and derives their state, (4) appends transitions. Batches
// pass their rows as one JSON parameter, so a batch of N outcomes costs a fixed
// number of statements, and a step costs O(its edges): nothing rescans a task.
//
// Lock order (matters on PostgreSQL): step rows by id, then children by id,
// then task rows by id. Deadlocks that slip through are retried.
#include "storage/sql/sql_store.hpp"
#include "engine/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "storage/sql/schema.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"

namespace tasker::detail::sql {

// ---------------------------------------------------------------------------
// Rows

const std::string& Rows::text(std::size_t row, std::size_t col) const {
  const auto& v = rows.at(row).at(col);
  if (!v) throw StorageError(fmt::format("unexpected NULL in result column {}", col), false);
  return *v;
}

std::string Rows::text_or(std::size_t row, std::size_t col, std::string fallback) const {
  const auto& v = rows.at(row).at(col);
  return v ? *v : std::move(fallback);
}

std::int64_t Rows::integer(std::size_t row, std::size_t col) const {
  const std::string& s = text(row, col);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{})
    throw StorageError(fmt::format("expected an integer in result column {}, got `{}`", col, s), false);
  return value;
}

std::optional<std::int64_t> Rows::optional_integer(std::size_t row, std::size_t col) const {
  if (is_null(row, col)) return std::nullopt;
  return integer(row, col);
}

namespace {

using Columns = std::vector<std::pair<std::string, ColumnType>>;
constexpr ColumnType kInt = ColumnType::integer;
constexpr ColumnType kText = ColumnType::text;
constexpr ColumnType kJson = ColumnType::json;

std::int64_t ms(TimePoint t) { return to_epoch_ms(t); }

json parse_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  return json::parse(*text, nullptr, false);
}

/// JSON array parameter from ids.
std::string id_list(const std::vector<std::int64_t>& ids) {
  json a = json::array();
  for (auto id : ids) a.push_back(id);
  return a.dump();
}

std::string text_list(const std::vector<std::string>& items) { return json(items).dump(); }

json failure_json(const StepFailure& f) {
  return {{"message", f.message}, {"error_type", f.error_type}, {"retryable", f.retryable}, {"context", f.context}};
}

StepFailure failure_from_json(const json& j) {
  StepFailure f;
  if (!j.is_object()) return f;
  f.message = j.value("message", "");
  f.error_type = j.value("error_type", "");
  f.retryable = j.value("retryable", false);
  f.context = j.contains("context") ? j["context"] : json::object();
  return f;
}

// ---------------------------------------------------------------------------
// Connection pool

class Pool {
 public:
  Pool(Backend& backend, int size) : backend_(backend), size_(std::max(size, 1)) {}

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  /// After a connection broke, the idle ones most likely broke with it (server restart).
  void discard_idle() {
    std::lock_guard lock(mutex_);
    open_ -= static_cast<int>(idle_.size());
    idle_.clear();
    available_.notify_all();
  }

  Lease acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    try {
      return Lease(*this, backend_.connect());
    } catch (...) {
      lock.lock();
      --open_;
      available_.notify_one();
      throw;
    }
  }

 private:
  void give_back(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mutex_);
    if (conn->healthy())
      idle_.push_back(std::move(conn));
    else
      --open_;
    available_.notify_one();
  }

  Backend& backend_;
  int size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_{0};
};

// ---------------------------------------------------------------------------
// What one transaction changed, resolved into task updates, transitions and
// events at its end.

struct TransitionRow {
  std::int64_t task_id;
  std::optional<std::int64_t> step_id;
  std::string from_state;
  std::string to_state;
  std::string worker_id;
  std::string reason;
  int attempt;
};

struct PendingEvent {
  std::string name;
  std::int64_t task_id;
  std::string step_name;
  json payload;
};

struct TaskDelta {
  int completed{0};
  int resolved{0};
  int failed{0};
  int active{0};
  bool started{false};              ///< a step of the task was claimed
  std::optional<TaskState> forced;  ///< cancel: the state to set whatever the counters say
  std::string reason;
};

struct Changes {
  std::vector<TransitionRow> transitions;
  std::vector<PendingEvent> events;
  std::map<std::int64_t, TaskDelta> tasks;  // ordered by id: the lock order
  bool enqueued{false};
  /// The steps this transaction made claimable (children, released steps), so
  /// that exchange() can tell whether its own claim took them all.
  std::vector<std::int64_t> enqueued_steps;
  std::string worker_id;  ///< who acts (for transitions of tasks and children)

  void enqueue(std::int64_t step) {
    enqueued = true;
    enqueued_steps.push_back(step);
  }

  void transition(std::int64_t task, std::optional<std::int64_t> step, std::string_view from, std::string_view to,
                  std::string worker, std::string reason, int attempt) {
    transitions.push_back(
        {task, step, std::string(from), std::string(to), std::move(worker), std::move(reason), attempt});
  }
  void event(const char* name, std::int64_t task, std::string step, json payload = json::object()) {
    tasks[task];  // every event's task is resolved to a uuid at the end
    events.push_back({name, task, std::move(step), std::move(payload)});
  }
};

/// One row's new values (a handler outcome, a reclaim, or an operator action).
struct StepUpdate {
  std::int64_t id;
  StepState state;
  std::optional<json> results;  ///< set when present
  std::optional<json> error;    ///< set when present
  int attempts_delta{0};
  std::optional<std::int64_t> claimable_at;
  std::optional<std::int64_t> completed_at;
};

/// A locked step row, as outcome processing needs it.
struct LockedStep {
  std::int64_t id, task_id, claim_token;
  StepState state;
  int attempts;
  RetryPolicy retry;
  std::string name;
  std::string worker_id;
};

RetryPolicy policy_from(const Rows& r, std::size_t row, std::size_t first_col) {
  RetryPolicy p;
  p.max_attempts = static_cast<int>(r.integer(row, first_col));
  p.retryable = r.integer(row, first_col + 1) != 0;
  p.backoff = parse_backoff_kind(r.text(row, first_col + 2)).value_or(BackoffKind::exponential);
  p.backoff_base_ms = r.integer(row, first_col + 3);
  p.max_backoff_ms = r.integer(row, first_col + 4);
  return p;
}

StepState state_from(const std::string& s) {
  if (auto st = parse_step_state(s)) return *st;
  throw StorageError(fmt::format("unknown step state `{}` in the database", s), false);
}

TaskState task_state_from(const std::string& s) {
  if (auto st = parse_task_state(s)) return *st;
  throw StorageError(fmt::format("unknown task state `{}` in the database", s), false);
}

double random_unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// ---------------------------------------------------------------------------

class SqlStore final : public Store {
 public:
  SqlStore(std::unique_ptr<Backend> backend, const StoreOptions& options)
      : backend_(std::move(backend)), options_(options), pool_(*backend_, backend_->pool_size()) {
    build_statements();
  }

  ~SqlStore() override { backend_->stop_listening(); }

  void start_listening() {
    if (!options_.listen) return;
    backend_->listen([this] { notify_local(); });
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
  CreateResult create_task(const TaskTemplate& tmpl, const TaskRequest& request,
                           const std::optional<std::string>& identity_hash, TimePoint now) override {
    const std::string task_uuid = new_uuid();
    std::set<std::string, std::less<>> bypass(request.bypass_steps.begin(), request.bypass_steps.end());
    // Included steps get consecutive positions; a dependency on a bypassed step is satisfied.
    std::unordered_map<std::string_view, std::size_t> position;
    std::vector<const StepTemplate*> steps;
    for (const auto& s : tmpl.steps)
      if (!bypass.count(s.name)) position.emplace(s.name, steps.size()), steps.push_back(&s);

    json step_rows = json::array();
    json edge_rows = json::array();  // by position, mapped to ids after insert
    std::vector<std::vector<std::size_t>> parents(steps.size());
    std::size_t roots = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const StepTemplate& s = *steps[i];
      for (const auto& dep : s.dependencies)
        if (auto it = position.find(dep); it != position.end()) parents[i].push_back(it->second);
      bool root = parents[i].empty();
      roots += root ? 1 : 0;
      step_rows.push_back({new_uuid(), static_cast<std::int64_t>(i), s.name, s.handler.callable,
                           s.handler.initialization.dump(), json(s.dependencies).dump(), root ? "enqueued" : "pending",
                           static_cast<std::int64_t>(parents[i].size()), s.retry.max_attempts,
                           s.retry.retryable ? 1 : 0, std::string(to_string(s.retry.backoff)), s.retry.backoff_base_ms,
                           s.retry.max_backoff_ms, s.timeout_seconds, root ? json(ms(now)) : json(nullptr)});
    }
    const bool empty = steps.empty();

    CreateResult created = transact([&](Connection& c) {
      Changes ch;
      std::vector<Param> p{task_uuid,
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
                           identity_hash ? Param{*identity_hash} : Param{nullptr},
                           json(request.bypass_steps).dump(),
                           static_cast<std::int64_t>(steps.size()),
                           static_cast<std::int64_t>(roots),
                           ms(now),
                           empty ? Param{ms(now)} : Param{nullptr}};
      Rows inserted = c.query(sql_.insert_task, p);
      if (inserted.empty()) {
        Param hash{*identity_hash};
        Rows existing = c.query(sql_.task_by_identity, {&hash, 1});
        throw DuplicateTaskError(existing.empty() ? "(being created concurrently)" : existing.text(0, 0),
                                 *identity_hash);
      }
      const std::int64_t id = inserted.integer(0, 0);
      ch.transition(id, std::nullopt, "", to_string(empty ? TaskState::complete : TaskState::pending), "", "created",
                    0);
      ch.event(events::kTaskCreated, id, "",
               {{"namespace", tmpl.namespace_name},
                {"name", tmpl.name},
                {"version", tmpl.version},
                {"total_steps", steps.size()}});
      if (empty) ch.event(events::kTaskCompleted, id, "", {{"state", "complete"}});
      if (!empty) {
        std::vector<Param> sp{step_rows.dump(), id, tmpl.namespace_name, static_cast<std::int64_t>(request.priority),
                              ms(now)};
        Rows ids = c.query(sql_.insert_steps, sp);
        std::vector<std::int64_t> id_of(steps.size());
        for (std::size_t r = 0; r < ids.size(); ++r)
          id_of[static_cast<std::size_t>(ids.integer(r, 1))] = ids.integer(r, 0);
        for (std::size_t i = 0; i < steps.size(); ++i) {
          for (auto parent : parents[i]) edge_rows.push_back({id_of[parent], id_of[i]});
          bool root = parents[i].empty();
          ch.transition(id, id_of[i], "", root ? "enqueued" : "pending", "", "created", 0);
          if (root) ch.event(events::kStepEnqueued, id, steps[i]->name);
        }
        if (!edge_rows.empty()) {
          Param edges{edge_rows.dump()};
          c.query(sql_.insert_edges, {&edges, 1});
        }
        ch.enqueued = roots > 0;
      }
      CreateResult out;
      out.events = finish(c, ch, now, /*tasks_changed=*/false);
      // Read back in the same transaction: the view is the task as created,
      // even if a worker claims a step the moment this commits.
      out.task = std::move(load_task(c, task_uuid, now).value());
      return out;
    });
    if (roots > 0) notify_local();
    return created;
  }

  // -------------------------------------------------------------------------
  std::optional<TaskView> find_task(const std::string& task_uuid, TimePoint now) override {
    return snapshot([&](Connection& c) { return load_task(c, task_uuid, now); });
  }

  std::optional<TaskSnapshot> find_task_with_steps(const std::string& task_uuid, TimePoint now) override {
    return snapshot([&](Connection& c) -> std::optional<TaskSnapshot> {
      auto task = load_task(c, task_uuid, now);
      if (!task) return std::nullopt;
      return TaskSnapshot{std::move(*task), load_steps(c, task_uuid)};
    });
  }

  TaskPage list_tasks(const TaskFilter& filter, TimePoint now) override {
    if (filter.limit < 1 || filter.limit > 1000)
      throw InvalidRequestError(fmt::format("limit {} is outside 1..1000", filter.limit));
    std::optional<std::int64_t> before;
    if (filter.cursor) {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(filter.cursor->data(), filter.cursor->data() + filter.cursor->size(), v);
      if (ec != std::errc{} || end != filter.cursor->data() + filter.cursor->size())
        throw InvalidRequestError(fmt::format("`{}` is not a cursor returned by list_tasks", *filter.cursor));
      before = v;
    }
    return snapshot([&](Connection& c) {
      std::string where;
      std::vector<Param> p;
      auto add = [&](const std::string& cond, Param value) {
        p.push_back(std::move(value));
        where += fmt::format("{} {}", where.empty() ? " WHERE" : " AND", fmt::format(fmt::runtime(cond), p.size()));
      };
      if (filter.namespace_name) add("namespace_name = ${}", *filter.namespace_name);
      if (filter.state) add("state = ${}", std::string(to_string(*filter.state)));
      if (before) add("id < ${}", *before);
      p.push_back(static_cast<std::int64_t>(filter.limit + 1));
      std::string sql =
          fmt::format("SELECT {} FROM tasker_tasks{} ORDER BY id DESC LIMIT ${}", kTaskColumns, where, p.size());
      Rows r = c.query(sql, p);
      TaskPage page;
      std::vector<std::int64_t> ids;
      for (std::size_t i = 0; i < r.size() && i < static_cast<std::size_t>(filter.limit); ++i) {
        page.tasks.push_back(task_from_row(r, i));
        ids.push_back(r.integer(i, 0));
      }
      if (r.size() > static_cast<std::size_t>(filter.limit)) page.next_cursor = std::to_string(ids.back());
      fill_counts(c, ids, page.tasks, now);
      return page;
    });
  }

  std::vector<Transition> transitions(const std::string& task_uuid,
                                      const std::optional<std::string>& step_name) override {
    return read([&](Connection& c) {
      std::vector<Param> p{task_uuid};
      if (step_name) p.push_back(*step_name);
      Rows r = c.query(step_name ? sql_.transitions_of_step : sql_.transitions_of_task, p);
      std::vector<Transition> out;
      out.reserve(r.size());
      for (std::size_t i = 0; i < r.size(); ++i)
        out.push_back({r.text(i, 0), r.text_or(i, 1, ""), r.text_or(i, 2, ""), r.text(i, 3),
                       from_epoch_ms(r.integer(i, 4)), r.text_or(i, 5, ""), r.text_or(i, 6, ""),
                       static_cast<int>(r.integer(i, 7))});
      return out;
    });
  }

  // -------------------------------------------------------------------------
  ExchangeResult exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim, TimePoint now) override {
    ExchangeResult result;
    bool enqueued = transact([&](Connection& c) {
      result = ExchangeResult{};
      Changes ch;
      ch.worker_id = claim ? claim->worker_id : std::string{};
      if (!outcomes.empty()) apply_outcomes(c, outcomes, now, ch, "", result.discarded);
      if (claim && claim->reclaim_expired) result.reclaimed = reclaim_expired(c, now, ch);
      if (claim && claim->limit > 0 && !claim->filter.callables.empty())
        result.claimed = claim_steps(c, *claim, now, ch);
      if (ch.enqueued && !result.claimed.empty()) {
        // Steps this transaction enqueued and then claimed itself are news to
        // nobody: wake workers (NOTIFY, in-process listeners) only for the
        // rest. A chain's next step is claimed by the worker that enqueued it,
        // so no other worker wakes up for a claim that would find nothing.
        std::set<std::int64_t> taken;
        for (const auto& s : result.claimed) taken.insert(s.step_id);
        ch.enqueued = std::any_of(ch.enqueued_steps.begin(), ch.enqueued_steps.end(),
                                  [&](std::int64_t id) { return !taken.count(id); });
      }
      result.events = finish(c, ch, now, true);
      return ch.enqueued;
    });
    if (enqueued) notify_local();
    return result;
  }

  std::vector<std::int64_t> renew_leases(const std::vector<LeaseRef>& leases, TimePoint expires_at) override {
    if (leases.empty()) return {};
    json rows = json::array();
    for (const auto& l : leases) rows.push_back({l.step_id, l.claim_token});
    return transact([&](Connection& c) {
      std::vector<Param> p{rows.dump(), ms(expires_at)};
      Rows kept = c.query(sql_.renew_leases, p);
      std::set<std::int64_t> alive;
      for (std::size_t i = 0; i < kept.size(); ++i) alive.insert(kept.integer(i, 0));
      std::vector<std::int64_t> lost;
      for (const auto& l : leases)
        if (!alive.count(l.step_id)) lost.push_back(l.step_id);
      return lost;
    });
  }

  std::optional<TimePoint> next_due(const WorkFilter& filter) override {
    if (filter.callables.empty()) return std::nullopt;
    return read([&](Connection& c) -> std::optional<TimePoint> {
      std::vector<Param> p;
      // ORDER BY ... LIMIT 1, not MIN(): with the callable filter a semi-join,
      // only this form reads tasker_steps_due in order and stops at the first match.
      std::string sql =
          "SELECT claimable_at FROM tasker_steps WHERE state IN ('enqueued', 'waiting_for_retry') "
          "AND claimable_at IS NOT NULL" +
          filter_clause(filter, p) + " ORDER BY claimable_at LIMIT 1";
      Rows r = c.query(sql, p);
      if (r.empty() || r.is_null(0, 0)) return std::nullopt;
      return from_epoch_ms(r.integer(0, 0));
    });
  }

  /// ` AND callable IN (...)` and the optional namespace and task conditions,
  /// appending their parameters. At most four statement texts result, each
  /// prepared once per connection.
  std::string filter_clause(const WorkFilter& f, std::vector<Param>& params) const {
    const Dialect& d = backend_->dialect();
    auto in = [&](const std::string& column, const std::vector<std::string>& values) {
      params.push_back(text_list(values));
      return d.in_list(column, static_cast<int>(params.size()), kText);
    };
    std::string sql = " AND " + in("callable", f.callables);
    if (!f.namespaces.empty()) sql += " AND " + in("namespace_name", f.namespaces);
    if (!f.task_uuids.empty())
      sql += " AND task_id IN (SELECT id FROM tasker_tasks WHERE " + in("uuid", f.task_uuids) + ")";
    return sql;
  }

  // -------------------------------------------------------------------------
  OperatorResult cancel_task(const std::string& task_uuid, const std::string& reason, TimePoint now) override {
    return operate(
        task_uuid, std::nullopt, now, [&](Connection& c, std::int64_t task_id, TaskState state, Changes& ch) {
          if (state == TaskState::cancelled || state == TaskState::complete || state == TaskState::resolved_manually)
            throw InvalidRequestError(
                fmt::format("task {} is already {}: there is nothing to cancel", task_uuid, to_string(state)));
          Param id{task_id};
          Rows r = c.query(sql_.unfinished_steps_of_task, {&id, 1});
          std::vector<StepUpdate> updates;
          TaskDelta& delta = ch.tasks[task_id];
          for (std::size_t i = 0; i < r.size(); ++i) {
            StepState from = state_from(r.text(i, 1));
            updates.push_back(
                {r.integer(i, 0), StepState::cancelled, std::nullopt, std::nullopt, 0, std::nullopt, ms(now)});
            ch.transition(task_id, r.integer(i, 0), to_string(from), "cancelled", "", reason,
                          static_cast<int>(r.integer(i, 3)));
            if (from != StepState::pending) delta.active -= 1;
          }
          apply_updates(c, updates, now);
          delta.forced = TaskState::cancelled;
          delta.reason = reason;
          ch.event(events::kTaskCancelled, task_id, "", {{"reason", reason}});
          return std::optional<std::string>{};
        });
  }

  OperatorResult reset_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason,
                            TimePoint now) override {
    return operate(task_uuid, step_name, now, [&](Connection& c, std::int64_t task_id, TaskState, Changes& ch) {
      LockedStep s = lock_step(c, task_id, task_uuid, step_name);
      if (s.state != StepState::error)
        throw InvalidRequestError(fmt::format("step `{}` of task {} is {}: only a step in error can be reset for retry",
                                              step_name, task_uuid, to_string(s.state)));
      apply_updates(c, {{s.id, StepState::enqueued, std::nullopt, std::nullopt, -s.attempts, ms(now), std::nullopt}},
                    now);
      ch.transition(task_id, s.id, "error", "enqueued", "", reason, 0);
      ch.event(events::kStepEnqueued, task_id, step_name, {{"reason", reason}});
      TaskDelta& d = ch.tasks[task_id];
      d.failed -= 1;
      d.active += 1;
      ch.enqueue(s.id);
      return std::optional<std::string>{step_name};
    });
  }

  OperatorResult resolve_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason,
                              TimePoint now) override {
    return satisfy_manually(task_uuid, step_name, StepState::resolved_manually, std::nullopt, reason, now);
  }

  OperatorResult complete_step(const std::string& task_uuid, const std::string& step_name, const json& result,
                               const std::string& reason, TimePoint now) override {
    return satisfy_manually(task_uuid, step_name, StepState::complete, result, reason, now);
  }

  std::shared_ptr<void> on_work_available(std::function<void()> callback) override {
    std::lock_guard lock(listeners_mutex_);
    auto id = next_listener_++;
    listeners_.emplace(id, std::move(callback));
    // The handle removes the listener when the subscriber lets go of it.
    return std::shared_ptr<void>(nullptr, [this, id](void*) {
      std::lock_guard inner(listeners_mutex_);
      listeners_.erase(id);
    });
  }

 private:
  static constexpr const char* kTaskColumns =
      "id, uuid, namespace_name, name, version, state, context, initiator, source_system, reason, tags, priority, "
      "correlation_id, idempotency_key, identity_hash, bypassed_steps, created_at, updated_at, completed_at, "
      "total_steps";
  /// The columns locked_from() reads, in its order.
  static constexpr const char* kLockedStepColumns =
      "id, task_id, claim_token, state, attempts, max_attempts, retryable, backoff, backoff_base_ms, max_backoff_ms, "
      "name, worker_id";
  static constexpr const char* kStepColumns =
      "s.id, s.uuid, s.name, s.callable, s.state, s.dependencies, s.attempts, s.max_attempts, s.retryable, "
      "s.backoff, s.backoff_base_ms, s.max_backoff_ms, s.timeout_seconds, s.results, s.error, s.worker_id, "
      "s.created_at, s.last_attempted_at, s.completed_at, s.claimable_at, s.lease_expires_at, t.uuid";

  struct Statements {
    std::string insert_task, task_by_identity, insert_steps, insert_edges, insert_transitions;
    std::string lock_steps, update_steps, lock_children, advance_children, lock_tasks, update_tasks;
    std::string select_expired, claim_update, claim_tasks, claim_dependency_results;
    std::string renew_leases;
    std::string task_by_uuid, step_counts, steps_of_task, transitions_of_task, transitions_of_step;
    std::string task_id_by_uuid, step_by_name, unfinished_steps_of_task;
  };

  void build_statements() {
    const Dialect& d = backend_->dialect();
    auto rows = [&](int param, const Columns& cols) { return d.json_rows(param, cols, "x"); };
    auto in_ids = [&](const std::string& column, int param) { return d.in_list(column, param, kInt); };

    sql_.insert_task =
        "INSERT INTO tasker_tasks (uuid, namespace_name, name, version, state, context, initiator, source_system, "
        "reason, tags, priority, correlation_id, idempotency_key, identity_hash, bypassed_steps, total_steps, "
        "active_steps, created_at, updated_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13, $14, $15, $16, $17, $18, $18, $19) ON CONFLICT (identity_hash) DO NOTHING RETURNING id";
    sql_.task_by_identity = "SELECT uuid FROM tasker_tasks WHERE identity_hash = $1";
    sql_.insert_steps = fmt::format(
        "INSERT INTO tasker_steps (uuid, task_id, position, name, namespace_name, callable, initialization, "
        "dependencies, state, priority, pending_parents, max_attempts, retryable, backoff, backoff_base_ms, "
        "max_backoff_ms, timeout_seconds, claimable_at, created_at, updated_at) "
        "SELECT x.uuid, $2, x.position, x.name, $3, x.callable, x.initialization, x.dependencies, x.state, $4, "
        "x.pending_parents, x.max_attempts, x.retryable, x.backoff, x.backoff_base_ms, x.max_backoff_ms, "
        "x.timeout_seconds, x.claimable_at, $5, $5 FROM {} RETURNING id, position",
        rows(1, {{"uuid", kText},
                 {"position", kInt},
                 {"name", kText},
                 {"callable", kText},
                 {"initialization", kJson},
                 {"dependencies", kJson},
                 {"state", kText},
                 {"pending_parents", kInt},
                 {"max_attempts", kInt},
                 {"retryable", kInt},
                 {"backoff", kText},
                 {"backoff_base_ms", kInt},
                 {"max_backoff_ms", kInt},
                 {"timeout_seconds", kInt},
                 {"claimable_at", kInt}}));
    sql_.insert_edges =
        fmt::format("INSERT INTO tasker_step_edges (parent_id, child_id) SELECT x.parent_id, x.child_id FROM {}",
                    rows(1, {{"parent_id", kInt}, {"child_id", kInt}}));
    sql_.insert_transitions = fmt::format(
        "INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt) "
        "SELECT x.task_id, x.step_id, x.from_state, x.to_state, $2, x.worker_id, x.reason, x.attempt FROM {} "
        "ORDER BY x.seq",
        rows(1, {{"seq", kInt},
                 {"task_id", kInt},
                 {"step_id", kInt},
                 {"from_state", kText},
                 {"to_state", kText},
                 {"worker_id", kText},
                 {"reason", kText},
                 {"attempt", kInt}}));

    sql_.lock_steps = fmt::format("SELECT {} FROM tasker_steps WHERE {} ORDER BY id{}", kLockedStepColumns,
                                  in_ids("id", 1), d.for_update);
    sql_.update_steps = fmt::format(
        "UPDATE tasker_steps SET state = x.new_state, "
        "results = CASE WHEN x.set_results = 1 THEN x.new_results ELSE results END, "
        "error = CASE WHEN x.set_error = 1 THEN x.new_error ELSE error END, "
        "attempts = attempts + x.attempts_delta, claimable_at = x.new_claimable_at, "
        "completed_at = x.new_completed_at, lease_expires_at = NULL, updated_at = $2 "
        "FROM {} WHERE tasker_steps.id = x.id",
        rows(1, {{"id", kInt},
                 {"new_state", kText},
                 {"set_results", kInt},
                 {"new_results", kJson},
                 {"set_error", kInt},
                 {"new_error", kJson},
                 {"attempts_delta", kInt},
                 {"new_claimable_at", kInt},
                 {"new_completed_at", kInt}}));
    sql_.lock_children = d.for_update.empty() ? std::string{}
                                              : fmt::format(
                                                    "SELECT id FROM tasker_steps WHERE id IN (SELECT child_id FROM "
                                                    "tasker_step_edges WHERE {}) ORDER BY id{}",
                                                    in_ids("parent_id", 1), d.for_update);
    sql_.advance_children = fmt::format(
        "UPDATE tasker_steps SET pending_parents = pending_parents - c.n, "
        "state = CASE WHEN state = 'pending' AND pending_parents - c.n <= 0 THEN 'enqueued' ELSE state END, "
        "claimable_at = CASE WHEN state = 'pending' AND pending_parents - c.n <= 0 THEN CAST($2 AS BIGINT) "
        "ELSE claimable_at END, updated_at = $2 "
        "FROM (SELECT child_id, COUNT(*) AS n FROM tasker_step_edges WHERE {} GROUP BY child_id) AS c "
        "WHERE tasker_steps.id = c.child_id "
        "RETURNING tasker_steps.id, tasker_steps.task_id, tasker_steps.name, tasker_steps.state, "
        "tasker_steps.pending_parents",
        in_ids("parent_id", 1));
    sql_.lock_tasks = fmt::format(
        "SELECT id, uuid, state, total_steps, completed_steps, resolved_steps, failed_steps, active_steps "
        "FROM tasker_tasks WHERE {} ORDER BY id{}",
        in_ids("id", 1), d.for_update);
    sql_.update_tasks = fmt::format(
        "UPDATE tasker_tasks SET state = x.new_state, completed_steps = x.completed, resolved_steps = x.resolved, "
        "failed_steps = x.failed, active_steps = x.active, completed_at = x.new_completed_at, updated_at = $2 "
        "FROM {} WHERE tasker_tasks.id = x.id",
        rows(1, {{"id", kInt},
                 {"new_state", kText},
                 {"completed", kInt},
                 {"resolved", kInt},
                 {"failed", kInt},
                 {"active", kInt},
                 {"new_completed_at", kInt}}));

    sql_.select_expired = fmt::format(
        "SELECT id, claim_token FROM tasker_steps WHERE state = 'in_progress' AND lease_expires_at < $1 "
        "ORDER BY lease_expires_at LIMIT $2{}",
        d.skip_locked);
    sql_.claim_update = fmt::format(
        "UPDATE tasker_steps SET state = 'in_progress', attempts = attempts + 1, claim_token = claim_token + 1, "
        "worker_id = $2, lease_expires_at = $3, last_attempted_at = $4, claimable_at = NULL, updated_at = $4 "
        "WHERE {} RETURNING id, task_id, uuid, name, callable, initialization, attempts, claim_token, "
        "max_attempts, retryable, backoff, backoff_base_ms, max_backoff_ms, timeout_seconds",
        in_ids("id", 1));
    sql_.claim_tasks = fmt::format("SELECT id, uuid, namespace_name, name, version, context FROM tasker_tasks WHERE {}",
                                   in_ids("id", 1));
    sql_.claim_dependency_results = fmt::format(
        "SELECT e.child_id, p.name, p.results FROM tasker_step_edges e JOIN tasker_steps p ON p.id = e.parent_id "
        "WHERE {}",
        in_ids("e.child_id", 1));
    sql_.renew_leases = fmt::format(
        "UPDATE tasker_steps SET lease_expires_at = $2 FROM {} WHERE tasker_steps.id = x.id "
        "AND tasker_steps.claim_token = x.token AND tasker_steps.state = 'in_progress' RETURNING tasker_steps.id",
        rows(1, {{"id", kInt}, {"token", kInt}}));

    sql_.task_by_uuid = fmt::format("SELECT {} FROM tasker_tasks WHERE uuid = $1", kTaskColumns);
    sql_.step_counts = fmt::format(
        "SELECT task_id, state, COUNT(*), SUM(CASE WHEN claimable_at <= $2 THEN 1 ELSE 0 END) FROM tasker_steps "
        "WHERE {} GROUP BY task_id, state",
        in_ids("task_id", 1));
    sql_.steps_of_task = fmt::format(
        "SELECT {} FROM tasker_steps s JOIN tasker_tasks t ON t.id = s.task_id WHERE t.uuid = $1 ORDER BY s.position",
        kStepColumns);
    const std::string transitions_sql =
        "SELECT t.uuid, s.name, tr.from_state, tr.to_state, tr.at, tr.worker_id, tr.reason, tr.attempt "
        "FROM tasker_transitions tr JOIN tasker_tasks t ON t.id = tr.task_id "
        "LEFT JOIN tasker_steps s ON s.id = tr.step_id WHERE t.uuid = $1";
    sql_.transitions_of_task = transitions_sql + " ORDER BY tr.id";
    sql_.transitions_of_step = transitions_sql + " AND s.name = $2 ORDER BY tr.id";
    // Operator actions lock the task first, so two of them on one task serialise.
    sql_.task_id_by_uuid = fmt::format("SELECT id, state FROM tasker_tasks WHERE uuid = $1{}", d.for_update);
    sql_.step_by_name =
        fmt::format("SELECT {} FROM tasker_steps WHERE task_id = $1 AND name = $2{}", kLockedStepColumns, d.for_update);
    sql_.unfinished_steps_of_task = fmt::format(
        "SELECT id, state, name, attempts FROM tasker_steps WHERE task_id = $1 "
        "AND state IN ('pending', 'enqueued', 'in_progress', 'waiting_for_retry') ORDER BY id{}",
        d.for_update);
  }

  // -------------------------------------------------------------------------
  // Transactions

  /// How a body runs: one statement on a plain connection; several statements
  /// that must agree (a task's row and its step counts) in a read-only
  /// snapshot; or a read-write transaction.
  enum class Access { statement, snapshot, write };

  template <typename F>
  auto transact(F&& body) -> decltype(body(std::declval<Connection&>())) {
    return run(Access::write, std::forward<F>(body));
  }
  template <typename F>
  auto read(F&& body) -> decltype(body(std::declval<Connection&>())) {
    return run(Access::statement, std::forward<F>(body));
  }
  template <typename F>
  auto snapshot(F&& body) -> decltype(body(std::declval<Connection&>())) {
    return run(Access::snapshot, std::forward<F>(body));
  }

  /// Run `body` as `access` says, repeating it when the database says the
  /// attempt certainly did not commit (busy, deadlock, serialization failure,
  /// a connection broken before commit).
  template <typename F>
  auto run(Access access, F&& body) -> decltype(body(std::declval<Connection&>())) {
    constexpr int kAttempts = 8;
    const bool write = access == Access::write;
    for (int attempt = 1;; ++attempt) {
      bool connection_lost = false;
      try {
        auto conn = pool_.acquire();
        try {
          if (access == Access::statement) return body(*conn);
          if (write)
            conn->begin();
          else
            conn->begin_read();
          if constexpr (std::is_void_v<decltype(body(*conn))>) {
            body(*conn);
            conn->commit();
            return;
          } else {
            auto result = body(*conn);
            conn->commit();
            return result;
          }
        } catch (...) {
          connection_lost = !conn->healthy();
          if (access != Access::statement && !connection_lost) conn->rollback();
          throw;
        }
      } catch (const StorageInDoubtError&) {
        pool_.discard_idle();
        throw;
      } catch (const StorageError& e) {
        if (connection_lost) pool_.discard_idle();
        if (!e.retryable() || attempt == kAttempts) throw;
        detail::log().debug("retrying a transaction on {} after: {}", backend_->name(), e.what());
        // 10, 20, 40, ... 640 ms: about 1.3 s in all, enough to ride out a deadlock or a brief outage.
        std::this_thread::sleep_for(std::chrono::milliseconds(10 << (attempt - 1)));
      }
    }
  }

  // -------------------------------------------------------------------------
  // Writes

  void apply_updates(Connection& c, const std::vector<StepUpdate>& updates, TimePoint now) {
    if (updates.empty()) return;
    json rows = json::array();
    for (const auto& u : updates)
      rows.push_back({u.id, std::string(to_string(u.state)), u.results ? 1 : 0,
                      u.results ? json(u.results->dump()) : json(nullptr), u.error ? 1 : 0,
                      u.error ? json(u.error->dump()) : json(nullptr), u.attempts_delta,
                      u.claimable_at ? json(*u.claimable_at) : json(nullptr),
                      u.completed_at ? json(*u.completed_at) : json(nullptr)});
    std::vector<Param> p{rows.dump(), ms(now)};
    c.query(sql_.update_steps, p);
  }

  std::vector<LockedStep> lock_steps(Connection& c, const std::vector<std::int64_t>& ids) {
    Param list{id_list(ids)};
    return locked_from(c.query(sql_.lock_steps, {&list, 1}));
  }

  static std::vector<LockedStep> locked_from(const Rows& r) {
    std::vector<LockedStep> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i)
      out.push_back({r.integer(i, 0), r.integer(i, 1), r.integer(i, 2), state_from(r.text(i, 3)),
                     static_cast<int>(r.integer(i, 4)), policy_from(r, i, 5), r.text(i, 10), r.text_or(i, 11, "")});
    return out;
  }

  /// Record handler outcomes (or reclaims), fenced by claim token.
  void apply_outcomes(Connection& c, const std::vector<StepOutcome>& outcomes, TimePoint now, Changes& ch,
                      const std::string& reason_prefix, std::vector<std::int64_t>& discarded) {
    std::vector<std::int64_t> ids;
    ids.reserve(outcomes.size());
    for (const auto& o : outcomes) ids.push_back(o.step_id);
    std::unordered_map<std::int64_t, LockedStep> locked;
    for (auto& s : lock_steps(c, ids)) locked.emplace(s.id, std::move(s));

    std::vector<StepUpdate> updates;
    std::vector<std::int64_t> satisfied;
    for (const auto& o : outcomes) {
      auto it = locked.find(o.step_id);
      if (it == locked.end() || it->second.state != StepState::in_progress || it->second.claim_token != o.claim_token) {
        discarded.push_back(o.step_id);  // a newer claim, a reclaim, a cancel or a reset got there first
        continue;
      }
      LockedStep& s = it->second;
      s.state = StepState::complete;  // no second outcome for the same claim within one batch
      TaskDelta& delta = ch.tasks[s.task_id];
      const std::string worker = s.worker_id;
      switch (o.kind) {
        case StepOutcome::Kind::success:
          updates.push_back({s.id, StepState::complete, o.result, std::nullopt, 0, std::nullopt, ms(now)});
          ch.transition(s.task_id, s.id, "in_progress", "complete", worker, reason_prefix, s.attempts);
          ch.event(events::kStepCompleted, s.task_id, s.name, {{"attempt", s.attempts}, {"result", o.result}});
          delta.completed += 1;
          delta.active -= 1;
          satisfied.push_back(s.id);
          break;
        case StepOutcome::Kind::failure: {
          RetryDecision decision =
              decide_after_failure(s.retry, s.attempts, o.failure.retryable, o.retry_after,
                                   options_.jitter ? std::optional<double>(random_unit()) : std::nullopt);
          json error = failure_json(o.failure);
          error["attempt"] = s.attempts;
          std::string reason = reason_prefix.empty() ? o.failure.error_type : reason_prefix;
          if (decision.retry) {
            std::int64_t at = ms(now) + decision.delay.count();
            updates.push_back({s.id, StepState::waiting_for_retry, std::nullopt, error, 0, at, std::nullopt});
            ch.transition(s.task_id, s.id, "in_progress", "waiting_for_retry", worker, reason, s.attempts);
            ch.event(events::kStepFailed, s.task_id, s.name,
                     {{"attempt", s.attempts}, {"error", error}, {"will_retry", true}});
            ch.event(events::kStepRetryScheduled, s.task_id, s.name,
                     {{"attempt", s.attempts}, {"delay_ms", decision.delay.count()}, {"next_attempt_at", at}});
          } else {
            updates.push_back({s.id, StepState::error, std::nullopt, error, 0, std::nullopt, ms(now)});
            ch.transition(s.task_id, s.id, "in_progress", "error", worker, reason, s.attempts);
            ch.event(events::kStepFailed, s.task_id, s.name,
                     {{"attempt", s.attempts}, {"error", error}, {"will_retry", false}});
            delta.failed += 1;
            delta.active -= 1;
          }
          break;
        }
        case StepOutcome::Kind::release:
          updates.push_back({s.id, StepState::enqueued, std::nullopt, std::nullopt, -1, ms(now), std::nullopt});
          ch.transition(s.task_id, s.id, "in_progress", "enqueued", worker, "released unrun by a stopping worker",
                        s.attempts - 1);
          ch.event(events::kStepEnqueued, s.task_id, s.name, {{"reason", "released"}});
          ch.enqueue(s.id);
          break;
      }
    }
    apply_updates(c, updates, now);
    advance_children(c, satisfied, now, ch);
  }

  /// Decrement the pending-parent counts of the children of newly satisfied
  /// steps and enqueue those that reach zero: O(edges), never a task rescan.
  void advance_children(Connection& c, const std::vector<std::int64_t>& satisfied, TimePoint now, Changes& ch) {
    if (satisfied.empty()) return;
    Param list{id_list(satisfied)};
    if (!sql_.lock_children.empty()) c.query(sql_.lock_children, {&list, 1});
    std::vector<Param> p{list, ms(now)};
    Rows r = c.query(sql_.advance_children, p);
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (r.text(i, 3) != "enqueued" || r.integer(i, 4) != 0) continue;
      std::int64_t task = r.integer(i, 1);
      ch.transition(task, r.integer(i, 0), "pending", "enqueued", ch.worker_id, "dependencies complete", 0);
      ch.event(events::kStepEnqueued, task, r.text(i, 2));
      ch.tasks[task].active += 1;
      ch.enqueue(r.integer(i, 0));
    }
  }

  std::size_t reclaim_expired(Connection& c, TimePoint now, Changes& ch) {
    constexpr std::int64_t kBatch = 100;
    std::vector<Param> p{ms(now), kBatch};
    Rows r = c.query(sql_.select_expired, p);
    if (r.empty()) return 0;
    std::vector<StepOutcome> outcomes;
    for (std::size_t i = 0; i < r.size(); ++i) {
      StepOutcome o;
      o.step_id = r.integer(i, 0);
      o.claim_token = r.integer(i, 1);
      o.kind = StepOutcome::Kind::failure;
      o.failure = {"the worker running this attempt stopped renewing its lease (presumed lost)", "worker_lost", true,
                   json::object()};
      outcomes.push_back(std::move(o));
    }
    std::vector<std::int64_t> ignored;
    apply_outcomes(c, outcomes, now, ch, fmt::format("lease expired; reclaimed by {}", ch.worker_id), ignored);
    detail::log().info("worker {} reclaimed {} step(s) whose lease expired", ch.worker_id,
                       outcomes.size() - ignored.size());
    return outcomes.size() - ignored.size();
  }

  std::vector<ClaimedStep> claim_steps(Connection& c, const ClaimRequest& req, TimePoint now, Changes& ch) {
    std::vector<Param> p{ms(now), static_cast<std::int64_t>(req.limit)};
    std::string sql =
        "SELECT id, state FROM tasker_steps WHERE state IN ('enqueued', 'waiting_for_retry') "
        "AND claimable_at <= $1" +
        filter_clause(req.filter, p) + " ORDER BY priority DESC, claimable_at, id LIMIT $2" +
        backend_->dialect().skip_locked;
    Rows candidates = c.query(sql, p);
    if (candidates.empty()) return {};
    std::vector<std::int64_t> ids;
    std::unordered_map<std::int64_t, std::string> previous_state;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      ids.push_back(candidates.integer(i, 0));
      previous_state[ids.back()] = candidates.text(i, 1);
    }
    const TimePoint lease_end = now + req.lease;
    std::vector<Param> up{id_list(ids), req.worker_id, ms(lease_end), ms(now)};
    Rows r = c.query(sql_.claim_update, up);

    std::vector<ClaimedStep> claimed(r.size());
    std::set<std::int64_t> task_ids;
    std::unordered_map<std::int64_t, std::size_t> index_of;
    std::vector<std::int64_t> task_of(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      ClaimedStep& s = claimed[i];
      s.step_id = r.integer(i, 0);
      task_of[i] = r.integer(i, 1);
      s.step_uuid = r.text(i, 2);
      s.step_name = r.text(i, 3);
      s.callable = r.text(i, 4);
      s.initialization = parse_json(r.rows[i][5]);
      s.attempt = static_cast<int>(r.integer(i, 6));
      s.claim_token = r.integer(i, 7);
      s.retry = policy_from(r, i, 8);
      s.timeout_seconds = static_cast<int>(r.integer(i, 13));
      s.claimed_at = now;
      s.lease_expires_at = lease_end;
      task_ids.insert(task_of[i]);
      index_of[s.step_id] = i;
      ch.tasks[task_of[i]].started = true;
      ch.transition(task_of[i], s.step_id, previous_state[s.step_id], "in_progress", req.worker_id, "claimed",
                    s.attempt);
      ch.event(events::kStepStarted, task_of[i], s.step_name, {{"attempt", s.attempt}, {"worker_id", req.worker_id}});
    }
    Param tlist{id_list({task_ids.begin(), task_ids.end()})};
    Rows tasks = c.query(sql_.claim_tasks, {&tlist, 1});
    std::unordered_map<std::int64_t, std::size_t> task_row;
    std::unordered_map<std::int64_t, json> contexts;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      task_row[tasks.integer(i, 0)] = i;
      contexts[tasks.integer(i, 0)] = parse_json(tasks.rows[i][5]);
    }
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      std::size_t t = task_row.at(task_of[i]);
      claimed[i].task_uuid = tasks.text(t, 1);
      claimed[i].namespace_name = tasks.text(t, 2);
      claimed[i].task_name = tasks.text(t, 3);
      claimed[i].task_version = tasks.text(t, 4);
      claimed[i].context = contexts[task_of[i]];
    }
    Param slist{id_list(ids)};
    Rows deps = c.query(sql_.claim_dependency_results, {&slist, 1});
    for (std::size_t i = 0; i < deps.size(); ++i)
      claimed[index_of.at(deps.integer(i, 0))].dependency_results[deps.text(i, 1)] = parse_json(deps.rows[i][2]);
    return claimed;
  }

  /// Update the touched tasks from their deltas, derive their states, and
  /// write transitions; events are resolved to task uuids for publishing.
  std::vector<LifecycleEvent> finish(Connection& c, Changes& ch, TimePoint now, bool tasks_changed) {
    std::unordered_map<std::int64_t, std::string> uuids;
    if (!ch.tasks.empty()) {
      std::vector<std::int64_t> ids;
      for (const auto& [id, delta] : ch.tasks) ids.push_back(id);
      Param list{id_list(ids)};
      Rows r = c.query(sql_.lock_tasks, {&list, 1});
      json updates = json::array();
      for (std::size_t i = 0; i < r.size(); ++i) {
        const std::int64_t id = r.integer(i, 0);
        uuids[id] = r.text(i, 1);
        if (!tasks_changed) continue;
        const TaskDelta& d = ch.tasks[id];
        TaskState old_state = task_state_from(r.text(i, 2));
        int total = static_cast<int>(r.integer(i, 3));
        int completed = static_cast<int>(r.integer(i, 4)) + d.completed;
        int resolved = static_cast<int>(r.integer(i, 5)) + d.resolved;
        int failed = static_cast<int>(r.integer(i, 6)) + d.failed;
        int active = static_cast<int>(r.integer(i, 7)) + d.active;
        if (d.forced == TaskState::cancelled) active = 0;
        TaskState state = derive_task_state(old_state, d, total, completed, resolved, failed, active);
        bool counters_changed = d.completed || d.resolved || d.failed || d.active || d.forced;
        if (state == old_state && !counters_changed) continue;
        std::optional<std::int64_t> completed_at;
        if (is_terminal(state)) completed_at = ms(now);
        updates.push_back({id, std::string(to_string(state)), completed, resolved, failed, active,
                           completed_at ? json(*completed_at) : json(nullptr)});
        if (state != old_state) {
          std::string reason = d.reason;
          if (reason.empty())
            reason = state == TaskState::error ? "a step failed and nothing else can run"
                     : state == TaskState::in_progress && old_state != TaskState::pending ? "resumed"
                     : state == TaskState::in_progress                                    ? "first step started"
                                                                                          : "all steps complete";
          ch.transition(id, std::nullopt, to_string(old_state), to_string(state), ch.worker_id, reason, 0);
          if (state == TaskState::complete || state == TaskState::resolved_manually)
            ch.event(events::kTaskCompleted, id, "", {{"state", to_string(state)}});
          else if (state == TaskState::error)
            ch.event(events::kTaskFailed, id, "", {{"failed_steps", failed}});
        }
      }
      if (!updates.empty()) {
        std::vector<Param> p{updates.dump(), ms(now)};
        c.query(sql_.update_tasks, p);
      }
    }
    if (!ch.transitions.empty()) {
      json rows = json::array();
      std::int64_t seq = 0;
      for (const auto& t : ch.transitions)
        rows.push_back({seq++, t.task_id, t.step_id ? json(*t.step_id) : json(nullptr),
                        t.from_state.empty() ? json(nullptr) : json(t.from_state), t.to_state, t.worker_id, t.reason,
                        t.attempt});
      std::vector<Param> p{rows.dump(), ms(now)};
      c.query(sql_.insert_transitions, p);
    }
    if (ch.enqueued) backend_->notify_in_transaction(c);
    std::vector<LifecycleEvent> events;
    events.reserve(ch.events.size());
    for (auto& e : ch.events) {
      auto it = uuids.find(e.task_id);
      std::string task_uuid = it == uuids.end() ? std::string{} : it->second;
      e.payload["task_uuid"] = task_uuid;
      if (!e.step_name.empty()) e.payload["step_name"] = e.step_name;
      events.push_back({e.name, now, std::move(task_uuid), std::move(e.step_name), std::move(e.payload)});
    }
    return events;
  }

  static TaskState derive_task_state(TaskState old_state, const TaskDelta& d, int total, int completed, int resolved,
                                     int failed, int active) {
    if (d.forced) return *d.forced;
    if (old_state == TaskState::cancelled) return old_state;
    if (completed + resolved >= total) return resolved > 0 ? TaskState::resolved_manually : TaskState::complete;
    if (failed > 0 && active == 0) return TaskState::error;
    if (old_state == TaskState::pending && !d.started) return TaskState::pending;
    return TaskState::in_progress;
  }

  // -------------------------------------------------------------------------
  // Operator actions

  LockedStep lock_step(Connection& c, std::int64_t task_id, const std::string& task_uuid,
                       const std::string& step_name) {
    std::vector<Param> p{task_id, step_name};
    auto steps = locked_from(c.query(sql_.step_by_name, p));
    if (steps.empty())
      throw NotFoundError("step", step_name, fmt::format("task {} has no step with that name", task_uuid));
    return steps.front();
  }

  struct OperationOutput {
    OperatorResult result;
    bool enqueued{false};
  };

  template <typename F>
  OperatorResult operate(const std::string& task_uuid, std::optional<std::string> step_name, TimePoint now,
                         F&& action) {
    OperationOutput done = transact([&](Connection& c) {
      Param u{task_uuid};
      Rows t = c.query(sql_.task_id_by_uuid, {&u, 1});
      if (t.empty()) throw NotFoundError("task", task_uuid, "list tasks with `tasker list`");
      Changes ch;
      ch.worker_id = "";
      std::int64_t task_id = t.integer(0, 0);
      TaskState state = task_state_from(t.text(0, 1));
      if (state == TaskState::cancelled && step_name)
        throw InvalidRequestError(fmt::format("task {} is cancelled: its steps can no longer change", task_uuid));
      OperationOutput out;
      std::optional<std::string> touched = action(c, task_id, state, ch);
      ch.tasks[task_id];
      out.result.events = finish(c, ch, now, true);
      out.enqueued = ch.enqueued;
      // The views are read inside the transaction: they show the operation's
      // effect, not whatever a worker did right after the commit.
      out.result.task = std::move(load_task(c, task_uuid, now).value());
      if (touched)
        for (auto& s : load_steps(c, task_uuid))
          if (s.name == *touched) out.result.step = std::move(s);
      return out;
    });
    if (done.enqueued) notify_local();
    return std::move(done.result);
  }

  OperatorResult satisfy_manually(const std::string& task_uuid, const std::string& step_name, StepState target,
                                  const std::optional<json>& result, const std::string& reason, TimePoint now) {
    return operate(task_uuid, step_name, now, [&](Connection& c, std::int64_t task_id, TaskState, Changes& ch) {
      LockedStep s = lock_step(c, task_id, task_uuid, step_name);
      if (s.state == StepState::in_progress)
        throw InvalidRequestError(fmt::format(
            "step `{}` of task {} is running on worker {}: wait for it to finish, or for its lease to expire",
            step_name, task_uuid, s.worker_id));
      if (is_terminal(s.state) && s.state != StepState::error)
        throw InvalidRequestError(
            fmt::format("step `{}` of task {} is already {}", step_name, task_uuid, to_string(s.state)));
      apply_updates(c, {{s.id, target, result, std::nullopt, 0, std::nullopt, ms(now)}}, now);
      ch.transition(task_id, s.id, to_string(s.state), to_string(target), "", reason, s.attempts);
      json payload = {{"attempt", s.attempts}, {"manual", true}, {"reason", reason}};
      if (result) payload["result"] = *result;
      ch.event(events::kStepCompleted, task_id, step_name, payload);
      TaskDelta& d = ch.tasks[task_id];
      (target == StepState::complete ? d.completed : d.resolved) += 1;
      if (s.state == StepState::error) d.failed -= 1;
      if (s.state == StepState::enqueued || s.state == StepState::waiting_for_retry) d.active -= 1;
      advance_children(c, {s.id}, now, ch);
      return std::optional<std::string>{step_name};
    });
  }

  // -------------------------------------------------------------------------
  // Reads

  std::optional<TaskView> load_task(Connection& c, const std::string& task_uuid, TimePoint now) {
    Param u{task_uuid};
    Rows r = c.query(sql_.task_by_uuid, {&u, 1});
    if (r.empty()) return std::nullopt;
    std::vector<TaskView> views{task_from_row(r, 0)};
    std::vector<std::int64_t> ids{r.integer(0, 0)};
    fill_counts(c, ids, views, now);
    return std::move(views.front());
  }

  std::vector<StepView> load_steps(Connection& c, const std::string& task_uuid) {
    Param u{task_uuid};
    Rows r = c.query(sql_.steps_of_task, {&u, 1});
    std::vector<StepView> out;
    out.reserve(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) out.push_back(step_from_row(r, i));
    return out;
  }

  TaskView task_from_row(const Rows& r, std::size_t i) const {
    TaskView v;
    v.uuid = r.text(i, 1);
    v.namespace_name = r.text(i, 2);
    v.name = r.text(i, 3);
    v.version = r.text(i, 4);
    v.state = task_state_from(r.text(i, 5));
    v.context = parse_json(r.rows[i][6]);
    v.initiator = r.text_or(i, 7, "");
    v.source_system = r.text_or(i, 8, "");
    v.reason = r.text_or(i, 9, "");
    json tags = parse_json(r.rows[i][10]);
    if (tags.is_array())
      for (const auto& t : tags) v.tags.push_back(t.get<std::string>());
    v.priority = static_cast<int>(r.integer(i, 11));
    v.correlation_id = r.text_or(i, 12, "");
    if (!r.is_null(i, 13)) v.idempotency_key = r.text(i, 13);
    if (!r.is_null(i, 14)) v.identity_hash = r.text(i, 14);
    json bypassed = parse_json(r.rows[i][15]);
    if (bypassed.is_array())
      for (const auto& b : bypassed) v.bypassed_steps.push_back(b.get<std::string>());
    v.created_at = from_epoch_ms(r.integer(i, 16));
    v.updated_at = from_epoch_ms(r.integer(i, 17));
    if (auto t = r.optional_integer(i, 18)) v.completed_at = from_epoch_ms(*t);
    v.counts.total = static_cast<int>(r.integer(i, 19));
    return v;
  }

  void fill_counts(Connection& c, const std::vector<std::int64_t>& ids, std::vector<TaskView>& views, TimePoint now) {
    if (ids.empty()) return;
    std::unordered_map<std::int64_t, TaskView*> by_id;
    for (std::size_t i = 0; i < ids.size(); ++i) by_id[ids[i]] = &views[i];
    std::vector<Param> p{id_list(ids), ms(now)};
    Rows r = c.query(sql_.step_counts, p);
    for (std::size_t i = 0; i < r.size(); ++i) {
      TaskView& v = *by_id.at(r.integer(i, 0));
      int n = static_cast<int>(r.integer(i, 2));
      int due = static_cast<int>(r.optional_integer(i, 3).value_or(0));
      switch (state_from(r.text(i, 1))) {
        case StepState::pending: v.counts.pending += n; break;
        case StepState::enqueued: v.counts.ready += n; break;
        case StepState::in_progress: v.counts.in_progress += n; break;
        case StepState::waiting_for_retry:
          v.counts.waiting_for_retry += n;
          v.counts.ready += due;
          break;
        case StepState::complete:
        case StepState::resolved_manually: v.counts.completed += n; break;
        case StepState::error: v.counts.failed += n; break;
        case StepState::cancelled: v.counts.cancelled += n; break;
      }
    }
    for (auto& v : views) derive_statuses(v);
  }

  static StepView step_from_row(const Rows& r, std::size_t i) {
    StepView v;
    v.step_uuid = r.text(i, 1);
    v.name = r.text(i, 2);
    v.callable = r.text(i, 3);
    v.state = state_from(r.text(i, 4));
    json deps = parse_json(r.rows[i][5]);
    if (deps.is_array())
      for (const auto& d : deps) v.dependencies.push_back(d.get<std::string>());
    v.attempts = static_cast<int>(r.integer(i, 6));
    v.retry_count = std::max(v.attempts - 1, 0);
    v.retry = policy_from(r, i, 7);
    v.max_attempts = v.retry.max_attempts;
    v.retryable = v.retry.retryable;
    v.timeout_seconds = static_cast<int>(r.integer(i, 12));
    if (!r.is_null(i, 13)) v.results = parse_json(r.rows[i][13]);
    if (!r.is_null(i, 14)) v.error = failure_from_json(parse_json(r.rows[i][14]));
    v.worker_id = r.text_or(i, 15, "");
    v.created_at = from_epoch_ms(r.integer(i, 16));
    if (auto t = r.optional_integer(i, 17)) v.last_attempted_at = from_epoch_ms(*t);
    if (auto t = r.optional_integer(i, 18)) v.completed_at = from_epoch_ms(*t);
    if (v.state == StepState::waiting_for_retry)
      if (auto t = r.optional_integer(i, 19)) v.next_retry_at = from_epoch_ms(*t);
    if (v.state == StepState::in_progress)
      if (auto t = r.optional_integer(i, 20)) v.lease_expires_at = from_epoch_ms(*t);
    v.task_uuid = r.text(i, 21);
    return v;
  }

  // -------------------------------------------------------------------------
  // Wake-ups

  void notify_local() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(listeners_mutex_);
      for (const auto& [id, cb] : listeners_) callbacks.push_back(cb);
    }
    for (const auto& cb : callbacks) cb();
  }

  std::unique_ptr<Backend> backend_;
  StoreOptions options_;
  Pool pool_;
  Statements sql_;
  std::mutex listeners_mutex_;
  std::map<std::size_t, std::function<void()>> listeners_;
  std::size_t next_listener_{1};
};

}  // namespace

std::shared_ptr<Store> make_sql_store(std::unique_ptr<Backend> backend, const StoreOptions& options) {
  auto store = std::make_shared<SqlStore>(std::move(backend), options);
  if (options.migrate) store->migrate();
  store->start_listening();
  return store;
}

}  // namespace tasker::detail::sql
