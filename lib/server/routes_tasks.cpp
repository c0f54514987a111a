// /v1/tasks: tasker-core's task and step routes over Client (docs/api.md).
#include <fmt/format.h>

#include <charconv>

#include "api_json.hpp"
#include "routes.hpp"
#include "task_summary.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

namespace {

constexpr const char* kUuid = "([^/]+)";

std::string task_uuid_of(const Request& req) { return uuid_param(req, 1, "task"); }

/// The step named by the path: its uuid, or (a tasker extension) its name.
const StepView& find_step(const TaskSnapshot& snap, const std::string& id) {
  const bool by_uuid = is_uuid(id);
  for (const auto& s : snap.steps)
    if (by_uuid ? s.step_uuid == id : s.name == id) return s;
  throw ApiError(
      404, "NOT_FOUND",
      fmt::format("step `{}` does not belong to task {}; list its steps with GET /v1/tasks/{}/workflow_steps", id,
                  snap.task.uuid, snap.task.uuid),
      {{"resource", "step"}, {"id", id}});
}

std::string text_or(const json& body, const char* key, const std::string& fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_string())
    throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` must be a string, not {}", key, it->type_name()),
                   {{"field", key}});
  return it->get<std::string>();
}

/// A listed task: its context left out when larger than `context_bytes`,
/// with its size and where to read it whole, so a page of tasks stays small.
json listed_task(const TaskView& t, long long context_bytes) {
  json out = task_response(t);
  const std::size_t size = out["context"].dump().size();
  if (size > static_cast<std::size_t>(context_bytes)) {
    out["context"] = json::object();
    out["context_omitted"] = {{"bytes", size}, {"href", "/v1/tasks/" + t.uuid}};
  }
  return out;
}

void list_tasks(Client& client, const Request& req, Response& res, long long context_bytes) {
  const long long page = query_number(req, "page", 1, 1, 1'000'000);
  const long long per_page = query_number(req, "per_page", 25, 1, 100);
  TaskFilter filter;
  filter.namespace_name = query_text(req, "namespace");
  filter.initiator = query_text(req, "initiator");
  filter.source_system = query_text(req, "source_system");
  filter.name = query_text(req, "name");
  if (auto status = query_text(req, "status")) {
    filter.state = parse_task_state(*status);
    if (!filter.state)
      throw ApiError(400, "BAD_REQUEST",
                     fmt::format("unknown status `{}`; tasker's task states are pending, in_progress, complete, "
                                 "error, cancelled, resolved_manually",
                                 *status));
  }
  filter.limit = static_cast<int>(per_page);
  filter.offset = (page - 1) * per_page;
  filter.count_total = true;
  TaskPage result = client.list_tasks(filter);
  json tasks = json::array();
  for (const auto& t : result.tasks) tasks.push_back(listed_task(t, context_bytes));
  const long long total = result.total_count.value_or(0);
  write_json(res, 200,
             {{"tasks", tasks},
              {"pagination",
               {{"page", page},
                {"per_page", per_page},
                {"total_count", total},
                {"total_pages", (total + per_page - 1) / per_page},
                {"has_next", page * per_page < total},
                {"has_previous", page > 1}}}});
}

/// PATCH .../workflow_steps/{step}: tasker-core's StepManualAction.
void manual_action(Client& client, const Request& req, Response& res, int max_depth) {
  const std::string task_uuid = task_uuid_of(req);
  const json body = parse_body(req, max_depth);
  if (!body.is_object()) throw ApiError(400, "BAD_REQUEST", "the body must be a JSON object with `action_type`");
  const std::string action = text_or(body, "action_type", "");
  const std::string step = find_step(client.snapshot(task_uuid), req.matches[2]).name;
  auto reason_by = [&](const char* by_key, const char* fallback) {
    std::string reason = text_or(body, "reason", fallback);
    std::string by = text_or(body, by_key, "");
    return by.empty() ? reason : fmt::format("{} (by {})", reason, by);
  };
  StepView changed;
  if (action == "reset_for_retry") {
    changed = client.reset_step_for_retry(task_uuid, step, reason_by("reset_by", "reset by operator"));
  } else if (action == "rerun") {
    changed = client.rerun_step(task_uuid, step, reason_by("rerun_by", "rerun by operator"));
  } else if (action == "resolve_manually") {
    changed = client.resolve_step_manually(task_uuid, step, reason_by("resolved_by", "resolved by operator"));
  } else if (action == "complete_manually") {
    auto data = body.find("completion_data");
    if (data == body.end() || !data->is_object() || !data->contains("result"))
      throw ApiError(400, "BAD_REQUEST",
                     "complete_manually needs `completion_data: {\"result\": ...}`: the result dependents will see",
                     {{"field", "completion_data"}});
    changed = client.complete_step_manually(task_uuid, step, data->at("result"),
                                            reason_by("completed_by", "completed by operator"));
  } else {
    throw ApiError(400, "BAD_REQUEST",
                   fmt::format("`action_type` must be reset_for_retry, rerun, resolve_manually or complete_manually{}",
                               action.empty() ? "" : fmt::format(", not `{}`", action)),
                   {{"field", "action_type"}});
  }
  // The step as the action left it, as the library answers: read again, a
  // reset step may already be a worker's (in_progress, attempt 1). Its parents
  // are counted in a snapshot read after.
  write_json(res, 200, step_response(changed, client.snapshot(task_uuid)));
}

}  // namespace

void add_task_routes(HttpCore& http, const std::shared_ptr<Client>& client) {
  const int depth = http.settings().max_json_depth;
  const long long context_bytes = http.settings().list_context_bytes;
  Client& c = *client;
  // The handlers capture the shared pointer: the client lives as long as the routes.
  http.route("POST", "/v1/tasks", "tasks:create", [client, &c, depth](const Request& req, Response& res) {
    TaskView task = c.submit(task_request_from(parse_body(req, depth)));
    write_json(res, 201, task_response(task));
  });
  http.route("GET", "/v1/tasks", "tasks:list", [client, &c, context_bytes](const Request& req, Response& res) {
    list_tasks(c, req, res, context_bytes);
  });
  http.route("GET", fmt::format("/v1/tasks/{}", kUuid), "tasks:read", [client, &c](const Request& req, Response& res) {
    const TaskSnapshot snap = c.snapshot(task_uuid_of(req));
    write_json(res, 200, task_response(snap.task, &snap.steps));
  });
  http.route(
      "DELETE", fmt::format("/v1/tasks/{}", kUuid), "tasks:cancel", [client, &c](const Request& req, Response& res) {
        std::string reason = req.has_param("reason") ? req.get_param_value("reason") : "cancelled through the API";
        write_json(res, 200, task_response(c.cancel(task_uuid_of(req), reason)));
      });
  http.route("GET", fmt::format("/v1/tasks/{}/workflow_steps", kUuid), "steps:read",
             [client, &c](const Request& req, Response& res) {
               write_json(res, 200, step_responses(c.snapshot(task_uuid_of(req))));
             });
  http.route("GET", fmt::format("/v1/tasks/{}/workflow_steps/{}", kUuid, kUuid), "steps:read",
             [client, &c](const Request& req, Response& res) {
               const TaskSnapshot snap = c.snapshot(task_uuid_of(req));
               write_json(res, 200, step_response(find_step(snap, req.matches[2]), snap));
             });
  http.route("PATCH", fmt::format("/v1/tasks/{}/workflow_steps/{}", kUuid, kUuid), "steps:resolve",
             [client, &c, depth](const Request& req, Response& res) { manual_action(c, req, res, depth); });
  http.route("GET", fmt::format("/v1/tasks/{}/workflow_steps/{}/audit", kUuid, kUuid), "steps:read",
             [client, &c](const Request& req, Response& res) {
               const std::string task_uuid = task_uuid_of(req);
               const TaskSnapshot snap = c.snapshot(task_uuid);
               const StepView& step = find_step(snap, req.matches[2]);
               json entries = json::array();
               for (const auto& t : c.transitions(task_uuid, step.name))
                 entries.push_back(audit_entry(t, step.step_uuid));
               write_json(res, 200, entries);
             });
  http.route(
      "GET", fmt::format("/v1/tasks/{}/summary", kUuid), "tasks:read", [client, &c](const Request& req, Response& res) {
        const TaskSnapshot snap = c.snapshot(task_uuid_of(req));
        const TaskView& t = snap.task;
        const TaskTemplate* tmpl = c.templates() ? c.templates()->find(t.namespace_name, t.name, t.version) : nullptr;
        std::optional<DlqEntry> entry;
        try {
          entry = c.get_dlq_entry(t.uuid);
        } catch (const NotFoundError&) {
          // no entry: dlq.in_dlq is false
        }
        write_json(res, 200, task_summary(snap, tmpl, entry));
      });
  // A tasker extension: the task submitted again as a new one, linked by a tag (docs/api.md, "Rerun").
  http.route("POST", fmt::format("/v1/tasks/{}/rerun", kUuid), "tasks:create",
             [client, &c, depth](const Request& req, Response& res) {
               std::string reason = "rerun through the API";
               if (!req.body.empty()) {
                 const json body = parse_body(req, depth);
                 if (!body.is_object())
                   throw ApiError(400, "BAD_REQUEST", "the body must be a JSON object: {\"reason\": \"...\"}");
                 for (const auto& [k, v] : body.items())
                   if (k != "reason")
                     throw ApiError(400, "BAD_REQUEST", fmt::format("unknown field `{}`: a rerun takes a reason", k),
                                    {{"field", k}});
                 reason = text_or(body, "reason", reason);
               }
               write_json(res, 201, task_response(c.rerun_task(task_uuid_of(req), reason)));
             });
  // A tasker extension: a signal to the task's signal step (docs/api.md, "Signals").
  http.route("POST", fmt::format("/v1/tasks/{}/signals/{}", kUuid, kUuid), "tasks:signal",
             [client, &c, depth](const Request& req, Response& res) {
               const json body = parse_body(req, depth);
               if (!body.is_object())
                 throw ApiError(400, "BAD_REQUEST",
                                "the body must be a JSON object: {\"payload\": {...}, \"key\": \"...\"}");
               for (const auto& [k, v] : body.items())
                 if (k != "payload" && k != "key")
                   throw ApiError(400, "BAD_REQUEST",
                                  fmt::format("unknown field `{}`: a signal takes payload and key", k), {{"field", k}});
               const json payload = body.value("payload", json::object());
               std::optional<std::string> key;
               if (auto k = body.find("key"); k != body.end() && !k->is_null()) {
                 if (!k->is_string()) throw ApiError(400, "BAD_REQUEST", "`key` must be a string", {{"field", "key"}});
                 key = k->get<std::string>();
               }
               try {
                 // The audit trail says who: the API key's name or the JWT's subject when there is one.
                 const std::string sender = req.principal.empty() ? "api" : "api " + req.principal;
                 const SignalStatus status = c.signal(task_uuid_of(req), req.matches[2], payload, key, sender);
                 write_json(res, 202, {{"status", to_string(status)}});
               } catch (const LimitError& e) {
                 throw ApiError(413, "PAYLOAD_TOO_LARGE", e.what(), {{"field", "payload"}});
               }
             });
  // A tasker extension: the task's DAG coloured by state (the web view draws it).
  http.route("GET", fmt::format("/v1/tasks/{}/graph", kUuid), "tasks:read",
             [client, &c](const Request& req, Response& res) {
               const TaskSnapshot snap = c.snapshot(task_uuid_of(req));
               write_graph(req, res, graph_of(snap.task, snap.steps));
             });
  // A tasker extension: the whole history of the task and its steps, oldest first.
  http.route("GET", fmt::format("/v1/tasks/{}/transitions", kUuid), "tasks:read",
             [client, &c](const Request& req, Response& res) {
               const std::string task_uuid = task_uuid_of(req);
               const TaskSnapshot snap = c.snapshot(task_uuid);
               std::map<std::string, std::string> uuid_of;
               for (const auto& s : snap.steps) uuid_of[s.name] = s.step_uuid;
               json entries = json::array();
               for (const auto& t : c.transitions(task_uuid))
                 entries.push_back(audit_entry(t, t.step_name.empty() ? std::string() : uuid_of[t.step_name]));
               write_json(res, 200, entries);
             });
}

}  // namespace tasker::server
