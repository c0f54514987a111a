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

/// /metrics and /api-docs/openapi.json.
void add_metrics_and_docs_routes(HttpCore& http, const std::shared_ptr<Metrics>& metrics);

/// A readiness check of the database through `client` (a cheap read), timed.
json database_check(Client& client, Readiness& readiness);

}  // namespace tasker::server
