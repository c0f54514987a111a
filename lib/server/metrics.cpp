#include "metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "base/log.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

namespace {
constexpr std::size_t kMaxInFlight = 100'000;  ///< bound on remembered attempts (a reclaimed one never reports here)
constexpr auto kGaugeInterval = std::chrono::seconds{1};
}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : tasks_created(prometheus::BuildCounter()
                          .Name("tasker_tasks_created_total")
                          .Help("Tasks created by this process, by namespace")
                          .Register(r)),
        tasks_finished(prometheus::BuildCounter()
                           .Name("tasker_tasks_finished_total")
                           .Help("Tasks that reached a final state in a transaction of this process, by state")
                           .Register(r)),
        step_attempts(prometheus::BuildCounter()
                          .Name("tasker_step_attempts_total")
                          .Help("Step attempts started by this process's workers, by namespace and callable")
                          .Register(r)),
        step_retries(prometheus::BuildCounter()
                         .Name("tasker_step_retries_total")
                         .Help("Failed attempts scheduled for a retry, by namespace and callable")
                         .Register(r)),
        steps_finished(prometheus::BuildCounter()
                           .Name("tasker_steps_finished_total")
                           .Help("Steps that completed or failed for good, by namespace, callable and state")
                           .Register(r)),
        step_duration(prometheus::BuildHistogram()
                          .Name("tasker_step_duration_seconds")
                          .Help("From claim to recorded outcome, per attempt, by namespace, callable and outcome")
                          .Register(r)),
        claims(prometheus::BuildCounter()
                   .Name("tasker_worker_claims_total")
                   .Help("Steps claimed by the worker")
                   .Register(r)),
        reclaims(prometheus::BuildCounter()
                     .Name("tasker_worker_lease_reclaims_total")
                     .Help("Expired leases the worker failed as worker_lost")
                     .Register(r)),
        discarded(prometheus::BuildCounter()
                      .Name("tasker_worker_results_discarded_total")
                      .Help("Results fenced out (late, cancelled or reset)")
                      .Register(r)),
        tasks(
            prometheus::BuildGauge().Name("tasker_tasks").Help("Tasks in an active state, database-wide").Register(r)),
        steps(
            prometheus::BuildGauge().Name("tasker_steps").Help("Steps in an active state, database-wide").Register(r)),
        ready(prometheus::BuildGauge()
                  .Name("tasker_ready_steps")
                  .Help("The ready queue: steps claimable now, database-wide")
                  .Register(r)),
        database_up(prometheus::BuildGauge()
                        .Name("tasker_database_up")
                        .Help("1 when the last read of the gauges succeeded")
                        .Register(r)),
        requests(prometheus::BuildCounter()
                     .Name("tasker_http_requests_total")
                     .Help("HTTP requests answered, by route, method and status")
                     .Register(r)),
        auth_failures(
            prometheus::BuildCounter()
                .Name("tasker_http_auth_failures_total")
                .Help("Requests refused for their API key, by reason (missing, malformed, invalid, forbidden)")
                .Register(r)),
        connections_refused(prometheus::BuildCounter()
                                .Name("tasker_http_connections_refused_total")
                                .Help("Connections closed at accept, by the limit reached (connections, per_client)")
                                .Register(r)) {}

  prometheus::Family<prometheus::Counter>& tasks_created;
  prometheus::Family<prometheus::Counter>& tasks_finished;
  prometheus::Family<prometheus::Counter>& step_attempts;
  prometheus::Family<prometheus::Counter>& step_retries;
  prometheus::Family<prometheus::Counter>& steps_finished;
  prometheus::Family<prometheus::Histogram>& step_duration;
  prometheus::Family<prometheus::Counter>& claims;
  prometheus::Family<prometheus::Counter>& reclaims;
  prometheus::Family<prometheus::Counter>& discarded;
  prometheus::Family<prometheus::Gauge>& tasks;
  prometheus::Family<prometheus::Gauge>& steps;
  prometheus::Family<prometheus::Gauge>& ready;
  prometheus::Family<prometheus::Gauge>& database_up;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& auth_failures;
  prometheus::Family<prometheus::Counter>& connections_refused;
};

Metrics::Metrics(std::shared_ptr<EventBus> events, std::shared_ptr<Client> client,
                 std::function<WorkerStats()> worker_stats)
    : registry_(std::make_shared<prometheus::Registry>()),
      f_(std::make_unique<Families>(*registry_)),
      events_(std::move(events)),
      client_(std::move(client)),
      worker_stats_(std::move(worker_stats)) {
  if (events_) subscription_ = events_->subscribe("*", [this](const LifecycleEvent& e) { on_event(e); });
}

Metrics::~Metrics() {
  if (events_) events_->unsubscribe(subscription_);
}

void Metrics::on_event(const LifecycleEvent& e) {
  using namespace tasker::events;
  const std::string key = e.task_uuid + "/" + e.step_name;
  std::lock_guard lock(mutex_);
  if (e.name == kTaskCreated) {
    f_->tasks_created.Add({{"namespace", e.payload.value("namespace", "")}}).Increment();
  } else if (e.name == kTaskCompleted) {
    f_->tasks_finished.Add({{"state", e.payload.value("state", "complete")}}).Increment();
  } else if (e.name == kTaskFailed) {
    f_->tasks_finished.Add({{"state", "error"}}).Increment();
  } else if (e.name == kTaskCancelled) {
    f_->tasks_finished.Add({{"state", "cancelled"}}).Increment();
  } else if (e.name == kStepStarted) {
    Started s{e.payload.value("namespace", ""), e.payload.value("callable", ""), e.at};
    if (s.callable.empty()) return;
    f_->step_attempts.Add({{"namespace", s.namespace_name}, {"callable", s.callable}}).Increment();
    if (started_.size() >= kMaxInFlight) started_.erase(started_.begin());
    started_[key] = std::move(s);
  } else if (e.name == kStepCompleted || e.name == kStepFailed) {
    auto it = started_.find(key);
    if (it == started_.end()) return;  // an operator's action, or an attempt another process started
    const Started s = it->second;
    started_.erase(it);
    const bool success = e.name == kStepCompleted;
    const double seconds = std::chrono::duration<double>(e.at - s.at).count();
    static const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                                 2.5,   5,    10,    30,   60,  300,  1800};
    f_->step_duration
        .Add({{"namespace", s.namespace_name}, {"callable", s.callable}, {"outcome", success ? "success" : "failure"}},
             buckets)
        .Observe(seconds);
    const bool retried = !success && e.payload.value("will_retry", false);
    if (retried)
      f_->step_retries.Add({{"namespace", s.namespace_name}, {"callable", s.callable}}).Increment();
    else
      f_->steps_finished
          .Add({{"namespace", s.namespace_name}, {"callable", s.callable}, {"state", success ? "complete" : "error"}})
          .Increment();
  }
}

void Metrics::observe_request(const std::string& route, const std::string& method, int status) {
  f_->requests.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}}).Increment();
}

void Metrics::observe_auth_failure(const std::string& reason) {
  f_->auth_failures.Add({{"reason", reason}}).Increment();
}

void Metrics::observe_connection_refused(const std::string& reason) {
  f_->connections_refused.Add({{"reason", reason}}).Increment();
}

void Metrics::refresh_gauges() {
  const auto now = std::chrono::steady_clock::now();
  if (!client_ || (gauges_read_at_ && now - *gauges_read_at_ < kGaugeInterval)) return;
  gauges_read_at_ = now;
  try {
    const ActivityCounts a = client_->activity();
    f_->tasks.Add({{"state", "pending"}}).Set(static_cast<double>(a.tasks_pending));
    f_->tasks.Add({{"state", "in_progress"}}).Set(static_cast<double>(a.tasks_in_progress));
    f_->steps.Add({{"state", "enqueued"}}).Set(static_cast<double>(a.steps_enqueued));
    f_->steps.Add({{"state", "in_progress"}}).Set(static_cast<double>(a.steps_in_progress));
    f_->steps.Add({{"state", "waiting_for_retry"}}).Set(static_cast<double>(a.steps_waiting_for_retry));
    f_->ready.Add({}).Set(static_cast<double>(a.steps_ready));
    f_->database_up.Add({}).Set(1);
  } catch (const StorageError& e) {
    detail::log().warn("metrics: cannot read the gauges: {}", e.what());
    f_->database_up.Add({}).Set(0);
  }
}

std::string Metrics::scrape() {
  {
    // Its own lock: a slow database read must not hold up event delivery (a worker's coordinator).
    std::lock_guard lock(gauge_mutex_);
    refresh_gauges();
  }
  {
    std::lock_guard lock(mutex_);
    if (worker_stats_) {
      // Mirror the worker's monotonic counters: add what grew since the last scrape.
      const WorkerStats s = worker_stats_();
      f_->claims.Add({}).Increment(static_cast<double>(s.claimed - mirrored_.claimed));
      f_->reclaims.Add({}).Increment(static_cast<double>(s.reclaimed - mirrored_.reclaimed));
      f_->discarded.Add({}).Increment(static_cast<double>(s.discarded - mirrored_.discarded));
      mirrored_ = s;
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace tasker::server
