#pragma once
// Workers run steps (docs/design.md, "Claiming, leases, fencing"): they claim steps
// whose handler they have, run them on N threads, record results in batches,
// renew leases, fail steps whose lease expired, and wake on new work.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/config.hpp"
#include "tasker/dlq.hpp"
#include "tasker/events.hpp"
#include "tasker/handler.hpp"
#include "tasker/limits.hpp"
#include "tasker/retention.hpp"
#include "tasker/store.hpp"

namespace tasker {

struct WorkerOptions {
  std::string worker_id;  ///< default: host:pid:random
  int concurrency{4};     ///< handler threads
  int batch_size{16};     ///< most steps claimed per transaction
  std::chrono::milliseconds lease{30'000};
  std::chrono::milliseconds heartbeat_interval{0};  ///< default lease/3; negative disables (tests of fencing)
  std::chrono::milliseconds reclaim_interval{0};    ///< how often to look for expired leases; default lease/2
  EventMode event_mode{EventMode::hybrid};
  std::chrono::milliseconds fallback_interval{1'000};
  std::chrono::milliseconds stop_grace{10'000};  ///< stop(): how long running handlers may finish
  std::vector<std::string> namespaces;           ///< empty: all
  std::vector<std::string> task_uuids;           ///< only steps of these tasks; empty: all
  /// Randomise retry delays (docs/design.md, "Retry semantics"). Default: on,
  /// except when TASKER_ENV is `test`.
  std::optional<bool> jitter;
  const Clock* clock{&SystemClock::instance()};
  JsonLimits limits{};  ///< a handler's result beyond these fails its attempt as invalid_result (docs/limits.md)
  /// Fire due cron schedules from this worker (docs/schedules.md; worker.schedules
  /// in configuration). Every worker process may: each tick still creates one task.
  bool fire_schedules{true};
  /// How often the schedule thread looks for schedules created or changed by
  /// others; it also wakes at the earliest next tick it knows.
  std::chrono::milliseconds schedule_poll_interval{1'000};
  /// catch-up none: a tick fired later than this after its time is dropped (FireRequest::misfire_grace).
  std::chrono::milliseconds schedule_misfire_grace{60'000};
  /// Purge the finished tasks `retention` no longer keeps, in the background
  /// (docs/retention.md; worker.retention in configuration). Every worker
  /// process may: batches skip the rows another holds. Nothing runs while the
  /// policy is empty.
  bool apply_retention{true};
  RetentionPolicy retention;                             ///< the configuration's `retention` section
  std::chrono::milliseconds retention_interval{60'000};  ///< how often the policy is applied
  int retention_batch_size{200};                         ///< tasks a purge transaction deletes, 1..1000
  std::chrono::milliseconds retention_pause{100};        ///< after each purge transaction (PurgeRequest::pause)
  /// Make dead-letter entries in the background (docs/triage.md;
  /// worker.dead_letters in configuration): for tasks that ended in error, and
  /// for stale ones when detect_staleness. Also once when the worker stops and
  /// at the end of run_until_idle. Every worker process may: one entry per task.
  bool dead_letters{true};
  StalenessThresholds staleness;                           ///< the configuration's `dlq.staleness`; each > 0
  bool detect_staleness{true};                             ///< dlq.detect_staleness
  std::chrono::milliseconds dead_letter_interval{10'000};  ///< dlq.interval: how often this worker looks

  /// Settings from configuration (concurrency, batch, lease, event mode, jitter, limits).
  static WorkerOptions from(const Config& config);
  /// Throws InvalidRequestError naming the first unusable setting (the Worker constructor calls it).
  void validate() const;
};

struct WorkerStats {
  std::uint64_t claimed{0};
  std::uint64_t succeeded{0};
  std::uint64_t failed{0};     ///< attempts that failed (retried or not)
  std::uint64_t discarded{0};  ///< results not recorded: fenced out, or late (after a timeout or a release)
  std::uint64_t reclaimed{0};  ///< expired leases this worker failed as worker_lost
  std::uint64_t transactions{0};
};

/// Owns its threads; thread-safe. The destructor stops the worker.
class Worker {
 public:
  Worker(std::shared_ptr<Store> store, std::shared_ptr<const HandlerRegistry> handlers, WorkerOptions options = {},
         std::shared_ptr<EventBus> events = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Run in background threads until stop().
  void start();
  /// Stop claiming, let running handlers finish (up to stop_grace; then they
  /// are told to cancel and their steps are handed back), record every result,
  /// and join the threads. Idempotent.
  void stop();
  /// Ask to stop without waiting (safe from a signal-handling thread).
  void request_stop();
  /// Run in the calling thread until no step this worker can run is claimable
  /// now or waiting for a retry, and nothing is running. Cannot be combined with start().
  void run_until_idle();

  [[nodiscard]] const std::string& id() const;
  [[nodiscard]] WorkerStats stats() const;
  /// True from start() (or during run_until_idle()) until a stop is requested
  /// (request_stop() or stop()), and false if its loop ended on an unexpected
  /// error (see failure()).
  [[nodiscard]] bool running() const;
  /// Why the worker's loop ended unexpectedly; empty while it runs or after a normal stop.
  [[nodiscard]] std::string failure() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tasker
