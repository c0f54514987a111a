// The worker: one coordinator thread does all database work (record results
// and claim new steps in one transaction, renew leases, fail expired leases,
// enforce timeouts); N handler threads only run handlers. Handler threads share
// nothing with the coordinator but a queue, so a slow handler never delays
// recording another step's result.
#include "tasker/worker.hpp"
#include "engine/log.hpp"

#include <cxxabi.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "tasker/errors.hpp"

namespace tasker {

WorkerOptions WorkerOptions::from(const Config& config) {
  WorkerOptions o;
  o.concurrency = config.worker.concurrency;
  o.batch_size = config.worker.batch_size;
  o.lease = std::chrono::milliseconds{config.worker.lease_ms};
  o.event_mode = config.worker.event_mode;
  o.fallback_interval = std::chrono::milliseconds{config.worker.fallback_interval_ms};
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

using std::chrono::milliseconds;

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return fmt::format("{}:{}:{}", host, getpid(), new_uuid().substr(0, 8));
}

std::string type_name(const std::exception& e) {
  int status = 0;
  const char* mangled = typeid(e).name();
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? demangled.get() : mangled;
}

/// A claimed step on its way through a handler thread.
struct Job {
  ClaimedStep step;
  TimePoint deadline;
  std::shared_ptr<std::atomic<bool>> cancelled;
  std::shared_ptr<const HandlerRegistry> handlers;
  std::shared_ptr<Store> store;
  const Clock* clock;
  milliseconds lease;

  StepOutcome run() const {
    StepOutcome out;
    out.step_id = step.step_id;
    out.claim_token = step.claim_token;
    StepContext ctx(step.task_uuid, step.step_name, step.context, step.initialization, step.dependency_results,
                    step.attempt, deadline, *clock);
    ctx.set_cancellation_flag(cancelled);
    ctx.set_heartbeat(
        [store = store, id = step.step_id, token = step.claim_token, clock = clock, lease = lease, flag = cancelled] {
          if (!store->renew_leases({{id, token}}, clock->now() + lease).empty()) flag->store(true);
        });
    auto fail = [&](std::string message, std::string type, bool retryable, json context) {
      out.kind = StepOutcome::Kind::failure;
      out.failure = {std::move(message), std::move(type), retryable, std::move(context)};
    };
    try {
      out.result = handlers->resolve(step.callable)(ctx);
      out.kind = StepOutcome::Kind::success;
      (void)out.result.dump();  // a result that cannot be stored fails here, not in the batch
    } catch (const PermanentError& e) {
      fail(e.what(), e.error_type().empty() ? "permanent_error" : e.error_type(), false, e.context());
    } catch (const RetryableError& e) {
      fail(e.what(), e.error_type().empty() ? "retryable_error" : e.error_type(), true, e.context());
      out.retry_after = e.retry_after();
    } catch (const HandlerNotFoundError& e) {
      fail(e.what(), "handler_not_found", true, json::object());
    } catch (const json::exception& e) {
      fail(fmt::format("the handler's result is not storable JSON: {}", e.what()), "invalid_result", false,
           json::object());
    } catch (const std::exception& e) {
      fail(e.what(), type_name(e), true, json::object());
    } catch (...) {
      fail("the handler threw something that is not a std::exception", "unknown", true, json::object());
    }
    return out;
  }
};

/// What handler threads and the coordinator share. Owned jointly, so a handler
/// thread that outlives stop() (it ignored cancellation) never dangles.
struct Shared {
  std::mutex mutex;
  std::condition_variable wake;  // the coordinator waits here
  std::condition_variable jobs_ready;
  std::deque<Job> jobs;
  std::vector<StepOutcome> outcomes;
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
    filter_ = {handlers_->callables(), options_.namespaces, options_.task_uuids};
  }

  ~Impl() { stop(); }

  void start() {
    std::lock_guard lock(lifecycle_);
    if (mode_ != Mode::idle) throw InvalidRequestError("this worker is already running");
    mode_ = Mode::background;
    start_handlers();
    coordinator_ = std::thread([this] { guarded_loop(false); });
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
    std::lock_guard lock(lifecycle_);
    return (mode_ == Mode::background || mode_ == Mode::foreground) && failure_.empty();
  }
  std::string failure() const {
    std::lock_guard lock(lifecycle_);
    return failure_;
  }

 private:
  enum class Mode { idle, background, foreground, stopped };

  struct Flight {
    TimePoint started;
    TimePoint deadline;
    std::shared_ptr<std::atomic<bool>> cancelled;
    bool decided{false};  ///< its outcome was already sent (timeout or release): the late one is dropped
  };
  using FlightKey = std::pair<std::int64_t, std::int64_t>;  // step id, claim token

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

  void guarded_loop(bool until_idle) {
    try {
      loop(until_idle);
    } catch (const std::exception& e) {
      detail::log().error("worker {} stopped on an unexpected error: {}", options_.worker_id, e.what());
      std::lock_guard lock(lifecycle_);
      failure_ = e.what();
    }
  }

  TimePoint now() const { return options_.clock->now(); }

  void record(const ExchangeResult& r) {
    std::lock_guard lock(stats_mutex_);
    stats_.transactions += 1;
    stats_.claimed += r.claimed.size();
    stats_.discarded += r.discarded.size();
    stats_.reclaimed += r.reclaimed;
  }

  void loop(bool until_idle) {
    const bool polling = options_.event_mode != EventMode::event_driven;
    TimePoint t = now();
    TimePoint next_heartbeat = t + options_.heartbeat_interval;
    TimePoint next_reclaim = t;
    TimePoint next_poll = t;
    std::optional<TimePoint> due_at;
    std::optional<TimePoint> stop_deadline;
    bool more = true;                 // claim at once on start
    std::vector<StepOutcome> unsent;  // outcomes whose transaction failed: sent again

    for (;;) {
      std::vector<StepOutcome> arrived;
      bool signal = false, stop = false;
      {
        std::lock_guard lock(shared_->mutex);
        arrived.swap(shared_->outcomes);
        signal = std::exchange(shared_->work_signal, false);
        stop = shared_->stop_requested;
      }
      t = now();
      std::vector<StepOutcome> batch = std::move(unsent);
      unsent.clear();
      for (auto& o : arrived) {
        auto it = in_flight_.find({o.step_id, o.claim_token});
        bool decided = it != in_flight_.end() && it->second.decided;
        if (it != in_flight_.end()) in_flight_.erase(it);
        if (decided) continue;  // timed out or released earlier; this late result is not recorded
        count_outcome(o);
        batch.push_back(std::move(o));
      }
      enforce_deadlines(t, batch);
      if (stop && !stop_deadline) stop_deadline = t + options_.stop_grace;
      if (stop && t >= *stop_deadline) release_all(batch);

      const int free = options_.concurrency - static_cast<int>(in_flight_.size());
      const bool due = due_at && t >= *due_at;
      const bool reclaim = !stop && t >= next_reclaim;
      // A reclaim pass also claims: the steps it fails as worker_lost become
      // waiting_for_retry without any NOTIFY, so in event_driven mode nobody
      // else would look for them. It also makes the pass a slow safety-net
      // poll (every reclaim_interval) for retries another process scheduled.
      const bool want_claim =
          !stop && free > 0 && (more || signal || !batch.empty() || (polling && t >= next_poll) || due || reclaim);
      bool claimed_nothing = false;
      if (!batch.empty() || want_claim || reclaim) {
        ClaimRequest req{options_.worker_id, filter_, want_claim ? std::min(free, options_.batch_size) : 0,
                         options_.lease, reclaim};
        try {
          ExchangeResult r = store_->exchange(batch, (want_claim || reclaim) ? &req : nullptr, t);
          publish(r);
          if (reclaim) next_reclaim = t + options_.reclaim_interval;
          if (want_claim) {
            next_poll = t + options_.fallback_interval;
            more = static_cast<int>(r.claimed.size()) == req.limit;
            claimed_nothing = r.claimed.empty();
            if (claimed_nothing) due_at = store_->next_due(filter_);
          }
          dispatch(r.claimed);
        } catch (const StorageError& e) {
          // Results are kept and sent again: fencing makes a repeat harmless
          // even when the failed commit was in doubt. A result the database
          // refuses (not a transient error) must not hold back the others.
          detail::log().warn("worker {}: database error, retrying: {}", options_.worker_id, e.what());
          if (!e.retryable() && !dynamic_cast<const StorageInDoubtError*>(&e) && !batch.empty())
            batch = record_one_by_one(std::move(batch), t);
          unsent = std::move(batch);
          more = false;
          std::unique_lock lock(shared_->mutex);
          shared_->wake.wait_for(lock, milliseconds{200}, [&] { return shared_->stop_requested && !stop; });
          continue;
        }
      } else if (!stop && free > 0) {
        claimed_nothing = true;
      }

      renew_leases_if_due(t, next_heartbeat);

      if (stop && in_flight_.empty() && unsent.empty()) {
        std::lock_guard lock(shared_->mutex);
        if (shared_->outcomes.empty()) break;
        continue;
      }
      if (until_idle && in_flight_.empty() && unsent.empty() && claimed_nothing && !more) {
        std::lock_guard lock(shared_->mutex);
        if (shared_->outcomes.empty() && !due_at) break;  // nothing running, nothing claimable, no retry scheduled
      }

      // Sleep until something happens: a result, a notification, or the next timer.
      TimePoint wake_at = t + (polling ? options_.fallback_interval : milliseconds{3'600'000});
      if (!in_flight_.empty() && options_.heartbeat_interval > milliseconds{0})
        wake_at = std::min(wake_at, next_heartbeat);
      if (!stop) wake_at = std::min(wake_at, next_reclaim);
      for (const auto& [key, f] : in_flight_)
        if (!f.decided) wake_at = std::min(wake_at, f.deadline);
      if (due_at) wake_at = std::min(wake_at, *due_at);
      if (stop_deadline) wake_at = std::min(wake_at, *stop_deadline);
      if (more && !stop && free > 0) continue;
      std::unique_lock lock(shared_->mutex);
      auto wait = std::max(milliseconds{0}, std::chrono::duration_cast<milliseconds>(wake_at - now()));
      // A clock moved by hand (tests) does not wake anyone: look at it often.
      if (options_.clock != &SystemClock::instance()) wait = std::min(wait, milliseconds{10});
      shared_->wake.wait_for(lock, wait, [&] {
        return !shared_->outcomes.empty() || shared_->work_signal || shared_->stop_requested != stop;
      });
    }
  }

  /// Record outcomes singly; one the database rejects becomes a permanent
  /// failure of its step (a result it cannot store will not become storable).
  /// Returns what still could not be recorded, to be sent again.
  std::vector<StepOutcome> record_one_by_one(std::vector<StepOutcome> batch, TimePoint t) {
    std::vector<StepOutcome> unsent;
    for (auto& o : batch) {
      try {
        publish(store_->exchange({o}, nullptr, t));
      } catch (const StorageError& e) {
        if (e.retryable() || dynamic_cast<const StorageInDoubtError*>(&e) || o.kind != StepOutcome::Kind::success) {
          unsent.push_back(std::move(o));
          continue;
        }
        StepOutcome failed = o;
        failed.kind = StepOutcome::Kind::failure;
        failed.result = nullptr;
        failed.failure = {fmt::format("the database cannot store this step's result: {}", e.what()), "invalid_result",
                          false, json::object()};
        try {
          publish(store_->exchange({failed}, nullptr, t));
        } catch (const StorageError&) {
          unsent.push_back(std::move(failed));
        }
      }
    }
    return unsent;
  }

  void publish(const ExchangeResult& r) {
    record(r);
    if (events_) events_->publish(r.events);
  }

  void count_outcome(const StepOutcome& o) {
    std::lock_guard lock(stats_mutex_);
    (o.kind == StepOutcome::Kind::success ? stats_.succeeded : stats_.failed) += 1;
  }

  void dispatch(std::vector<ClaimedStep>& claimed) {
    if (claimed.empty()) return;
    {
      std::lock_guard lock(shared_->mutex);
      for (auto& step : claimed) {
        TimePoint deadline = step.claimed_at + std::chrono::seconds{step.timeout_seconds};
        auto flag = std::make_shared<std::atomic<bool>>(false);
        in_flight_[{step.step_id, step.claim_token}] = Flight{step.claimed_at, deadline, flag, false};
        shared_->jobs.push_back(
            Job{std::move(step), deadline, flag, handlers_, store_, options_.clock, options_.lease});
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
      o.failure = {fmt::format("the step did not finish within its timeout_seconds ({} s); raise timeout_seconds in "
                               "the template or make the handler finish sooner (it can check ctx.deadline())",
                               std::chrono::duration_cast<std::chrono::seconds>(f.deadline - f.started).count()),
                   "timeout", true, json::object()};
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

  void renew_leases_if_due(TimePoint t, TimePoint& next_heartbeat) {
    if (options_.heartbeat_interval <= milliseconds{0} || t < next_heartbeat) return;
    next_heartbeat = t + options_.heartbeat_interval;
    std::vector<LeaseRef> leases;
    for (const auto& [key, f] : in_flight_)
      if (!f.decided) leases.push_back({key.first, key.second});
    if (leases.empty()) return;
    try {
      std::vector<std::int64_t> lost = store_->renew_leases(leases, t + options_.lease);
      for (auto id : lost)
        for (auto& [key, f] : in_flight_)
          if (key.first == id) f.cancelled->store(true);  // its result will be fenced out
    } catch (const StorageError& e) {
      detail::log().warn("worker {}: could not renew leases: {}", options_.worker_id, e.what());
    }
  }

  std::shared_ptr<Store> store_;
  std::shared_ptr<const HandlerRegistry> handlers_;
  WorkerOptions options_;
  std::shared_ptr<EventBus> events_;
  WorkFilter filter_;

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
