// Health, readiness, metrics and the OpenAPI document: public routes (no API key).
#include <fmt/format.h>

#include <chrono>

#include "routes.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

extern const char* const kOpenApiDocument;  // openapi.json, embedded at build time

namespace {
json stamped(json identity, const char* status) {
  identity["status"] = status;
  identity["timestamp"] = format_time(SystemClock::instance().now());
  return identity;
}
}  // namespace

json database_check(Client& client, Readiness& readiness) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  try {
    (void)client.activity();
    return {{"status", "healthy"}, {"message", "the database answered"}, {"duration_ms", elapsed()}};
  } catch (const StorageError& e) {
    readiness.ready = false;
    readiness.problem = "the database is unreachable; the server log has the details";
    return {{"status", "unhealthy"}, {"message", "the database did not answer"}, {"duration_ms", elapsed()}};
  }
}

void add_health_routes(HttpCore& http, const json& identity, const std::function<Readiness()>& readiness) {
  // Liveness answers on the I/O thread: it says the process serves, however busy its handlers are.
  http.route(
      "GET", "/health", "",
      [identity](const Request&, Response& res) { write_json(res, 200, stamped(identity, "healthy")); },
      Runs::on_io_thread);
  http.route(
      "GET", "/health/live", "",
      [identity](const Request&, Response& res) { write_json(res, 200, stamped(identity, "alive")); },
      Runs::on_io_thread);
  http.route("GET", "/health/ready", "", [identity, readiness](const Request&, Response& res) {
    Readiness r = readiness();
    json body = stamped(identity, r.ready ? "healthy" : "unhealthy");
    body["checks"] = r.checks;
    body["info"] = r.info;
    if (!r.ready) body["error"] = {{"code", "SERVICE_UNAVAILABLE"}, {"message", r.problem}};
    write_json(res, r.ready ? 200 : 503, body);
    if (!r.ready) res.set_header("Retry-After", "5");
  });
}

void add_detailed_health_route(HttpCore& http, const std::shared_ptr<Client>& client,
                               const std::function<Readiness()>& readiness, std::chrono::milliseconds ready_threshold) {
  http.route("GET", "/health/detailed", "", [client, readiness, ready_threshold](const Request&, Response& res) {
    Readiness r = readiness();
    json body = stamped(json::object(), r.ready ? "healthy" : "unhealthy");
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };
    const PoolUsage pool = client->pool_usage();
    const double share = pool.size > 0 ? static_cast<double>(pool.in_use) / pool.size : 0.0;
    r.checks["pool_utilization"] = {
        {"status", share >= 0.9 ? "degraded" : "healthy"},
        {"message", fmt::format("{} of {} connections in use, {} open", pool.in_use, pool.size, pool.open)},
        {"duration_ms", elapsed()}};
    r.info["pool_utilization"] = {
        {"size", pool.size}, {"open", pool.open}, {"in_use", pool.in_use}, {"utilization", share}};
    if (r.ready) {
      try {
        const auto start_queue = std::chrono::steady_clock::now();
        const ActivityCounts a = client->activity();
        const TimePoint now = SystemClock::instance().now();
        const double oldest =
            a.oldest_ready_since ? static_cast<double>((now - *a.oldest_ready_since).count()) / 1000.0 : 0.0;
        const bool late = oldest * 1000.0 > static_cast<double>(ready_threshold.count());
        r.checks["queue_depth"] = {
            {"status", late ? "degraded" : "healthy"},
            {"message",
             fmt::format("{} steps ready, the oldest for {:.1f} s{}; {} running, {} waiting to retry", a.steps_ready,
                         oldest, late ? " (beyond dlq.staleness.enqueued: are workers running?)" : "",
                         a.steps_in_progress, a.steps_waiting_for_retry)},
            {"duration_ms",
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_queue).count()}};
        r.info["queue_depth"] = {
            {"tasks_pending", a.tasks_pending},         {"tasks_in_progress", a.tasks_in_progress},
            {"steps_enqueued", a.steps_enqueued},       {"steps_ready", a.steps_ready},
            {"steps_in_progress", a.steps_in_progress}, {"steps_waiting_for_retry", a.steps_waiting_for_retry}};
        r.info["oldest_ready_step_age_seconds"] = oldest;
        r.info["waiting_steps"] = a.steps_waiting_for_retry;
      } catch (const StorageError&) {
        r.checks["queue_depth"] = {
            {"status", "unknown"}, {"message", "the database did not answer"}, {"duration_ms", elapsed()}};
      }
    }
    body["checks"] = r.checks;
    body["info"] = r.info;
    write_json(res, 200, body);
  });
}

void add_metrics_and_docs_routes(HttpCore& http, const std::shared_ptr<Metrics>& metrics) {
  http.route("GET", "/metrics", "", [metrics](const Request&, Response& res) {
    res.status = 200;
    res.set_content(metrics->scrape(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.route(
      "GET", "/api-docs/openapi.json", "",
      [](const Request&, Response& res) {
        res.status = 200;
        res.set_content(kOpenApiDocument, "application/json");
      },
      Runs::on_io_thread);
  http.set_observer([metrics](const std::string& route, const std::string& method, int status) {
    metrics->observe_request(route, method, status);
  });
  http.set_auth_failure_observer([metrics](const std::string& reason) { metrics->observe_auth_failure(reason); });
  http.set_connection_refusal_observer(
      [metrics](const std::string& reason) { metrics->observe_connection_refused(reason); });
}

}  // namespace tasker::server
