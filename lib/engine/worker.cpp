// The worker: one coordinator thread does all database work (record results
// and claim new steps in one transaction, renew leases, fail expired leases,
// enforce timeouts); N handler threads only run handlers. Handler threads share
// nothing with the coordinator but a queue, so a slow handler never delays
// recording another step's result, and the store is reached from one thread:
// a handler's heartbeat() only asks the coordinator to renew its lease.
#include "tasker/worker.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "base/log.hpp"
#include "engine/job.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"

namespace tasker {

WorkerOptions WorkerOptions::from(const Config& config) {
  WorkerOptions o;
  o.concurrency = config.worker.concurrency;
  o.batch_size = config.worker.batch_size;
  o.lease = std::chrono::milliseconds{config.worker.lease_ms};
  o.event_mode = config.worker.event_mode;
  o.fallback_interval = std::chrono::milliseconds{config.worker.fallback_interval_ms};
  o.jitter = config.worker.jitter;
  o.limits = config.limits.json;
  return o;
}

void WorkerOptions::validate() const {
  if (concurrency < 1) throw InvalidRequestError(fmt::format("worker concurrency {} must be at least 1", concurrency));
  if (batch_size < 1) throw InvalidRequestError(fmt::format("worker batch_size {} must be at least 1", batch_size));
  if (lease < std::chrono::milliseconds{100})
    throw InvalidRequestError(fmt::format("the worker lease ({} ms) must be at least 100 ms", lease.count()));
  if (heartbeat_interval >= lease)
    throw InvalidRequestError(fmt::format("the heartbeat interval ({} ms) must be shorter than the lease ({} ms)",
                                          heartbeat_interval.count(), lease.count()));
  for (const auto& uuid : task_uuids)
    if (!is_uuid(uuid)) throw InvalidRequestError(fmt::format("worker task filter: `{}` is not a task uuid", uuid));
}

namespace {

using detail::Job;
using std::chrono::milliseconds;
using FlightKey = std::pair<std::int64_t, std::int64_t>;  // step id, claim token

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return fmt::format("{}:{}:{}", host, getpid(), new_uuid().substr(0, 8));
}

/// A handler's checkpoint, waiting for the coordinator to make it durable.
struct CheckpointRequest {
  FlightKey key;
  json checkpoint;
  std::promise<bool> saved;
};

/// A handler's read of another step's result (StepContext::ancestor_result).
struct ResultRequest {
  std::string task_uuid;
  std::string step_name;
  std::promise<std::optional<json>> result;
};

/// What handler threads and the coordinator share. Owned jointly, so a handler
/// thread that outlives stop() (it ignored cancellation) never dangles.
struct Shared {
  std::mutex mutex;
  std::condition_variable wake;  // the coordinator waits here
  std::condition_variable jobs_ready;
  std::deque<Job> jobs;
  std::vector<StepOutcome> outcomes;
  std::vector<FlightKey> heartbeats;  ///< leases handlers asked to renew now
  std::vector<CheckpointRequest> checkpoints;
  std::vector<ResultRequest> lookups;
  bool serving{true};  ///< false once the coordinator has left its loop: requests fail at once
  bool work_signal{false};
  bool stop_requested{false};
  bool closing{false};
  std::size_t exited{0};

  void push_outcome(StepOutcome o) {
    {
      std::lock_guard lock(mutex);
      outcomes.push_back(std::move(o));
    }
    wake.notify_one();
  }
  void signal_work() {
    {
      std::lock_guard lock(mutex);
      work_signal = true;
    }
    wake.notify_one();
  }
  void request_heartbeat(FlightKey key) {
    {
      std::lock_guard lock(mutex);
      heartbeats.push_back(key);
    }
    wake.notify_one();
  }
  /// Blocks the handler thread until the coordinator saved it (or could not).
  bool save_checkpoint(FlightKey key, json checkpoint) {
    std::future<bool> saved;
    {
      std::lock_guard lock(mutex);
      if (!serving) return false;
      checkpoints.push_back({key, std::move(checkpoint), {}});
      saved = checkpoints.back().saved.get_future();
    }
    wake.notify_one();
    return saved.get();
  }
  std::optional<json> step_result(std::string task_uuid, std::string step_name) {
    std::future<std::optional<json>> result;
    {
      std::lock_guard lock(mutex);
      if (!serving) return std::nullopt;
      lookups.push_back({std::move(task_uuid), std::move(step_name), {}});
      result = lookups.back().result.get_future();
    }
    wake.notify_one();
    return result.get();
  }
  [[nodiscard]] bool has_requests() const { return !heartbeats.empty() || !checkpoints.empty() || !lookups.empty(); }
};

void handler_thread(const std::shared_ptr<Shared>& shared) {
  for (;;) {
    std::optional<Job> job;
    {
      std::unique_lock lock(shared->mutex);
      shared->jobs_ready.wait(lock, [&] { return !shared->jobs.empty() || shared->closing; });
      if (shared->jobs.empty()) break;
      job = std::move(shared->jobs.front());
      shared->jobs.pop_front();
    }
    shared->push_outcome(job->run());
  }
  std::lock_guard lock(shared->mutex);
  ++shared->exited;
  shared->wake.notify_all();
}

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

/// Jitter unless configured otherwise: on, except in the `test` environment.
bool resolve_jitter(const std::optional<bool>& configured) {
  return configured.value_or(default_environment() != "test");
}

}  // namespace

class Worker::Impl {
 public:
  Impl(std::shared_ptr<Store> store, std::shared_ptr<const HandlerRegistry> handlers, WorkerOptions options,
       std::shared_ptr<EventBus> events)
      : store_(std::move(store)),
        handlers_(std::move(handlers)),
        options_(std::move(options)),
        events_(std::move(events)) {
    if (!store_) throw InvalidRequestError("Worker needs a store (open one with open_store(url))");
    if (!handlers_) throw InvalidRequestError("Worker needs a HandlerRegistry");
    options_.validate();
    if (options_.worker_id.empty()) options_.worker_id = default_worker_id();
    if (options_.heartbeat_interval == milliseconds{0}) options_.heartbeat_interval = options_.lease / 3;
    if (options_.reclaim_interval <= milliseconds{0}) options_.reclaim_interval = options_.lease / 2;
    if (!options_.clock) options_.clock = &SystemClock::instance();
    jitter_ = resolve_jitter(options_.jitter);
    filter_ = {handlers_->callables(), options_.namespaces, options_.task_uuids};
  }

  ~Impl() { stop(); }

  void start() {
    std::lock_guard lock(lifecycle_);
    if (mode_ != Mode::idle) throw InvalidRequestError("this worker is already running");
    mode_ = Mode::background;
    start_handlers();
    coordinator_ = std::thread([this] { guarded_loop(); });
    detail::log().info("worker {} started ({} handler threads, {} callables)", options_.worker_id, options_.concurrency,
                       filter_.callables.size());
  }

  void request_stop() {
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stop_requested = true;
    }
    shared_->wake.notify_all();
  }

  void stop() {
    std::lock_guard lock(lifecycle_);
    if (mode_ != Mode::background) return;
    request_stop();
    if (coordinator_.joinable()) coordinator_.join();
    stop_handlers();
    mode_ = Mode::stopped;
    detail::log().info("worker {} stopped", options_.worker_id);
  }

  void run_until_idle() {
    {
      std::lock_guard lock(lifecycle_);
      if (mode_ == Mode::background) throw InvalidRequestError("run_until_idle() cannot be used after start()");
      mode_ = Mode::foreground;
      std::lock_guard inner(shared_->mutex);
      shared_->stop_requested = false;
      shared_->closing = false;
    }
    start_handlers();
    try {
      loop(true);
    } catch (...) {
      stop_handlers();
      std::lock_guard lock(lifecycle_);
      mode_ = Mode::idle;
      throw;
    }
    stop_handlers();
    std::lock_guard lock(lifecycle_);
    mode_ = Mode::idle;
  }

  const std::string& id() const { return options_.worker_id; }
  WorkerStats stats() const {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }
  bool running() const {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stop_requested) return false;
    }
    std::lock_guard lock(lifecycle_);
    return (mode_ == Mode::background || mode_ == Mode::foreground) && failure_.empty();
  }
  std::string failure() const {
    std::lock_guard lock(lifecycle_);
    return failure_;
  }

 private:
  enum class Mode { idle, background, foreground, stopped };

  void start_handlers() {
    {
      std::lock_guard lock(shared_->mutex);
      shared_->closing = false;
      shared_->exited = 0;
    }
    // polling_only means what it says: wake-ups (in-process or NOTIFY) are
    // ignored, and work is found by the fallback poll alone.
    if (options_.event_mode != EventMode::polling_only)
      subscription_ = store_->on_work_available([weak = std::weak_ptr<Shared>(shared_)] {
        if (auto s = weak.lock()) s->signal_work();
      });
    threads_.clear();
    for (int i = 0; i < options_.concurrency; ++i) threads_.emplace_back(handler_thread, shared_);
  }

  void stop_handlers() {
    subscription_.reset();
    std::unique_lock lock(shared_->mutex);
    shared_->closing = true;
    shared_->jobs_ready.notify_all();
    // Handlers still running were told to cancel; give them a moment, then let go of any that ignore it.
    shared_->wake.wait_for(lock, milliseconds{1000}, [&] { return shared_->exited == threads_.size(); });
    bool all_exited = shared_->exited == threads_.size();
    lock.unlock();
    for (auto& t : threads_) {
      if (all_exited)
        t.join();
      else
        t.detach();
    }
    if (!all_exited)
      detail::log().warn("worker {}: a handler ignored cancellation; its thread was detached", options_.worker_id);
    threads_.clear();
  }

  void guarded_loop() {
    try {
      loop(false);
    } catch (const std::exception& e) {
      detail::log().error("worker {} stopped on an unexpected error: {}", options_.worker_id, e.what());
      std::lock_guard lock(lifecycle_);
      failure_ = e.what();
    }
  }

  TimePoint now() const { return options_.clock->now(); }
  bool polling() const { return options_.event_mode != EventMode::event_driven; }

  // -------------------------------------------------------------------------
  // The coordinator's loop: gather what arrived, record it and claim in one
  // transaction, renew leases, then sleep until something happens.

  void loop(bool until_idle) {
    // However the loop ends, a handler waiting on a request is answered.
    struct StopServing {
      Shared& shared;
      ~StopServing() {
        std::lock_guard lock(shared.mutex);
        shared.serving = false;
        for (auto& c : shared.checkpoints) c.saved.set_value(false);
        for (auto& l : shared.lookups) l.result.set_value(std::nullopt);
        shared.checkpoints.clear();
        shared.lookups.clear();
      }
    } stop_serving{*shared_};
    {
      std::lock_guard lock(shared_->mutex);
      shared_->serving = true;
    }
    const TimePoint start = now();
    LoopState st{start + options_.heartbeat_interval, start, start, std::nullopt, std::nullopt, true, {}};
    for (;;) {
      Round r = begin_round(st);
      if (!exchange(st, r)) {
        requeue_requests(r);
        pause_after_error(r);
        continue;
      }
      renew_leases(st, r);
      serve_requests(r);
      switch (next_step(st, r, until_idle)) {
        case Next::exit: return;
        case Next::round: continue;
        case Next::sleep: sleep(st, r); break;
      }
    }
  }

  /// Take what arrived (outcomes, heartbeat requests, signals); fail steps
  /// past their deadline; when stopping and out of grace, hand the rest back.
  Round begin_round(LoopState& st) {
    Round r;
    std::vector<StepOutcome> arrived;
    {
      std::lock_guard lock(shared_->mutex);
      arrived.swap(shared_->outcomes);
      r.heartbeats.swap(shared_->heartbeats);
      r.checkpoints.swap(shared_->checkpoints);
      r.lookups.swap(shared_->lookups);
      r.signal = std::exchange(shared_->work_signal, false);
      r.stop = shared_->stop_requested;
    }
    r.t = now();
    r.batch = std::move(st.unsent);
    st.unsent.clear();
    for (auto& o : arrived) {
      auto it = in_flight_.find({o.step_id, o.claim_token});
      const bool decided = it != in_flight_.end() && it->second.decided;
      if (it != in_flight_.end()) in_flight_.erase(it);
      if (decided) {  // timed out or released earlier: this late result is not recorded
        count_discarded(1);
        continue;
      }
      count_outcome(o);
      r.batch.push_back(std::move(o));
    }
    enforce_deadlines(r.t, r.batch);
    if (r.stop && !st.stop_deadline) st.stop_deadline = r.t + options_.stop_grace;
    if (r.stop && r.t >= *st.stop_deadline) release_all(r.batch);
    r.free = options_.concurrency - static_cast<int>(in_flight_.size());
    return r;
  }

  /// Record the round's outcomes and, when due, reclaim expired leases and
  /// claim new steps, in one transaction. False when the database failed:
  /// the outcomes are kept to be sent again (fencing makes a repeat harmless,
  /// even when the failed commit was in doubt).
  bool exchange(LoopState& st, Round& r) {
    const bool due = st.due_at && r.t >= *st.due_at;
    const bool reclaim = !r.stop && r.t >= st.next_reclaim;
    // A reclaim pass also claims: the steps it fails as worker_lost become
    // waiting_for_retry without any NOTIFY, so in event_driven mode nobody
    // else would look for them. It also makes the pass a slow safety-net
    // poll (every reclaim_interval) for retries another process scheduled.
    const bool want_claim =
        !r.stop && r.free > 0 &&
        (st.more || r.signal || !r.batch.empty() || (polling() && r.t >= st.next_poll) || due || reclaim);
    if (r.batch.empty() && !want_claim && !reclaim) {
      r.claimed_nothing = !r.stop && r.free > 0;
      return true;
    }
    for (auto& o : r.batch)
      if (jitter_ && o.kind == StepOutcome::Kind::failure && !o.jitter_unit) o.jitter_unit = random_jitter_unit();
    ClaimRequest req{options_.worker_id, filter_, want_claim ? std::min(r.free, options_.batch_size) : 0,
                     options_.lease,     reclaim, jitter_};
    try {
      ExchangeResult res = store_->exchange(r.batch, (want_claim || reclaim) ? &req : nullptr, r.t);
      publish(res);
      if (reclaim) st.next_reclaim = r.t + options_.reclaim_interval;
      if (want_claim) {
        st.next_poll = r.t + options_.fallback_interval;
        st.more = static_cast<int>(res.claimed.size()) == req.limit;
        r.claimed_nothing = res.claimed.empty();
        if (r.claimed_nothing) st.due_at = store_->next_due(filter_);
      }
      dispatch(res.claimed);
      return true;
    } catch (const TransientStorageError& e) {
      keep_unsent(st, r, e);
    } catch (const StorageInDoubtError& e) {
      keep_unsent(st, r, e);
    } catch (const StorageError& e) {
      // A result the database refuses must not hold back the others.
      r.batch = record_one_by_one(std::move(r.batch), r.t);
      keep_unsent(st, r, e);
    } catch (const json::exception& e) {
      // Job::run makes every outcome storable, so this is a second line of
      // defence: an outcome that cannot be serialised fails its own step
      // (recorded one by one) instead of ending the coordinator's loop.
      detail::log().error("worker {}: an outcome could not be serialised ({}); recording the batch step by step",
                          options_.worker_id, e.what());
      st.unsent = record_one_by_one(std::move(r.batch), r.t);
      st.more = false;
    }
    return false;
  }

  void keep_unsent(LoopState& st, Round& r, const StorageError& e) {
    detail::log().warn("worker {}: database error, retrying: {}", options_.worker_id, e.what());
    st.unsent = std::move(r.batch);
    st.more = false;
  }

  void pause_after_error(const Round& r) {
    std::unique_lock lock(shared_->mutex);
    options_.clock->wait_until(shared_->wake, lock, now() + milliseconds{200},
                               [&] { return shared_->stop_requested && !r.stop; });
  }

  /// Record outcomes singly; one the database rejects, or that cannot be
  /// serialised, becomes a permanent failure of its step (it will not become
  /// storable). Returns what still could not be recorded, to be sent again.
  std::vector<StepOutcome> record_one_by_one(std::vector<StepOutcome> batch, TimePoint t) {
    std::vector<StepOutcome> unsent;
    for (auto& o : batch) {
      std::string refused;
      try {
        publish(store_->exchange({o}, nullptr, t));
        continue;
      } catch (const TransientStorageError&) {
        unsent.push_back(std::move(o));
        continue;
      } catch (const StorageInDoubtError&) {
        unsent.push_back(std::move(o));
        continue;
      } catch (const StorageError& e) {
        if (o.kind != StepOutcome::Kind::success) {
          unsent.push_back(std::move(o));
          continue;
        }
        refused = fmt::format("the database cannot store this step's result: {}", e.what());
      } catch (const json::exception& e) {
        refused = fmt::format("this attempt's outcome cannot be serialised: {}", e.what());
      }
      StepOutcome failed = std::move(o);
      failed.kind = StepOutcome::Kind::failure;
      failed.result = nullptr;
      failed.failure = {valid_utf8(refused), "invalid_result", false, json::object()};
      try {
        publish(store_->exchange({failed}, nullptr, t));
      } catch (const StorageError&) {
        unsent.push_back(std::move(failed));
      } catch (const json::exception& e) {  // cannot happen with the plain failure above; never end the loop for it
        detail::log().error("worker {}: step {} left to its lease: {}", options_.worker_id, failed.step_id, e.what());
      }
    }
    return unsent;
  }

  /// Renew the leases of running steps every heartbeat_interval, and those
  /// handlers asked for now. A lease found lost cancels its handler (its
  /// result will be fenced out).
  void renew_leases(LoopState& st, const Round& r) {
    const bool periodic = options_.heartbeat_interval > milliseconds{0} && r.t >= st.next_heartbeat;
    if (periodic) st.next_heartbeat = r.t + options_.heartbeat_interval;
    std::vector<LeaseRef> leases;
    for (const auto& [key, f] : in_flight_) {
      const bool asked = std::find(r.heartbeats.begin(), r.heartbeats.end(), key) != r.heartbeats.end();
      if (!f.decided && (periodic || asked)) leases.push_back({key.first, key.second});
    }
    if (leases.empty()) return;
    try {
      std::vector<std::int64_t> lost = store_->renew_leases(leases, r.t + options_.lease);
      for (auto id : lost)
        for (auto& [key, f] : in_flight_)
          if (key.first == id) f.cancelled->store(true);
    } catch (const StorageError& e) {
      detail::log().warn("worker {}: could not renew leases: {}", options_.worker_id, e.what());
    }
  }

  /// Handlers' checkpoints (saved in one statement that also renews their
  /// leases) and result lookups. A database error leaves the checkpoints for
  /// the next round; a lookup gets the error, which fails its attempt as retryable.
  void serve_requests(Round& r) {
    if (!r.checkpoints.empty()) {
      std::vector<CheckpointSave> saves;
      std::vector<CheckpointRequest> waiting;
      for (auto& c : r.checkpoints) {
        auto it = in_flight_.find(c.key);
        if (it == in_flight_.end() || it->second.decided) {
          c.saved.set_value(false);  // timed out or released: the attempt is over
          continue;
        }
        saves.push_back({c.key.first, c.key.second, c.checkpoint});
        waiting.push_back(std::move(c));
      }
      try {
        std::vector<std::int64_t> lost = store_->save_checkpoints(saves, r.t + options_.lease);
        for (auto& c : waiting) {
          const bool kept = std::find(lost.begin(), lost.end(), c.key.first) == lost.end();
          if (!kept) in_flight_.at(c.key).cancelled->store(true);
          c.saved.set_value(kept);
        }
      } catch (const StorageError& e) {
        detail::log().warn("worker {}: could not save checkpoints, trying again: {}", options_.worker_id, e.what());
        std::lock_guard lock(shared_->mutex);
        for (auto& c : waiting) shared_->checkpoints.push_back(std::move(c));
      }
    }
    for (auto& l : r.lookups) {
      try {
        l.result.set_value(store_->step_result(l.task_uuid, l.step_name));
      } catch (const StorageError&) {
        l.result.set_exception(std::current_exception());
      }
    }
    r.checkpoints.clear();
    r.lookups.clear();
  }

  /// The round's transaction failed before its requests were served: keep them for the next.
  void requeue_requests(Round& r) {
    std::lock_guard lock(shared_->mutex);
    for (auto& c : r.checkpoints) shared_->checkpoints.push_back(std::move(c));
    for (auto& l : r.lookups) shared_->lookups.push_back(std::move(l));
    for (auto& h : r.heartbeats) shared_->heartbeats.push_back(h);
  }

  /// After a round: leave the loop, go round again at once, or sleep.
  Next next_step(const LoopState& st, const Round& r, bool until_idle) {
    const bool settled = in_flight_.empty() && st.unsent.empty();
    if (r.stop && settled) {
      std::lock_guard lock(shared_->mutex);
      return shared_->outcomes.empty() ? Next::exit : Next::round;
    }
    if (until_idle && settled && r.claimed_nothing && !st.more) {
      std::lock_guard lock(shared_->mutex);
      // Nothing running, nothing claimable, no retry scheduled.
      if (shared_->outcomes.empty() && !st.due_at) return Next::exit;
    }
    return st.more && !r.stop && r.free > 0 ? Next::round : Next::sleep;
  }

  /// Sleep until a result, a notification, a heartbeat request, a stop, or the next timer.
  void sleep(const LoopState& st, const Round& r) {
    TimePoint wake_at = r.t + (polling() ? options_.fallback_interval : milliseconds{3'600'000});
    if (!in_flight_.empty() && options_.heartbeat_interval > milliseconds{0})
      wake_at = std::min(wake_at, st.next_heartbeat);
    if (!r.stop) wake_at = std::min(wake_at, st.next_reclaim);
    for (const auto& [key, f] : in_flight_)
      if (!f.decided) wake_at = std::min(wake_at, f.deadline);
    if (st.due_at) wake_at = std::min(wake_at, *st.due_at);
    if (st.stop_deadline) wake_at = std::min(wake_at, *st.stop_deadline);
    std::unique_lock lock(shared_->mutex);
    options_.clock->wait_until(shared_->wake, lock, wake_at, [&] {
      return !shared_->outcomes.empty() || shared_->work_signal || shared_->stop_requested != r.stop ||
             shared_->has_requests();
    });
  }

  // -------------------------------------------------------------------------

  void publish(ExchangeResult& r) {
    {
      std::lock_guard lock(stats_mutex_);
      stats_.transactions += 1;
      stats_.claimed += r.claimed.size();
      stats_.discarded += r.discarded.size();
      stats_.reclaimed += r.reclaimed;
    }
    if (!events_) return;
    // Subscribers that aggregate per workflow and handler (metrics) need to know
    // which ones a started step belongs to; the claim says it.
    for (auto& e : r.events) {
      if (e.name != events::kStepStarted) continue;
      for (const auto& c : r.claimed)
        if (c.task_uuid == e.task_uuid && c.step_name == e.step_name) {
          e.payload["namespace"] = c.namespace_name;
          e.payload["callable"] = c.callable;
          break;
        }
    }
    events_->publish(r.events);
  }
  void publish(ExchangeResult&& r) { publish(r); }

  void count_outcome(const StepOutcome& o) {
    std::lock_guard lock(stats_mutex_);
    (o.kind == StepOutcome::Kind::success ? stats_.succeeded : stats_.failed) += 1;
  }

  void count_discarded(std::uint64_t n) {
    std::lock_guard lock(stats_mutex_);
    stats_.discarded += n;
  }

  void dispatch(std::vector<ClaimedStep>& claimed) {
    if (claimed.empty()) return;
    {
      std::lock_guard lock(shared_->mutex);
      for (auto& step : claimed) {
        TimePoint deadline = step.claimed_at + std::chrono::seconds{step.timeout_seconds};
        auto flag = std::make_shared<std::atomic<bool>>(false);
        FlightKey key{step.step_id, step.claim_token};
        in_flight_[key] = Flight{deadline, flag, false};
        std::weak_ptr<Shared> weak = shared_;
        StepControls controls{flag,
                              [weak, key] {
                                if (auto s = weak.lock()) s->request_heartbeat(key);
                              },
                              [weak, key](const json& checkpoint) {
                                auto s = weak.lock();
                                return s && s->save_checkpoint(key, checkpoint);
                              },
                              [weak, task = step.task_uuid](const std::string& name) -> std::optional<json> {
                                auto s = weak.lock();
                                return s ? s->step_result(task, name) : std::nullopt;
                              }};
        shared_->jobs.push_back(
            Job{std::move(step), deadline, std::move(controls), handlers_, options_.clock, options_.limits});
      }
    }
    // One thread per job: notify_all woke every idle handler thread for each
    // claim, and with many threads and one job (a chain) they fought for the lock.
    for (std::size_t i = 0; i < claimed.size(); ++i) shared_->jobs_ready.notify_one();
  }

  /// A step past its timeout: its attempt fails now (retryable, error_type
  /// timeout); the handler is told to cancel and its late result is dropped.
  void enforce_deadlines(TimePoint t, std::vector<StepOutcome>& batch) {
    for (auto& [key, f] : in_flight_) {
      if (f.decided || t < f.deadline) continue;
      StepOutcome o = decide(key, f, StepOutcome::Kind::failure);
      o.failure = {detail::timeout_message(f.deadline), "timeout", true, json::object()};
      count_outcome(o);
      batch.push_back(std::move(o));
    }
  }

  /// The worker itself settles an attempt (timeout, release): the handler is
  /// told to cancel, and whatever it returns later is dropped.
  static StepOutcome decide(const FlightKey& key, Flight& f, StepOutcome::Kind kind) {
    f.decided = true;
    f.cancelled->store(true);
    StepOutcome o;
    o.step_id = key.first;
    o.claim_token = key.second;
    o.kind = kind;
    return o;
  }

  /// Stopping and out of grace: hand the steps back unrun; late results are dropped.
  void release_all(std::vector<StepOutcome>& batch) {
    for (auto& [key, f] : in_flight_)
      if (!f.decided) batch.push_back(decide(key, f, StepOutcome::Kind::release));
    // Decided flights no longer hold the worker back from stopping.
    std::erase_if(in_flight_, [](const auto& entry) { return entry.second.decided; });
  }

  std::shared_ptr<Store> store_;
  std::shared_ptr<const HandlerRegistry> handlers_;
  WorkerOptions options_;
  std::shared_ptr<EventBus> events_;
  WorkFilter filter_;
  bool jitter_{true};

  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::shared_ptr<void> subscription_;
  std::vector<std::thread> threads_;
  std::thread coordinator_;
  std::map<FlightKey, Flight> in_flight_;  // coordinator thread only

  mutable std::mutex lifecycle_;
  Mode mode_{Mode::idle};
  std::string failure_;  ///< set when the loop ended on an unexpected error
  mutable std::mutex stats_mutex_;
  WorkerStats stats_;
};

Worker::Worker(std::shared_ptr<Store> store, std::shared_ptr<const HandlerRegistry> handlers, WorkerOptions options,
               std::shared_ptr<EventBus> events)
    : impl_(std::make_unique<Impl>(std::move(store), std::move(handlers), std::move(options), std::move(events))) {}
Worker::~Worker() = default;
void Worker::start() { impl_->start(); }
void Worker::stop() { impl_->stop(); }
void Worker::request_stop() { impl_->request_stop(); }
void Worker::run_until_idle() { impl_->run_until_idle(); }
const std::string& Worker::id() const { return impl_->id(); }
WorkerStats Worker::stats() const { return impl_->stats(); }
bool Worker::running() const { return impl_->running(); }
std::string Worker::failure() const { return impl_->failure(); }

}  // namespace tasker
