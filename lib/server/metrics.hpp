#pragma once
// Prometheus metrics of one process (internal): counters and step-duration
// histograms fed by the EventBus's lifecycle events, the worker's counters,
// and gauges of work in flight read from the database at most once a second.
// prometheus-cpp keeps the registry and writes the text format.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "tasker/client.hpp"
#include "tasker/events.hpp"
#include "tasker/worker.hpp"

namespace prometheus {
class Registry;
}

namespace tasker::server {

class Metrics {
 public:
  /// `client`: where the database gauges come from (may be null);
  /// `worker_stats`: the worker's counters (may be empty).
  Metrics(std::shared_ptr<EventBus> events, std::shared_ptr<Client> client,
          std::function<WorkerStats()> worker_stats = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void observe_request(const std::string& route, const std::string& method, int status);
  void observe_auth_failure(const std::string& reason);
  void observe_connection_refused(const std::string& reason);
  /// The Prometheus text exposition of everything.
  [[nodiscard]] std::string scrape();

 private:
  struct Families;
  struct Started {
    std::string namespace_name;
    std::string callable;
    TimePoint at;
  };
  void on_event(const LifecycleEvent& e);
  void refresh_gauges();

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> f_;
  std::shared_ptr<EventBus> events_;
  EventBus::SubscriptionId subscription_{0};
  std::shared_ptr<Client> client_;
  std::function<WorkerStats()> worker_stats_;

  std::mutex mutex_;
  std::unordered_map<std::string, Started> started_;  ///< in-flight attempts seen by this process
  WorkerStats mirrored_;                              ///< the worker counters already added
  std::mutex gauge_mutex_;
  std::optional<std::chrono::steady_clock::time_point> gauges_read_at_;
};

}  // namespace tasker::server
