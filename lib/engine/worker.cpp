// The worker (tasker/worker.hpp): its options, and its lifecycle, which starts
// and stops one coordinator thread (coordinator.cpp), the only one that talks
// to the store, and N handler threads that only run handlers
// (handler_threads.hpp): a handler's heartbeat() only asks the coordinator to
// renew its lease.
#include "tasker/worker.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "base/log.hpp"
#include "engine/worker_impl.hpp"
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
  o.fire_schedules = config.worker.schedules;
  o.apply_retention = config.worker.retention;
  o.retention = config.retention.policy;
  o.retention_interval = std::chrono::milliseconds{config.retention.interval_ms};
  o.retention_batch_size = config.retention.batch_size;
  o.retention_pause = std::chrono::milliseconds{config.retention.pause_ms};
  o.dead_letters = config.worker.dead_letters;
  o.staleness = config.dlq.staleness;
  o.detect_staleness = config.dlq.detect_staleness;
  o.dead_letter_interval = std::chrono::milliseconds{config.dlq.interval_ms};
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
  if (schedule_poll_interval < std::chrono::milliseconds{10})
    throw InvalidRequestError(
        fmt::format("the schedule poll interval ({} ms) must be at least 10 ms", schedule_poll_interval.count()));
  if (retention_interval < std::chrono::milliseconds{10})
    throw InvalidRequestError(
        fmt::format("the retention interval ({} ms) must be at least 10 ms", retention_interval.count()));
  if (retention_batch_size < 1 || retention_batch_size > 1000)
    throw InvalidRequestError(fmt::format("the retention batch size {} is outside 1..1000", retention_batch_size));
  if (dead_letter_interval < std::chrono::milliseconds{10})
    throw InvalidRequestError(
        fmt::format("the dead-letter interval ({} ms) must be at least 10 ms", dead_letter_interval.count()));
  for (auto [name, t] :
       {std::pair{"enqueued", staleness.enqueued}, std::pair{"waiting_for_retry", staleness.waiting_for_retry},
        std::pair{"in_progress", staleness.in_progress}})
    if (t <= std::chrono::milliseconds::zero())
      throw InvalidRequestError(fmt::format("the staleness threshold of {} ({} ms) must be positive", name, t.count()));
  for (const auto& uuid : task_uuids)
    if (!is_uuid(uuid)) throw InvalidRequestError(fmt::format("worker task filter: `{}` is not a task uuid", uuid));
}

namespace {

using detail::handler_thread;
using detail::Shared;
using std::chrono::milliseconds;

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return fmt::format("{}:{}:{}", host, getpid(), new_uuid().substr(0, 8));
}

/// Jitter unless configured otherwise: on, except in the `test` environment.
bool resolve_jitter(const std::optional<bool>& configured) {
  return configured.value_or(default_environment() != "test");
}

}  // namespace

Worker::Impl::Impl(std::shared_ptr<Store> store, std::shared_ptr<const HandlerRegistry> handlers, WorkerOptions options,
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
  // Every worker takes the waiting steps: it waits itself, with no handler (waiting_steps.cpp).
  for (std::string_view waits : {kSignalCallable, kSleepCallable})
    if (std::find(filter_.callables.begin(), filter_.callables.end(), waits) == filter_.callables.end())
      filter_.callables.emplace_back(waits);
}

void Worker::Impl::start() {
  std::lock_guard lock(lifecycle_);
  if (mode_ != Mode::idle) throw InvalidRequestError("this worker is already running");
  mode_ = Mode::background;
  start_handlers();
  coordinator_ = std::thread([this] { guarded_loop(); });
  if (options_.fire_schedules) {
    schedules_ =
        std::make_unique<detail::ScheduleFirer>(store_, *options_.clock, events_, options_.schedule_poll_interval,
                                                options_.schedule_misfire_grace, options_.worker_id);
    schedules_->start();
  }
  if (options_.apply_retention && !options_.retention.empty()) {
    retention_ = std::make_unique<detail::RetentionPurger>(store_, *options_.clock, options_.retention,
                                                           options_.retention_interval, options_.retention_batch_size,
                                                           options_.retention_pause, options_.worker_id);
    retention_->start();
  }
  if (options_.dead_letters) {
    dead_letters_ = make_dead_letter_sweeper();
    dead_letters_->start();
  }
  detail::log().info("worker {} started ({} handler threads, {} callables)", options_.worker_id, options_.concurrency,
                     filter_.callables.size());
}

void Worker::Impl::request_stop() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stop_requested = true;
  }
  shared_->wake.notify_all();
}

void Worker::Impl::stop() {
  std::lock_guard lock(lifecycle_);
  if (mode_ != Mode::background) return;
  request_stop();
  if (schedules_) schedules_->stop();
  if (retention_) retention_->stop();
  if (coordinator_.joinable()) coordinator_.join();
  stop_handlers();
  if (dead_letters_) {
    // What this worker's last transactions left in error gets its entry now, not at another worker's next pass.
    dead_letters_->stop();
    (void)dead_letters_->sweep_once();
  }
  mode_ = Mode::stopped;
  detail::log().info("worker {} stopped", options_.worker_id);
}

void Worker::Impl::run_until_idle() {
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
  if (options_.dead_letters) (void)make_dead_letter_sweeper()->sweep_once();  // what this run left in error
  std::lock_guard lock(lifecycle_);
  mode_ = Mode::idle;
}

std::unique_ptr<detail::DeadLetterSweeper> Worker::Impl::make_dead_letter_sweeper() const {
  return std::make_unique<detail::DeadLetterSweeper>(store_, *options_.clock, options_.staleness,
                                                     options_.detect_staleness, options_.dead_letter_interval,
                                                     options_.worker_id);
}

WorkerStats Worker::Impl::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

bool Worker::Impl::running() const {
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stop_requested) return false;
  }
  std::lock_guard lock(lifecycle_);
  return (mode_ == Mode::background || mode_ == Mode::foreground) && failure_.empty();
}

std::string Worker::Impl::failure() const {
  std::lock_guard lock(lifecycle_);
  return failure_;
}

void Worker::Impl::start_handlers() {
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

void Worker::Impl::stop_handlers() {
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

void Worker::Impl::guarded_loop() {
  try {
    loop(false);
  } catch (const std::exception& e) {
    detail::log().error("worker {} stopped on an unexpected error: {}", options_.worker_id, e.what());
    std::lock_guard lock(lifecycle_);
    failure_ = e.what();
  }
}

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
