#pragma once
// The worker's inside (Worker::Impl), in two parts: its lifecycle, which starts
// and stops the coordinator and the handler threads (worker.cpp), and the
// coordinator's rounds (coordinator.cpp), the one thread that talks to the store.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/dead_letter_sweeper.hpp"
#include "engine/handler_threads.hpp"
#include "engine/retention_purger.hpp"
#include "engine/schedule_firer.hpp"
#include "tasker/clock.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"
#include "tasker/worker.hpp"

namespace tasker {

namespace detail {

/// A claimed step while its handler runs.
struct Flight {
  TimePoint deadline;
  std::shared_ptr<std::atomic<bool>> cancelled;
  bool decided{false};  ///< its outcome was already sent (timeout or release): the late one is dropped
};

/// What the coordinator carries from one round to the next.
struct LoopState {
  TimePoint next_heartbeat;
  TimePoint next_reclaim;
  TimePoint next_poll;
  std::optional<TimePoint> due_at;         ///< the earliest retry the store knows of
  std::optional<TimePoint> stop_deadline;  ///< stopping: when the grace for running handlers ends
  bool more{true};                         ///< the last claim was full: claim again at once
  std::vector<StepOutcome> unsent;         ///< outcomes whose transaction failed: sent again
  int failures{0};                         ///< database errors in a row
  std::chrono::milliseconds pause{200};    ///< before the next try after an error
};

/// What one round of the coordinator sees and does.
struct Round {
  TimePoint t;
  std::vector<StepOutcome> batch;     ///< outcomes to record
  std::vector<FlightKey> heartbeats;  ///< leases handlers asked to renew
  std::vector<CheckpointRequest> checkpoints;
  std::vector<ResultRequest> lookups;
  bool signal{false};  ///< the store said work may be available
  bool stop{false};
  int free{0};  ///< handler threads without a step, before this round's claim
  bool claimed_nothing{false};
};

enum class Next { exit, round, sleep };

}  // namespace detail

class Worker::Impl {
 public:
  Impl(std::shared_ptr<Store> store, std::shared_ptr<const HandlerRegistry> handlers, WorkerOptions options,
       std::shared_ptr<EventBus> events);
  ~Impl() { stop(); }

  void start();
  void request_stop();
  void stop();
  void run_until_idle();
  [[nodiscard]] std::unique_ptr<detail::DeadLetterSweeper> make_dead_letter_sweeper() const;

  const std::string& id() const { return options_.worker_id; }
  WorkerStats stats() const;
  bool running() const;
  std::string failure() const;

 private:
  enum class Mode { idle, background, foreground, stopped };

  void start_handlers();
  void stop_handlers();
  void guarded_loop();

  TimePoint now() const { return options_.clock->now(); }
  bool polling() const { return options_.event_mode != EventMode::event_driven; }

  // -------------------------------------------------------------------------
  // The coordinator's loop (coordinator.cpp): gather what arrived, record it and
  // claim in one transaction, renew leases, then sleep until something happens.

  void loop(bool until_idle);
  /// Take what arrived (outcomes, heartbeat requests, signals); fail steps
  /// past their deadline; when stopping and out of grace, hand the rest back.
  detail::Round begin_round(detail::LoopState& st);
  /// Record the round's outcomes and, when due, reclaim expired leases and
  /// claim new steps, in one transaction. False when the database failed:
  /// the outcomes are kept to be sent again (fencing makes a repeat harmless,
  /// even when the failed commit was in doubt).
  bool exchange(detail::LoopState& st, detail::Round& r);
  void keep_unsent(detail::LoopState& st, detail::Round& r, const StorageError& e, bool transient);
  /// How long to wait after the `failures`th database error in a row: 200 ms
  /// after a transient one (the store has already spent about a second trying
  /// it again); after one that lasts (a schema this build does not know, a
  /// revoked grant), 200 ms doubling up to 10 s or a third of the lease,
  /// whichever is less, so a try still comes as often as a lease's renewal would.
  [[nodiscard]] std::chrono::milliseconds error_pause(int failures, bool transient) const;
  void pause_after_error(const detail::LoopState& st, const detail::Round& r);
  /// Record outcomes singly; one the database rejects, or that cannot be
  /// serialised, becomes a permanent failure of its step (it will not become
  /// storable). Returns what still could not be recorded, to be sent again.
  std::vector<StepOutcome> record_one_by_one(std::vector<StepOutcome> batch, TimePoint t);
  /// Renew the leases of running steps every heartbeat_interval, and those
  /// handlers asked for now. A lease found lost cancels its handler (its
  /// result will be fenced out).
  void renew_leases(detail::LoopState& st, const detail::Round& r);
  /// Handlers' checkpoints (saved in one statement that also renews their
  /// leases) and result lookups. A database error leaves the checkpoints for
  /// the next round; a lookup gets the error, which fails its attempt as retryable.
  void serve_requests(detail::Round& r);
  /// The round's transaction failed before its requests were served: keep them for the next.
  void requeue_requests(detail::Round& r);
  /// After a round: leave the loop, go round again at once, or sleep.
  detail::Next next_step(const detail::LoopState& st, const detail::Round& r, bool until_idle);
  /// Sleep until a result, a notification, a heartbeat request, a stop, or the next timer.
  void sleep(const detail::LoopState& st, const detail::Round& r);

  void publish(ExchangeResult& r);
  void publish(ExchangeResult&& r) { publish(r); }
  void count_outcome(const StepOutcome& o);
  void count_discarded(std::uint64_t n);
  void dispatch(std::vector<ClaimedStep>& claimed);
  /// Take the signal and sleep steps out of `claimed` and have them wait (or
  /// finish at once); returns the earliest time one of them wakes.
  std::optional<TimePoint> wait_steps(std::vector<ClaimedStep>& claimed, TimePoint t);
  /// Wake the waiting steps whose time came, in bounded batches; false when more remain.
  bool wake_pass(TimePoint t);
  /// A step past its timeout: its attempt fails now (retryable, error_type
  /// timeout); the handler is told to cancel and its late result is dropped.
  void enforce_deadlines(TimePoint t, std::vector<StepOutcome>& batch);
  /// The worker itself settles an attempt (timeout, release): the handler is
  /// told to cancel, and whatever it returns later is dropped.
  static StepOutcome decide(const detail::FlightKey& key, detail::Flight& f, StepOutcome::Kind kind);
  /// Stopping and out of grace: hand the steps back unrun; late results are dropped.
  void release_all(std::vector<StepOutcome>& batch);

  std::shared_ptr<Store> store_;
  std::shared_ptr<const HandlerRegistry> handlers_;
  WorkerOptions options_;
  std::shared_ptr<EventBus> events_;
  WorkFilter filter_;
  bool jitter_{true};

  std::shared_ptr<detail::Shared> shared_ = std::make_shared<detail::Shared>();
  std::shared_ptr<void> subscription_;
  std::vector<std::thread> threads_;
  std::thread coordinator_;
  std::unique_ptr<detail::ScheduleFirer> schedules_;         ///< when options_.fire_schedules
  std::unique_ptr<detail::RetentionPurger> retention_;       ///< when options_.apply_retention and a policy
  std::unique_ptr<detail::DeadLetterSweeper> dead_letters_;  ///< when options_.dead_letters
  std::map<detail::FlightKey, detail::Flight> in_flight_;    // coordinator thread only

  mutable std::mutex lifecycle_;
  Mode mode_{Mode::idle};
  std::string failure_;  ///< set when the loop ended on an unexpected error
  mutable std::mutex stats_mutex_;
  WorkerStats stats_;
};

}  // namespace tasker
