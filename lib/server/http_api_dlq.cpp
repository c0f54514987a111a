// HttpApi's DlqApi: /v1/dlq (docs/api.md, docs/triage.md).
#include <fmt/format.h>
#include <httplib.h>

#include "dlq_json.hpp"
#include "tasker/http_api.hpp"

namespace tasker::testing {

namespace {
template <typename T>
std::vector<T> list_of(const json& body, T (*from)(const json&)) {
  std::vector<T> out;
  if (!body.is_array()) throw Error("a /v1/dlq answer is not a JSON array");
  for (const json& item : body) out.push_back(from(item));
  return out;
}
}  // namespace

std::vector<DlqEntry> HttpApi::list_dlq(const DlqFilter& filter) {
  std::string path = fmt::format("/v1/dlq?limit={}&offset={}", filter.limit, filter.offset);
  if (filter.resolution_status) path += fmt::format("&resolution_status={}", to_string(*filter.resolution_status));
  return list_of<DlqEntry>(call("GET", path), dlq_entry_from_json);
}

DlqEntry HttpApi::get_dlq_entry(const std::string& task_uuid) {
  return dlq_entry_from_json(call("GET", "/v1/dlq/task/" + httplib::detail::encode_query_param(task_uuid)));
}

DlqEntry HttpApi::update_dlq_entry(const std::string& dlq_entry_uuid, const DlqUpdate& update) {
  const json body = server::to_update_json(update);
  const json answer = call("PATCH", "/v1/dlq/entry/" + httplib::detail::encode_query_param(dlq_entry_uuid), &body);
  if (!answer.is_object() || !answer.contains("entry"))
    throw Error("the PATCH /v1/dlq/entry answer has no `entry`: is this a tasker service?");
  return dlq_entry_from_json(answer.at("entry"));
}

std::vector<DlqStats> HttpApi::dlq_stats() {
  return list_of<DlqStats>(call("GET", "/v1/dlq/stats"), dlq_stats_from_json);
}

std::vector<DlqQueueEntry> HttpApi::dlq_investigation_queue(int limit) {
  return list_of<DlqQueueEntry>(call("GET", fmt::format("/v1/dlq/investigation-queue?limit={}", limit)),
                                dlq_queue_entry_from_json);
}

std::vector<StalenessEntry> HttpApi::staleness(int limit) {
  return list_of<StalenessEntry>(call("GET", fmt::format("/v1/dlq/staleness?limit={}", limit)),
                                 staleness_entry_from_json);
}

}  // namespace tasker::testing
