#pragma once
// The route groups (internal). Each registers its routes on an HttpCore;
// docs/api.md documents them and openapi.json describes them.
#include <functional>
#include <memory>
#include <string>

#include "http_core.hpp"
#include "metrics.hpp"
#include "tasker/client.hpp"
#include "tasker/graph.hpp"
#include "tasker/template_set.hpp"

namespace tasker::server {

/// /v1/tasks and everything below it.
void add_task_routes(HttpCore& http, const std::shared_ptr<Client>& client);
/// /v1/schedules: list, create, read, update, delete, trigger (docs/schedules.md).
void add_schedule_routes(HttpCore& http, const std::shared_ptr<Client>& client);
/// /v1/dlq: the dead-letter entries, their stats, the investigation queue and staleness (docs/triage.md).
void add_dlq_routes(HttpCore& http, const std::shared_ptr<Client>& client);
/// GET /v1/templates, /v1/templates/{namespace}/{name}/{version} (the orchestration's view) and its graph.
void add_template_routes(HttpCore& http, const std::shared_ptr<const TemplateSet>& templates);

/// What /health/ready reports: `checks` and `info`, and whether all is well.
struct Readiness {
  bool ready{true};
  std::string problem;  ///< when not ready: what, and how to fix it
  json checks = json::object();
  json info = json::object();
};

/// /health, /health/live, /health/ready; `identity` is merged into every body.
void add_health_routes(HttpCore& http, const json& identity, const std::function<Readiness()>& readiness);
/// The web view: /, /tasks/{uuid}, /templates, /templates/{namespace}/{name}/{version}
/// and their files under /ui/ (public: the pages hold no data, their scripts call the API).
void add_web_routes(HttpCore& http);
/// A DAG as the graph routes answer it: SVG drawn by Graphviz (query `format`
/// absent or `svg`), or dot or Mermaid text (`format=dot|mermaid`).
void write_graph(const Request& req, Response& res, const GraphSpec& graph);

/// GET /health/detailed (public, as tasker-core's): readiness's checks and
/// info, plus the pool's use and the queue's depth by state, its oldest ready
/// step's age and the waiting steps, each check `{status, message, duration_ms}`.
/// A queue whose oldest ready step waits longer than `ready_threshold` is degraded.
void add_detailed_health_route(HttpCore& http, const std::shared_ptr<Client>& client,
                               const std::function<Readiness()>& readiness, std::chrono::milliseconds ready_threshold);

/// /metrics and /api-docs/openapi.json.
void add_metrics_and_docs_routes(HttpCore& http, const std::shared_ptr<Metrics>& metrics);

/// A readiness check of the database through `client` (a cheap read), timed.
json database_check(Client& client, Readiness& readiness);

}  // namespace tasker::server
