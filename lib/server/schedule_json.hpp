#pragma once
// The JSON shapes of /v1/schedules (docs/api.md) in both directions: the
// routes read requests and write views, HttpApi writes requests and reads
// views back. Field names live here only.
#include <string>

#include "tasker/json.hpp"
#include "tasker/schedule.hpp"

namespace tasker::server {

/// A POST /v1/schedules body; throws ApiError 400 naming the field that is
/// missing, unknown or of the wrong type.
[[nodiscard]] ScheduleRequest schedule_request_from(const json& body);
[[nodiscard]] json to_request_json(const ScheduleRequest& request);

/// A PATCH /v1/schedules/{name} body; throws as schedule_request_from does.
[[nodiscard]] ScheduleUpdate schedule_update_from(const json& body);
[[nodiscard]] json to_update_json(const ScheduleUpdate& update);

/// A schedule as the API shows it (to_json(ScheduleView)) read back; throws Error when malformed.
[[nodiscard]] ScheduleView schedule_from(const json& response);

}  // namespace tasker::server
