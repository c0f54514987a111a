// /v1/dlq: tasker-core's dead-letter routes over Client (docs/triage.md, docs/api.md).
#include <fmt/format.h>

#include "dlq_json.hpp"
#include "routes.hpp"

namespace tasker::server {

namespace {

constexpr const char* kUuid = "([^/]+)";

template <typename T>
json array_of(const std::vector<T>& items) {
  json out = json::array();
  for (const T& item : items) out.push_back(to_json(item));
  return out;
}

}  // namespace

void add_dlq_routes(HttpCore& http, const std::shared_ptr<Client>& client) {
  const int depth = http.settings().max_json_depth;
  Client& c = *client;
  http.route("GET", "/v1/dlq", "dlq:read", [client, &c](const Request& req, Response& res) {
    DlqFilter filter;
    if (auto s = query_text(req, "resolution_status"))
      filter.resolution_status = resolution_status_of(*s, "resolution_status");
    filter.limit = static_cast<int>(query_number(req, "limit", 50, 1, 1000));
    filter.offset = query_number(req, "offset", 0, 0, 1'000'000'000);
    write_json(res, 200, array_of(c.list_dlq(filter)));
  });
  http.route("GET", fmt::format("/v1/dlq/task/{}", kUuid), "dlq:read", [client, &c](const Request& req, Response& res) {
    write_json(res, 200, to_json(c.get_dlq_entry(uuid_param(req, 1, "task"))));
  });
  http.route("PATCH", fmt::format("/v1/dlq/entry/{}", kUuid), "dlq:update",
             [client, &c, depth](const Request& req, Response& res) {
               const std::string uuid = uuid_param(req, 1, "dead-letter entry");
               const DlqEntry entry = c.update_dlq_entry(uuid, dlq_update_from(parse_body(req, depth)));
               // tasker-core's answer, and the entry as it now is (a tasker addition).
               write_json(res, 200,
                          {{"success", true},
                           {"message", "Investigation status updated successfully"},
                           {"dlq_entry_uuid", uuid},
                           {"entry", to_json(entry)}});
             });
  http.route("GET", "/v1/dlq/stats", "dlq:stats",
             [client, &c](const Request&, Response& res) { write_json(res, 200, array_of(c.dlq_stats())); });
  http.route("GET", "/v1/dlq/investigation-queue", "dlq:read", [client, &c](const Request& req, Response& res) {
    write_json(res, 200,
               array_of(c.dlq_investigation_queue(static_cast<int>(query_number(req, "limit", 50, 1, 1000)))));
  });
  http.route("GET", "/v1/dlq/staleness", "dlq:read", [client, &c](const Request& req, Response& res) {
    write_json(res, 200, array_of(c.staleness(static_cast<int>(query_number(req, "limit", 50, 1, 1000)))));
  });
}

}  // namespace tasker::server
