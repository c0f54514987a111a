// /v1/schedules: cron schedules over Client (docs/schedules.md, docs/api.md).
#include <fmt/format.h>

#include "api_json.hpp"
#include "routes.hpp"
#include "schedule_json.hpp"
#include "tasker/schedule.hpp"

namespace tasker::server {

namespace {

constexpr const char* kName = "([^/]+)";

/// A trigger takes no fields: a body, when sent, must be `{}`. A field sent (a context, say) would
/// otherwise be ignored: the task's context is the schedule's.
void check_trigger_body(const Request& req, int depth) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return;
  const json body = parse_body(req, depth);
  if (!body.is_object()) throw ApiError(400, "BAD_REQUEST", "the body must be a JSON object");
  if (!body.empty())
    throw ApiError(400, "BAD_REQUEST",
                   fmt::format("unknown field `{}`: a trigger takes no fields (send no body, or {{}}); the task's "
                               "context is the schedule's, changed with PATCH /v1/schedules/{{name}}",
                               body.begin().key()),
                   {{"field", body.begin().key()}});
}

}  // namespace

void add_schedule_routes(HttpCore& http, const std::shared_ptr<Client>& client) {
  const int depth = http.settings().max_json_depth;
  Client& c = *client;
  http.route("GET", "/v1/schedules", "schedules:read", [client, &c](const Request&, Response& res) {
    json out = json::array();
    for (const auto& s : c.list_schedules()) out.push_back(to_json(s));
    write_json(res, 200, {{"schedules", out}});
  });
  http.route("POST", "/v1/schedules", "schedules:create", [client, &c, depth](const Request& req, Response& res) {
    write_json(res, 201, to_json(c.create_schedule(schedule_request_from(parse_body(req, depth)))));
  });
  http.route("GET", fmt::format("/v1/schedules/{}", kName), "schedules:read",
             [client, &c](const Request& req, Response& res) {
               write_json(res, 200, to_json(c.get_schedule(req.matches[1])));
             });
  http.route("PATCH", fmt::format("/v1/schedules/{}", kName), "schedules:update",
             [client, &c, depth](const Request& req, Response& res) {
               write_json(res, 200,
                          to_json(c.update_schedule(req.matches[1], schedule_update_from(parse_body(req, depth)))));
             });
  http.route("DELETE", fmt::format("/v1/schedules/{}", kName), "schedules:delete",
             [client, &c](const Request& req, Response& res) {
               const std::string name = req.matches[1];
               c.delete_schedule(name);
               write_json(res, 200, {{"name", name}, {"deleted", true}});
             });
  http.route("POST", fmt::format("/v1/schedules/{}/trigger", kName), "schedules:trigger",
             [client, &c, depth](const Request& req, Response& res) {
               check_trigger_body(req, depth);
               write_json(res, 201, task_response(c.trigger_schedule(req.matches[1])));
             });
}

}  // namespace tasker::server
