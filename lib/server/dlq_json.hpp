#pragma once
// The request shapes of /v1/dlq (docs/api.md) in both directions: the routes
// read them, HttpApi writes them. The answers' field names are the model's
// (tasker/dlq.hpp, to_json), tasker-core's.
#include <string>

#include "tasker/dlq.hpp"
#include "tasker/json.hpp"

namespace tasker::server {

/// A PATCH /v1/dlq/entry/{uuid} body: resolution_status, resolution_notes,
/// resolved_by, metadata, each optional. Throws ApiError 400 naming the field
/// that is unknown or of the wrong type, or the allowed statuses.
[[nodiscard]] DlqUpdate dlq_update_from(const json& body);
[[nodiscard]] json to_update_json(const DlqUpdate& update);

/// A resolution status by name (or tasker-core's JSON spelling); ApiError 400
/// naming `field` and the allowed values otherwise.
[[nodiscard]] DlqResolutionStatus resolution_status_of(const std::string& text, const std::string& field);

}  // namespace tasker::server
