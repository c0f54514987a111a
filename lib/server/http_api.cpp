#include "tasker/http_api.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include "api_json.hpp"
#include "tasker/errors.hpp"

namespace tasker::testing {

using server::step_from;
using server::task_from;

class HttpApi::Impl {
 public:
  Impl(const std::string& base_url, HttpApiOptions o) : url(base_url), client(base_url), options(std::move(o)) {
    if (!client.is_valid())
      throw InvalidRequestError(
          fmt::format("`{}` is not a tasker API URL (http://HOST:PORT or https://HOST:PORT)", url));
    client.set_connection_timeout(options.timeout);
    client.set_read_timeout(options.timeout);
    client.set_write_timeout(options.timeout);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    if (!options.bearer_token.empty()) client.set_bearer_token_auth(options.bearer_token);
    if (!options.ca_cert_path.empty()) client.set_ca_cert_path(options.ca_cert_path);
  }
  std::string url;
  httplib::Client client;
  HttpApiOptions options;
};

HttpApi::HttpApi(const std::string& base_url, HttpApiOptions options)
    : impl_(std::make_unique<Impl>(base_url, std::move(options))) {}
HttpApi::~HttpApi() = default;

namespace {
std::string segment(const std::string& text) { return httplib::detail::encode_query_param(text); }
}  // namespace

HttpApi::Response HttpApi::request(const std::string& method, const std::string& path, const json* body) {
  auto& c = impl_->client;
  const std::string text = body ? body->dump() : std::string();
  httplib::Result r = method == "GET"      ? c.Get(path)
                      : method == "DELETE" ? c.Delete(path)
                      : method == "POST"   ? c.Post(path, text, "application/json")
                      : method == "PATCH"  ? c.Patch(path, text, "application/json")
                                           : throw InvalidRequestError("unsupported method " + method);
  if (!r)
    throw Error(fmt::format("{} {}{}: no answer ({}); is `tasker serve` running there?", method, impl_->url, path,
                            httplib::to_string(r.error())));
  Response out{r->status, nullptr};
  if (!r->body.empty()) {
    try {
      out.body = json::parse(r->body);
    } catch (const json::parse_error&) {
      out.body = r->body;  // not JSON (metrics): the text
    }
  }
  return out;
}

json HttpApi::call(const std::string& method, const std::string& path, const json* body) {
  Response r = request(method, path, body);
  if (r.status >= 200 && r.status < 300) return r.body;
  json error = r.body.is_object() ? r.body.value("error", json::object()) : json::object();
  const std::string message = error.value("message", fmt::format("HTTP {} from {} {}", r.status, method, path));
  switch (r.status) {
    case 400: throw InvalidRequestError(message);
    case 404: {
      // The server's message is a NotFoundError's already: keep its hint, not its "... not found" twice.
      const std::string kind = error.value("resource", "resource"), id = error.value("id", path);
      const std::string said = fmt::format("{} `{}` not found", kind, id);
      std::string hint = message.rfind(said, 0) == 0 ? message.substr(said.size()) : message;
      if (hint.rfind("; ", 0) == 0) hint.erase(0, 2);
      throw NotFoundError(kind, id, hint);
    }
    case 409:
      if (!error.contains("existing_task_uuid")) throw ConflictError(message);
      throw DuplicateTaskError(error.value("existing_task_uuid", ""), "");
    case 413: throw LimitError(message, error.value("field", "body"), 0, 0);
    case 503: throw TransientStorageError(message);
    default: throw Error(fmt::format("HTTP {} {}: {}", r.status, error.value("code", ""), message));
  }
}

TaskView HttpApi::submit(const TaskRequest& request) {
  const json body = server::to_request_json(request);
  return task_from(call("POST", "/v1/tasks", &body));
}

TaskView HttpApi::get_task(const std::string& task_uuid) { return snapshot(task_uuid).task; }

TaskSnapshot HttpApi::snapshot(const std::string& task_uuid) {
  // One response carries the task and its steps, read in one snapshot on the server.
  const json body = call("GET", "/v1/tasks/" + segment(task_uuid));
  TaskSnapshot snap{task_from(body), {}};
  for (const auto& s : body.at("steps")) snap.steps.push_back(step_from(s));
  return snap;
}

std::vector<StepView> HttpApi::list_steps(const std::string& task_uuid) {
  std::vector<StepView> steps;
  for (const auto& s : call("GET", fmt::format("/v1/tasks/{}/workflow_steps", segment(task_uuid))))
    steps.push_back(step_from(s));
  return steps;
}

StepView HttpApi::get_step(const std::string& task_uuid, const std::string& step_name) {
  return step_from(call("GET", fmt::format("/v1/tasks/{}/workflow_steps/{}", segment(task_uuid), segment(step_name))));
}

std::vector<Transition> HttpApi::transitions(const std::string& task_uuid,
                                             const std::optional<std::string>& step_name) {
  const std::string path =
      step_name ? fmt::format("/v1/tasks/{}/workflow_steps/{}/audit", segment(task_uuid), segment(*step_name))
                : fmt::format("/v1/tasks/{}/transitions", segment(task_uuid));
  std::vector<Transition> out;
  for (const auto& entry : call("GET", path)) out.push_back(server::transition_from(entry));
  return out;
}

TaskPage HttpApi::list_tasks(const TaskFilter& filter) {
  httplib::Params params;
  const long long page = filter.cursor ? std::stoll(*filter.cursor) : 1;
  params.emplace("page", std::to_string(page));
  params.emplace("per_page", std::to_string(filter.limit));
  if (filter.namespace_name) params.emplace("namespace", *filter.namespace_name);
  if (filter.state) params.emplace("status", std::string(to_string(*filter.state)));
  if (filter.initiator) params.emplace("initiator", *filter.initiator);
  if (filter.source_system) params.emplace("source_system", *filter.source_system);
  if (filter.name) params.emplace("name", *filter.name);
  const json body = call("GET", httplib::append_query_params("/v1/tasks", params));
  TaskPage out;
  for (const auto& t : body.at("tasks")) out.tasks.push_back(task_from(t));
  const json& pagination = body.at("pagination");
  if (pagination.at("has_next").get<bool>()) out.next_cursor = std::to_string(page + 1);
  out.total_count = pagination.at("total_count").get<long long>();
  return out;
}

TaskView HttpApi::cancel(const std::string& task_uuid, const std::string& reason) {
  return task_from(
      call("DELETE", httplib::append_query_params("/v1/tasks/" + segment(task_uuid), {{"reason", reason}})));
}

namespace {
json action(const char* type, const std::string& reason) { return {{"action_type", type}, {"reason", reason}}; }
}  // namespace

StepView HttpApi::reset_step_for_retry(const std::string& task_uuid, const std::string& step_name,
                                       const std::string& reason) {
  const json body = action("reset_for_retry", reason);
  return step_from(
      call("PATCH", fmt::format("/v1/tasks/{}/workflow_steps/{}", segment(task_uuid), segment(step_name)), &body));
}

StepView HttpApi::rerun_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason) {
  const json body = action("rerun", reason);
  return step_from(
      call("PATCH", fmt::format("/v1/tasks/{}/workflow_steps/{}", segment(task_uuid), segment(step_name)), &body));
}

StepView HttpApi::resolve_step_manually(const std::string& task_uuid, const std::string& step_name,
                                        const std::string& reason) {
  const json body = action("resolve_manually", reason);
  return step_from(
      call("PATCH", fmt::format("/v1/tasks/{}/workflow_steps/{}", segment(task_uuid), segment(step_name)), &body));
}

StepView HttpApi::complete_step_manually(const std::string& task_uuid, const std::string& step_name, const json& result,
                                         const std::string& reason) {
  json body = action("complete_manually", reason);
  body["completion_data"] = {{"result", result}};
  return step_from(
      call("PATCH", fmt::format("/v1/tasks/{}/workflow_steps/{}", segment(task_uuid), segment(step_name)), &body));
}

TaskView HttpApi::rerun_task(const std::string& task_uuid, const std::string& reason) {
  const json body = {{"reason", reason}};
  return task_from(call("POST", fmt::format("/v1/tasks/{}/rerun", segment(task_uuid)), &body));
}

SignalStatus HttpApi::signal(const std::string& task_uuid, const std::string& name, const json& payload,
                             const std::optional<std::string>& key) {
  json body = {{"payload", payload}};
  if (key) body["key"] = *key;
  const json r = call("POST", fmt::format("/v1/tasks/{}/signals/{}", segment(task_uuid), segment(name)), &body);
  const std::string status = r.value("status", "");
  for (SignalStatus s : {SignalStatus::delivered, SignalStatus::buffered, SignalStatus::duplicate})
    if (to_string(s) == status) return s;
  throw Error(fmt::format("the server answered a signal with status `{}`", status));
}

}  // namespace tasker::testing
