#include "schedule_json.hpp"

#include <fmt/format.h>

#include <set>

#include "api_json.hpp"
#include "http_core.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

namespace {

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

}  // namespace

ScheduleUpdate schedule_update_from(const json& body) {
  check_body_keys(body, {"cron", "time_zone", "context", "overlap", "catch_up", "paused"}, "a schedule");
  ScheduleUpdate u;
  u.cron = optional_text(body, "cron");
  u.time_zone = optional_text(body, "time_zone");
  if (body.contains("context")) u.context = body.at("context");
  if (auto o = optional_text(body, "overlap")) u.overlap = overlap_of(*o);
  if (auto c = optional_text(body, "catch_up")) u.catch_up = catch_up_of(*c);
  if (body.contains("paused")) u.paused = flag(body, "paused");
  return u;
}

ScheduleRequest schedule_request_from(const json& body) {
  check_body_keys(
      body,
      {"name", "namespace", "task_name", "version", "cron", "time_zone", "context", "overlap", "catch_up", "paused"},
      "a schedule");
  for (const char* required : {"name", "namespace", "task_name", "cron"})
    if (!body.contains(required))
      throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` is required", required), {{"field", required}});
  ScheduleRequest r;
  r.name = text(body, "name");
  r.namespace_name = text(body, "namespace");
  r.task_name = text(body, "task_name");
  r.version = optional_text(body, "version").value_or("");
  // The rest is what an update may change, read the same way.
  json rest = body;
  for (const char* key : {"name", "namespace", "task_name", "version"}) rest.erase(key);
  const ScheduleUpdate u = schedule_update_from(rest);
  r.cron = text(body, "cron");  // required: null is not a cron
  r.time_zone = u.time_zone.value_or("UTC");
  r.context = u.context.value_or(json::object());
  r.overlap = u.overlap.value_or(ScheduleOverlap::allow);
  r.catch_up = u.catch_up.value_or(ScheduleCatchUp::latest);
  r.paused = u.paused.value_or(false);
  return r;
}

json to_request_json(const ScheduleRequest& r) {
  json body = {{"name", r.name},
               {"namespace", r.namespace_name},
               {"task_name", r.task_name},
               {"cron", r.cron},
               {"time_zone", r.time_zone},
               {"context", r.context},
               {"overlap", std::string(to_string(r.overlap))},
               {"catch_up", std::string(to_string(r.catch_up))},
               {"paused", r.paused}};
  if (!r.version.empty()) body["version"] = r.version;
  return body;
}

json to_update_json(const ScheduleUpdate& u) {
  json body = json::object();
  if (u.cron) body["cron"] = *u.cron;
  if (u.time_zone) body["time_zone"] = *u.time_zone;
  if (u.context) body["context"] = *u.context;
  if (u.overlap) body["overlap"] = std::string(to_string(*u.overlap));
  if (u.catch_up) body["catch_up"] = std::string(to_string(*u.catch_up));
  if (u.paused) body["paused"] = *u.paused;
  return body;
}

ScheduleView schedule_from(const json& r) {
  try {
    auto time_or_none = [&](const char* key) {
      const json& v = r.at(key);
      return v.is_null() ? std::nullopt : std::optional<TimePoint>(parse_time(v.get<std::string>()));
    };
    ScheduleView s;
    s.name = r.at("name").get<std::string>();
    s.namespace_name = r.at("namespace").get<std::string>();
    s.task_name = r.at("task_name").get<std::string>();
    s.version = r.at("version").get<std::string>();
    s.cron = r.at("cron").get<std::string>();
    s.time_zone = r.at("time_zone").get<std::string>();
    s.context = r.at("context");
    const auto overlap = parse_schedule_overlap(r.at("overlap").get<std::string>());
    const auto catch_up = parse_schedule_catch_up(r.at("catch_up").get<std::string>());
    if (!overlap || !catch_up)
      throw Error(fmt::format("the server's schedule `{}` has an overlap or catch_up this client does not know: {}",
                              s.name, r.dump()));
    s.overlap = *overlap;
    s.catch_up = *catch_up;
    s.paused = r.at("paused").get<bool>();
    s.next_tick = time_or_none("next_tick");
    s.last_tick = time_or_none("last_tick");
    s.last_task_uuid = r.at("last_task_uuid").is_null() ? "" : r.at("last_task_uuid").get<std::string>();
    s.created_at = parse_time(r.at("created_at").get<std::string>());
    s.updated_at = parse_time(r.at("updated_at").get<std::string>());
    return s;
  } catch (const json::exception& e) {
    throw Error(fmt::format("the server's schedule is not what docs/api.md describes: {}", e.what()));
  }
}

}  // namespace tasker::server
