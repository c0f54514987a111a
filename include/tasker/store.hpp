#pragma once
// The storage interface (docs/architecture.md, "Layers"): every method that
// changes state is one transaction. Implementations: SQLite (`sqlite://...`,
// the embedded default) and PostgreSQL (`postgresql://...`). The engine
// (Worker, Client) is the only intended caller; host applications use Client
// and Worker, and open_store() to choose the database.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/dlq.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/json.hpp"
#include "tasker/lifecycle.hpp"
#include "tasker/retention.hpp"
#include "tasker/schedule.hpp"
#include "tasker/task.hpp"
#include "tasker/template.hpp"

namespace tasker {

/// A step handed to a worker. `claim_token` fences its result: the result is
/// recorded only while the token is still the step's current one.
struct ClaimedStep {
  std::int64_t step_id{0};
  std::int64_t claim_token{0};
  std::string step_uuid;
  std::string step_name;
  std::string task_uuid;
  std::string namespace_name;
  std::string task_name;
  std::string task_version;
  std::string callable;
  json initialization = json::object();
  json context = json::object();
  json dependency_results = json::object();  ///< step name -> result
  int attempt{1};                            ///< this attempt's number, 1-based
  StepType type{StepType::standard};
  json checkpoint;                            ///< the last checkpoint saved by an earlier attempt; null when none
  std::optional<StepFailure> previous_error;  ///< why the attempt before this one failed
  RetryPolicy retry;
  int timeout_seconds{kDefaultTimeoutSeconds};
  TimePoint claimed_at;
  TimePoint lease_expires_at;
};

/// What a worker reports for a claimed step.
struct StepOutcome {
  enum class Kind {
    success,  ///< result recorded, dependents advance
    failure,  ///< retried or failed per the step's policy and failure.retryable
    release,  ///< handed back unrun (worker stopping): attempt not counted
  };
  std::int64_t step_id{0};
  std::int64_t claim_token{0};
  Kind kind{Kind::success};
  json result;
  StepFailure failure;
  std::optional<std::chrono::milliseconds> retry_after;
  /// A failure's random draw in [0, 1) for the retry delay's jitter; nullopt: no jitter.
  std::optional<double> jitter_unit;
};

/// Which steps a worker takes.
struct WorkFilter {
  std::vector<std::string> callables;   ///< only steps whose handler the worker has
  std::vector<std::string> namespaces;  ///< empty: all
  std::vector<std::string> task_uuids;  ///< empty: all
};

struct ClaimRequest {
  std::string worker_id;
  WorkFilter filter;
  int limit{1};
  std::chrono::milliseconds lease{30'000};
  bool reclaim_expired{false};  ///< first fail steps whose lease expired (worker_lost)
  bool jitter{true};            ///< randomise the retry delays of the steps reclaimed
};

struct ExchangeResult {
  std::vector<std::int64_t> discarded;  ///< outcomes fenced out (stale token, cancelled, reset)
  std::vector<ClaimedStep> claimed;
  std::size_t reclaimed{0};            ///< expired leases failed as worker_lost
  std::vector<LifecycleEvent> events;  ///< to publish; already committed
};

/// A checkpoint to save: the step, its claim's token, and the checkpoint
/// (cursor, items_processed, accumulated_results, saved_at).
struct CheckpointSave {
  std::int64_t step_id{0};
  std::int64_t claim_token{0};
  json checkpoint;
};

/// A lease to renew: the step and the token of the claim that holds it.
struct LeaseRef {
  std::int64_t step_id{0};
  std::int64_t claim_token{0};
};

/// The result of an operator action: the step (if one was named) and events.
struct OperatorResult {
  TaskView task;
  std::optional<StepView> step;
  std::vector<LifecycleEvent> events;
};

struct CreateResult {
  TaskView task;
  std::vector<LifecycleEvent> events;
};

/// A signal or sleep step a worker claimed, to wait without it
/// (docs/architecture.md, "Waiting steps"): the worker computed when it wakes.
struct Suspension {
  std::int64_t step_id{0};
  std::int64_t claim_token{0};
  std::optional<TimePoint> wake_at;  ///< nullopt: for ever (a signal without a timeout)
  std::string signal;                ///< a signal step: the signal's name; empty for a sleep
};

struct SuspendResult {
  std::vector<std::int64_t> discarded;  ///< fenced out (stale token, cancelled)
  std::vector<LifecycleEvent> events;
};

/// Waiting steps that woke (their time came) in one pass.
struct WakeResult {
  std::size_t woken{0};
  std::vector<LifecycleEvent> events;
};

/// A signal to a task (Client::signal).
struct SignalDelivery {
  std::string task_uuid;
  std::string name;
  json payload = json::object();
  std::optional<std::string> key;  ///< the same key twice is delivered once
  std::string sender;              ///< who sent it, for the audit trail
};

/// What became of a signal.
enum class SignalStatus {
  delivered,  ///< a step waiting for it completed with its payload
  buffered,   ///< kept until a step of the task waits for it
  duplicate,  ///< its key was seen before: nothing changed
};
[[nodiscard]] std::string_view to_string(SignalStatus status);

struct SignalResult {
  SignalStatus status{SignalStatus::delivered};
  std::vector<LifecycleEvent> events;
};

/// A store's connection pool now (/health/detailed).
struct PoolUsage {
  int size{0};    ///< connections it may open (StoreOptions::pool_size)
  int open{0};    ///< open now
  int in_use{0};  ///< handed out now
};

/// Everything that changes state takes `now` from the caller's Clock, so time
/// is injectable. Implementations are thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  /// "sqlite" or "postgresql".
  [[nodiscard]] virtual std::string backend() const = 0;
  /// The URL with any password masked, for messages.
  [[nodiscard]] virtual std::string describe() const = 0;
  /// Apply pending schema migrations (open_store does this); safe to repeat and
  /// to run from many processes at once.
  virtual void migrate() = 0;
  [[nodiscard]] virtual int schema_version() = 0;

  /// Create a task, its steps and edges from `tmpl` in one transaction.
  /// `identity_hash` empty: never deduplicated. Throws DuplicateTaskError.
  virtual CreateResult create_task(const TaskTemplate& tmpl, const TaskRequest& request,
                                   const std::optional<std::string>& identity_hash, TimePoint now) = 0;

  [[nodiscard]] virtual std::optional<TaskView> find_task(const std::string& task_uuid, TimePoint now) = 0;
  [[nodiscard]] virtual TaskPage list_tasks(const TaskFilter& filter, TimePoint now) = 0;
  /// Tasks and steps in active states, database-wide (ActivityCounts).
  [[nodiscard]] virtual ActivityCounts activity(TimePoint now) = 0;
  /// The task with its steps, in one snapshot; nullopt when it does not exist.
  [[nodiscard]] virtual std::optional<TaskSnapshot> find_task_with_steps(const std::string& task_uuid,
                                                                         TimePoint now) = 0;
  [[nodiscard]] virtual std::vector<Transition> transitions(const std::string& task_uuid,
                                                            const std::optional<std::string>& step_name) = 0;

  /// Record outcomes and (when `claim` is given) claim new steps, in one transaction.
  virtual ExchangeResult exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim,
                                  TimePoint now) = 0;
  /// Extend leases still held; returns the steps whose claim was lost.
  virtual std::vector<std::int64_t> renew_leases(const std::vector<LeaseRef>& leases, TimePoint expires_at) = 0;
  /// Save checkpoints of running steps and extend their leases, fenced by
  /// claim token; returns the steps whose claim was lost (nothing saved).
  virtual std::vector<std::int64_t> save_checkpoints(const std::vector<CheckpointSave>& saves,
                                                     TimePoint lease_expires_at) = 0;
  /// The result of a task's step, when that step has completed (or was
  /// resolved manually: null); nullopt when it has not or does not exist.
  [[nodiscard]] virtual std::optional<json> step_result(const std::string& task_uuid, const std::string& step_name) = 0;
  /// The earliest time a step that `filter` admits becomes claimable
  /// (enqueued or waiting_for_retry), or a waiting step wakes (when the
  /// filter admits the waiting steps' callables), or nullopt when none is.
  [[nodiscard]] virtual std::optional<TimePoint> next_due(const WorkFilter& filter) = 0;

  // Waiting steps (docs/architecture.md, "Waiting steps").

  /// Move claimed signal or sleep steps to waiting (fenced by claim token),
  /// letting go of their lease. A signal step whose signal is already kept
  /// (buffered) completes with it instead, in the same transaction.
  virtual SuspendResult suspend(const std::vector<Suspension>& steps, TimePoint now) = 0;
  /// Wake up to `limit` waiting steps whose wake_at has passed: a sleep
  /// completes (`{"slept_until": ...}`), a signal's timeout completes with its
  /// on_timeout_result or fails (error_type signal_timeout). Workers running
  /// at once share the work (SKIP LOCKED on PostgreSQL).
  virtual WakeResult wake_due(int limit, TimePoint now) = 0;
  /// Deliver a signal to a task: complete the step waiting for it, or keep it
  /// for the step that will. Throws NotFoundError (no task, or no signal step
  /// of that name), InvalidRequestError (the task is finished or cancelled).
  virtual SignalResult deliver_signal(const SignalDelivery& signal, TimePoint now) = 0;

  // Operator actions (docs/design.md, "States"). Throw NotFoundError or InvalidRequestError.
  virtual OperatorResult cancel_task(const std::string& task_uuid, const std::string& reason, TimePoint now) = 0;
  virtual OperatorResult reset_step(const std::string& task_uuid, const std::string& step_name,
                                    const std::string& reason, TimePoint now) = 0;
  virtual OperatorResult resolve_step(const std::string& task_uuid, const std::string& step_name,
                                      const std::string& reason, TimePoint now) = 0;
  virtual OperatorResult complete_step(const std::string& task_uuid, const std::string& step_name, const json& result,
                                       const std::string& reason, TimePoint now) = 0;
  /// Client::rerun_step. Not pure, so that a Store of your own keeps compiling:
  /// the default throws InvalidRequestError.
  virtual OperatorResult rerun_step(const std::string& task_uuid, const std::string& step_name,
                                    const std::string& reason, TimePoint now);

  /// Call `callback` (from any thread) whenever work may have become available:
  /// a commit in this process enqueued steps, or (PostgreSQL) a NOTIFY arrived
  /// from another process. Returns a handle; the subscription ends when it is destroyed.
  [[nodiscard]] virtual std::shared_ptr<void> on_work_available(std::function<void()> callback) = 0;
  /// Call `callback` (from any thread) with the uuids of tasks that reached a
  /// final state (complete, error, cancelled, resolved_manually): in this
  /// process's commits, or (PostgreSQL) another process's for the tasks someone
  /// watches (watch_task). Returns a handle as above.
  [[nodiscard]] virtual std::shared_ptr<void> on_tasks_finished(
      std::function<void(const std::vector<std::string>& task_uuids)> callback) = 0;
  /// Ask other processes to announce the end of this task (PostgreSQL: their
  /// commit NOTIFYs only for watched tasks, since every notifying commit waits
  /// for the one before it) until `until` or until the handle is destroyed;
  /// `until` and `now` are on the clock the workers pass to exchange.
  /// Stores without cross-process notifications return nullptr.
  /// Client::wait_for_task watches the task it waits for.
  [[nodiscard]] virtual std::shared_ptr<void> watch_task(const std::string& task_uuid, TimePoint until, TimePoint now) {
    (void)task_uuid;
    (void)until;
    (void)now;
    return nullptr;
  }

  // Schedules (docs/schedules.md). Client validates what these store; the
  // defaults throw InvalidRequestError, for stores that keep no schedules.

  /// Store a new schedule. Throws InvalidRequestError when its name is taken.
  virtual ScheduleView create_schedule(const ScheduleRecord& schedule, TimePoint now);
  [[nodiscard]] virtual std::optional<ScheduleRecord> find_schedule(const std::string& name);
  /// Every schedule, by name.
  [[nodiscard]] virtual std::vector<ScheduleView> list_schedules();
  /// Replace a schedule's definition (cron, time zone, context, policies,
  /// paused) and its next tick, leaving its last tick and task as they are.
  /// Throws NotFoundError.
  virtual ScheduleView update_schedule(const ScheduleRecord& schedule, TimePoint now);
  /// False when there was no such schedule. Its tasks stay.
  virtual bool delete_schedule(const std::string& name);
  /// Fire the schedules due at `now` (next tick <= now, not paused): for each,
  /// in one transaction, lock its row (others skip it), create the tasks its
  /// catch-up and overlap policies call for, and advance its next tick. Each
  /// tick creates at most one task however many processes fire at once.
  virtual FireResult fire_schedules(const FireRequest& request, TimePoint now);
  /// Create a task from the schedule now, outside its cron (an operator's
  /// trigger); its tick is `now`. Throws NotFoundError.
  virtual CreateResult trigger_schedule(const std::string& name, TimePoint now);
  /// The earliest next tick of the unpaused schedules, or nullopt.
  [[nodiscard]] virtual std::optional<TimePoint> next_schedule_tick();

  // Retention (docs/retention.md). Client::purge runs these in bounded
  // batches; the defaults throw InvalidRequestError, for stores that purge nothing.

  /// How many tasks `selection` names now.
  [[nodiscard]] virtual std::size_t count_purgeable(const PurgeSelection& selection);
  /// One transaction: lock up to `limit` tasks of `selection` that no other
  /// transaction holds (SKIP LOCKED on PostgreSQL: never waits on a worker),
  /// hand their archive records to `archive` (when set) before deleting them
  /// with their steps, edges, transitions and signals, and commit. Returns
  /// how many went; 0 when none is left. `archive` throwing deletes nothing.
  virtual PurgeBatch purge_batch(const PurgeSelection& selection, int limit, const ArchiveSink& archive);
  /// Insert archived tasks (records checked by Client::import_archive) in one
  /// transaction, with new ids; a task whose uuid exists already is skipped.
  virtual ImportResult import_archived(const std::vector<json>& records);

  // Dead letters (docs/triage.md). Workers make entries in the background
  // (WorkerOptions::dead_letters); the defaults throw InvalidRequestError, for
  // stores that keep none.

  /// One pass: an entry (dlq_reason max_retries_exceeded, or worker_unavailable
  /// when every failed step lost its worker) for each task in error since
  /// sweep.errored_since with no pending entry and none made since it failed;
  /// then, when sweep.detect_staleness, one (staleness_timeout) for each stale
  /// task with no pending entry and none made since its step stalled. At most
  /// sweep.limit of each; the writes are one short transaction, and two
  /// processes at once make one entry per task.
  virtual DeadLetterResult record_dead_letters(const DeadLetterSweep& sweep, TimePoint now);
  /// Entries, newest first.
  [[nodiscard]] virtual std::vector<DlqEntry> list_dlq(const DlqFilter& filter);
  /// The task's newest entry, or nullopt.
  [[nodiscard]] virtual std::optional<DlqEntry> find_dlq_entry(const std::string& task_uuid);
  /// The entry as updated; nullopt when no entry has that uuid. Leaving
  /// `pending` sets the resolution time; returning to it clears it, and throws
  /// ConflictError when the task has another pending entry.
  virtual std::optional<DlqEntry> update_dlq_entry(const std::string& entry_uuid, const DlqUpdate& update,
                                                   TimePoint now);
  /// Per reason, the most entries first.
  [[nodiscard]] virtual std::vector<DlqStats> dlq_stats();
  /// Pending entries, highest DlqQueueEntry::priority_score first.
  [[nodiscard]] virtual std::vector<DlqQueueEntry> dlq_investigation_queue(int limit, TimePoint now);
  /// Tasks with a step at least kStalenessWarningShare into its state's
  /// threshold, read live from the active steps, most stale first.
  [[nodiscard]] virtual std::vector<StalenessEntry> staleness(const StalenessThresholds& thresholds, int limit,
                                                              TimePoint now);

  /// The connection pool's use now; a store without one answers zeros.
  [[nodiscard]] virtual PoolUsage pool_usage() { return {}; }

  /// Compare what the store keeps derived with what it is derived from: each
  /// task's step counters against a recount of its steps' states, and
  /// `claimable_at` and the lease set exactly on the steps whose state is
  /// claimable or holds a worker (docs/architecture.md, "One state machine").
  /// Returns one line per violation, empty when the database is consistent.
  /// Reads every task and step: for tests and operators (`tasker doctor`),
  /// never the hot path. Stores that keep nothing derived return nothing.
  [[nodiscard]] virtual std::vector<std::string> check_consistency() { return {}; }
};

struct Config;  // tasker/config.hpp

// The deprecated members below warn where a program names them, not in the
// copies and default constructions the compiler writes for every user.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct StoreOptions {
  int pool_size{4};                   ///< connections per process
  long long busy_timeout_ms{10'000};  ///< SQLite: wait this long for the write lock
  /// Deprecated, kept at least through 0.2.x (CHANGELOG.md): jitter is a worker
  /// setting now. false still turns it off for every worker on this store; true
  /// (the default) leaves it to WorkerOptions::jitter.
  [[deprecated("use WorkerOptions::jitter (worker.jitter in configuration)")]] bool jitter{true};
  bool listen{true};   ///< PostgreSQL: LISTEN for cross-process wake-ups
  bool migrate{true};  ///< apply migrations on open
  /// SQLite: create the file when it does not exist. When false, open_store
  /// throws NotFoundError instead (for tools that only read or act on existing
  /// tasks, so a mistyped path is reported rather than silently created).
  bool create_if_missing{true};
  /// What one decision or batch may create (dynamic.max_steps_per_decision,
  /// dynamic.max_batch_workers); an outcome beyond fails its step.
  ExpansionLimits dynamic;

  /// Deprecated, kept at least through 0.2.x (CHANGELOG.md): Config::store_options(),
  /// with `jitter` from the configuration's worker.jitter, as before.
  [[deprecated("use Config::store_options()")]] static StoreOptions from(const Config& config);
};
#pragma GCC diagnostic pop

/// Open `sqlite://relative.db`, `sqlite:///absolute.db`, `sqlite::memory:` or
/// `postgresql://user:pass@host:port/db[?schema=name]`. Throws ConfigurationError
/// for a malformed URL, NotFoundError for a missing SQLite file when
/// `options.create_if_missing` is false, and StorageError when the database
/// cannot be opened.
[[nodiscard]] std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options = {});

}  // namespace tasker
