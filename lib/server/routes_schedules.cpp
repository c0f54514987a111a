// /v1/schedules: cron schedules over Client (docs/schedules.md, docs/api.md).
#include <fmt/format.h>

#include <set>

#include "api_json.hpp"
#include "routes.hpp"
#include "tasker/errors.hpp"
#include "tasker/schedule.hpp"

namespace tasker::server {

namespace {

constexpr const char* kName = "([^/]+)";

/// A body's keys must be among `known`: a key tasker would not act on is refused, not ignored.
void check_keys(const json& body, const std::set<std::string>& known) {
  if (!body.is_object()) throw ApiError(400, "BAD_REQUEST", "the body must be a JSON object");
  for (const auto& [key, value] : body.items())
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw ApiError(400, "BAD_REQUEST", fmt::format("unknown field `{}`; a schedule has {}", key, list),
                     {{"field", key}});
    }
}

std::string text(const json& body, const std::string& key) {
  const json& v = body.at(key);
  if (!v.is_string())
    throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` must be a string, not {}", key, v.type_name()),
                   {{"field", key}});
  return v.get<std::string>();
}

std::optional<std::string> optional_text(const json& body, const std::string& key) {
  if (!body.contains(key) || body.at(key).is_null()) return std::nullopt;
  return text(body, key);
}

ScheduleOverlap overlap_of(const std::string& value) {
  if (auto o = parse_schedule_overlap(value)) return *o;
  throw ApiError(400, "BAD_REQUEST", fmt::format("`overlap` must be allow or skip, not `{}`", value),
                 {{"field", "overlap"}});
}

ScheduleCatchUp catch_up_of(const std::string& value) {
  if (auto c = parse_schedule_catch_up(value)) return *c;
  throw ApiError(400, "BAD_REQUEST", fmt::format("`catch_up` must be none, latest or all, not `{}`", value),
                 {{"field", "catch_up"}});
}

bool flag(const json& body, const std::string& key) {
  const json& v = body.at(key);
  if (!v.is_boolean())
    throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` must be true or false", key), {{"field", key}});
  return v.get<bool>();
}

ScheduleRequest create_request(const json& body) {
  check_keys(body, {"name", "namespace", "task_name", "version", "cron", "time_zone", "context", "overlap", "catch_up",
                    "paused"});
  for (const char* required : {"name", "namespace", "task_name", "cron"})
    if (!body.contains(required))
      throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` is required", required), {{"field", required}});
  ScheduleRequest r;
  r.name = text(body, "name");
  r.namespace_name = text(body, "namespace");
  r.task_name = text(body, "task_name");
  r.version = optional_text(body, "version").value_or("");
  r.cron = text(body, "cron");
  r.time_zone = optional_text(body, "time_zone").value_or("UTC");
  if (body.contains("context")) r.context = body.at("context");
  if (auto o = optional_text(body, "overlap")) r.overlap = overlap_of(*o);
  if (auto c = optional_text(body, "catch_up")) r.catch_up = catch_up_of(*c);
  if (body.contains("paused")) r.paused = flag(body, "paused");
  return r;
}

ScheduleUpdate update_of(const json& body) {
  check_keys(body, {"cron", "time_zone", "context", "overlap", "catch_up", "paused"});
  ScheduleUpdate u;
  u.cron = optional_text(body, "cron");
  u.time_zone = optional_text(body, "time_zone");
  if (body.contains("context")) u.context = body.at("context");
  if (auto o = optional_text(body, "overlap")) u.overlap = overlap_of(*o);
  if (auto c = optional_text(body, "catch_up")) u.catch_up = catch_up_of(*c);
  if (body.contains("paused")) u.paused = flag(body, "paused");
  return u;
}

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
    write_json(res, 201, to_json(c.create_schedule(create_request(parse_body(req, depth)))));
  });
  http.route("GET", fmt::format("/v1/schedules/{}", kName), "schedules:read",
             [client, &c](const Request& req, Response& res) {
               write_json(res, 200, to_json(c.get_schedule(req.matches[1])));
             });
  http.route("PATCH", fmt::format("/v1/schedules/{}", kName), "schedules:update",
             [client, &c, depth](const Request& req, Response& res) {
               write_json(res, 200, to_json(c.update_schedule(req.matches[1], update_of(parse_body(req, depth)))));
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
