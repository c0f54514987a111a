// HttpApi's ScheduleApi: /v1/schedules (docs/api.md).
#include <fmt/format.h>
#include <httplib.h>

#include "api_json.hpp"
#include "schedule_json.hpp"
#include "tasker/http_api.hpp"

namespace tasker::testing {

namespace {
std::string path_of(const std::string& name) { return "/v1/schedules/" + httplib::detail::encode_query_param(name); }
}  // namespace

ScheduleView HttpApi::create_schedule(const ScheduleRequest& request) {
  const json body = server::to_request_json(request);
  return server::schedule_from(call("POST", "/v1/schedules", &body));
}

ScheduleView HttpApi::get_schedule(const std::string& name) {
  return server::schedule_from(call("GET", path_of(name)));
}

std::vector<ScheduleView> HttpApi::list_schedules() {
  std::vector<ScheduleView> out;
  const json body = call("GET", "/v1/schedules");  // named: a range over a temporary's member would dangle
  for (const auto& s : body.at("schedules")) out.push_back(server::schedule_from(s));
  return out;
}

ScheduleView HttpApi::update_schedule(const std::string& name, const ScheduleUpdate& update) {
  const json body = server::to_update_json(update);
  return server::schedule_from(call("PATCH", path_of(name), &body));
}

ScheduleView HttpApi::pause_schedule(const std::string& name) {
  return update_schedule(name, ScheduleUpdate{.paused = true});
}

ScheduleView HttpApi::resume_schedule(const std::string& name) {
  return update_schedule(name, ScheduleUpdate{.paused = false});
}

void HttpApi::delete_schedule(const std::string& name) { call("DELETE", path_of(name)); }

TaskView HttpApi::trigger_schedule(const std::string& name) {
  return server::task_from(call("POST", path_of(name) + "/trigger"));
}

}  // namespace tasker::testing
