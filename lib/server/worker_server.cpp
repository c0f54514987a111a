// A worker's own endpoints (tasker-core's worker API, docs/api.md): health,
// metrics, and the templates, namespaces and callables it can run, so a
// deployment can check that its handlers are discoverable.
#include <fmt/format.h>

#include <set>

#include "http_core.hpp"
#include "metrics.hpp"
#include "routes.hpp"
#include "tasker/errors.hpp"
#include "tasker/server.hpp"
#include "tasker/version.hpp"

namespace tasker {

using namespace tasker::server;

namespace {

/// The templates (and their namespaces) whose every step this worker can run,
/// within its namespace filter, and the callables it has.
json capabilities(const WorkerServerSources& s, const std::string& only) {
  const auto callables = s.handlers->callables();
  const std::set<std::string> have(callables.begin(), callables.end());
  std::set<std::string> namespaces;
  json templates = json::array();
  if (s.templates)
    for (const TaskTemplate* t : s.templates->all()) {
      if (!s.namespaces.empty() &&
          std::find(s.namespaces.begin(), s.namespaces.end(), t->namespace_name) == s.namespaces.end())
        continue;
      if (!only.empty() && t->namespace_name != only) continue;
      json runnable = json::array(), missing = json::array();
      for (const auto& step : t->steps) (have.count(step.handler.callable) ? runnable : missing).push_back(step.name);
      if (runnable.empty()) continue;
      namespaces.insert(t->namespace_name);
      templates.push_back({{"namespace", t->namespace_name},
                           {"name", t->name},
                           {"version", t->version},
                           {"runnable_steps", runnable},
                           {"steps_for_other_workers", missing}});
    }
  return {{"supported_namespaces", namespaces},
          {"template_count", templates.size()},
          {"templates", templates},
          {"worker_capabilities", callables}};
}

}  // namespace

class WorkerServer::Impl {
 public:
  Impl(WorkerServerSources s, ServerSettings settings)
      : sources(std::move(s)), http(std::move(settings), "tasker worker") {
    if (!sources.worker || !sources.handlers)
      throw InvalidRequestError("WorkerServer needs the worker and its handler registry");
    std::weak_ptr<Worker> worker = sources.worker;
    metrics = std::make_shared<Metrics>(sources.events, sources.client, [worker] {
      auto w = worker.lock();
      return w ? w->stats() : WorkerStats{};
    });
    const auto started = std::chrono::steady_clock::now();
    add_health_routes(http, {{"worker_id", sources.worker->id()}}, [this, started] {
      Readiness r;
      if (sources.client) r.checks["database"] = database_check(*sources.client, r);
      const bool running = sources.worker->running();
      r.checks["worker"] = {
          {"status", running ? "healthy" : "unhealthy"},
          {"message", running ? "claiming steps" : "the worker has stopped: " + sources.worker->failure()}};
      if (!running) {
        r.ready = false;
        r.problem = "the worker is not running";
      }
      r.info = {{"version", tasker::version()},
                {"worker_type", "tasker"},
                {"uptime_seconds",
                 std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count()},
                {"supported_namespaces", capabilities(sources, "")["supported_namespaces"]}};
      return r;
    });
    http.route("GET", "/v1/templates", "worker:templates_read",
               [this](const httplib::Request& req, httplib::Response& res) {
                 write_json(res, 200,
                            capabilities(sources, req.has_param("namespace") ? req.get_param_value("namespace") : ""));
               });
    add_metrics_and_docs_routes(http, metrics);
  }
  WorkerServerSources sources;
  HttpCore http;
  std::shared_ptr<Metrics> metrics;
};

WorkerServer::WorkerServer(WorkerServerSources sources, ServerSettings settings)
    : impl_(std::make_unique<Impl>(std::move(sources), std::move(settings))) {}
WorkerServer::~WorkerServer() = default;
void WorkerServer::start() { impl_->http.start(); }
void WorkerServer::stop() { impl_->http.stop(); }
int WorkerServer::port() const { return impl_->http.port(); }
std::string WorkerServer::url() const { return impl_->http.url(); }

}  // namespace tasker
