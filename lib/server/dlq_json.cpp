#include "dlq_json.hpp"

#include <fmt/format.h>

#include "http_core.hpp"

namespace tasker::server {

namespace {

std::optional<std::string> optional_text(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string())
    throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` must be a string, not {}", key, it->type_name()),
                   {{"field", key}});
  return it->get<std::string>();
}

}  // namespace

DlqResolutionStatus resolution_status_of(const std::string& text, const std::string& field) {
  if (auto s = parse_dlq_resolution_status(text)) return *s;
  throw ApiError(400, "BAD_REQUEST",
                 fmt::format("unknown {} `{}`; use one of {}", field, text, dlq_resolution_status_names()),
                 {{"field", field}});
}

DlqUpdate dlq_update_from(const json& body) {
  check_body_keys(body, {"resolution_status", "resolution_notes", "resolved_by", "metadata"}, "an update");
  DlqUpdate u;
  if (auto s = optional_text(body, "resolution_status"))
    u.resolution_status = resolution_status_of(*s, "resolution_status");
  u.resolution_notes = optional_text(body, "resolution_notes");
  u.resolved_by = optional_text(body, "resolved_by");
  if (body.contains("metadata") && !body.at("metadata").is_null()) u.metadata = body.at("metadata");
  return u;
}

json to_update_json(const DlqUpdate& u) {
  json out = json::object();
  if (u.resolution_status) out["resolution_status"] = to_string(*u.resolution_status);
  if (u.resolution_notes) out["resolution_notes"] = *u.resolution_notes;
  if (u.resolved_by) out["resolved_by"] = *u.resolved_by;
  if (u.metadata) out["metadata"] = *u.metadata;
  return out;
}

}  // namespace tasker::server
