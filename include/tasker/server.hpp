#pragma once
// tasker's HTTP surface (docs/api.md), in the `tasker::server` library: link
// it only if you serve HTTP. ApiServer serves tasker-core's orchestration API
// over a Client (what `tasker serve` runs); WorkerServer serves a worker's
// health, metrics and the handlers it can run (`tasker worker --listen`).
// Both listen on background threads between start() and stop().
#include <memory>
#include <string>
#include <vector>

#include "tasker/client.hpp"
#include "tasker/config.hpp"
#include "tasker/events.hpp"
#include "tasker/handler.hpp"
#include "tasker/template_set.hpp"
#include "tasker/worker.hpp"

namespace tasker {

/// POST/GET /v1/tasks..., /v1/templates, /health*, /metrics, /api-docs/openapi.json.
class ApiServer {
 public:
  /// `events`: the bus `client` publishes to (its ClientOptions::events), for
  /// the metrics; may be null. Throws ConfigurationError for unusable
  /// settings (a non-loopback address without API keys, a TLS file that
  /// cannot be loaded, a malformed listen address).
  ApiServer(const std::shared_ptr<Client>& client, ServerSettings settings, std::shared_ptr<EventBus> events = nullptr);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Bind and serve. Throws Error when the address cannot be bound.
  void start();
  /// Stop accepting, finish the requests in progress, join the threads. Idempotent.
  void stop();
  /// The bound port (listen on port 0 to get a free one); 0 before start().
  [[nodiscard]] int port() const;
  /// `http://HOST:PORT` (https with TLS).
  [[nodiscard]] std::string url() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// What a worker process serves about itself.
struct WorkerServerSources {
  std::shared_ptr<Worker> worker;                   ///< required: its id, stats, liveness
  std::shared_ptr<const HandlerRegistry> handlers;  ///< required: the callables it can run
  std::shared_ptr<const TemplateSet> templates;     ///< the templates its steps come from (may be null)
  std::shared_ptr<Client> client;                   ///< for the database check and gauges (may be null)
  std::shared_ptr<EventBus> events;                 ///< the worker's bus, for the step metrics (may be null)
  std::vector<std::string> namespaces;              ///< the worker's namespace filter; empty: all
};

/// GET /health, /health/live, /health/ready, /metrics, /v1/templates (the
/// namespaces and callables this worker can run), /api-docs/openapi.json.
class WorkerServer {
 public:
  /// Throws as ApiServer's constructor does.
  WorkerServer(WorkerServerSources sources, ServerSettings settings);
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  void start();
  void stop();
  [[nodiscard]] int port() const;
  [[nodiscard]] std::string url() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tasker
