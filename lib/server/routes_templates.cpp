// GET /v1/templates and /v1/templates/{namespace}/{name}/{version}: the
// templates this server submits from (tasker-core's orchestration shape).
#include <fmt/format.h>

#include <map>

#include "api_json.hpp"
#include "routes.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

namespace {

json template_detail(const TaskTemplate& t) {
  json steps = json::array();
  for (const auto& s : t.steps)
    steps.push_back({{"name", s.name},
                     {"description", s.description},
                     {"default_retryable", s.retry.retryable},
                     {"default_max_attempts", s.retry.max_attempts},
                     {"result_schema", s.extra.value("result_schema", json(nullptr))},
                     {"callable", s.handler.callable},
                     {"dependencies", s.dependencies},
                     {"timeout_seconds", s.timeout_seconds},
                     {"retry", retry_json(s.retry)}});
  return {{"name", t.name},
          {"namespace", t.namespace_name},
          {"version", t.version},
          {"description", t.description},
          {"configuration", t.metadata},
          {"identity_strategy", to_string(t.identity_strategy)},
          {"steps", steps}};
}

}  // namespace

void add_template_routes(HttpCore& http, const std::shared_ptr<const TemplateSet>& templates) {
  http.route("GET", "/v1/templates", "templates:read", [templates](const Request& req, Response& res) {
    const std::string only = req.has_param("namespace") ? req.get_param_value("namespace") : "";
    std::map<std::string, int> per_namespace;
    json list = json::array();
    for (const TaskTemplate* t : templates->all()) {
      if (!only.empty() && t->namespace_name != only) continue;
      ++per_namespace[t->namespace_name];
      list.push_back({{"name", t->name},
                      {"namespace", t->namespace_name},
                      {"version", t->version},
                      {"description", t->description},
                      {"step_count", t->steps.size()}});
    }
    json namespaces = json::array();
    for (const auto& [name, count] : per_namespace)
      namespaces.push_back({{"name", name}, {"description", nullptr}, {"template_count", count}});
    write_json(res, 200, {{"namespaces", namespaces}, {"templates", list}, {"total_count", list.size()}});
  });
  http.route("GET", "/v1/templates/([^/]+)/([^/]+)/([^/]+)", "templates:read",
             [templates](const Request& req, Response& res) {
               // TemplateSet::get throws NotFoundError naming what is loaded.
               write_json(res, 200, template_detail(templates->get(req.matches[1], req.matches[2], req.matches[3])));
             });
  http.route("GET", "/v1/templates/([^/]+)/([^/]+)/([^/]+)/graph", "templates:read",
             [templates](const Request& req, Response& res) {
               write_graph(req, res, graph_of(templates->get(req.matches[1], req.matches[2], req.matches[3])));
             });
}

}  // namespace tasker::server
