// Every route of `tasker serve` on a real server over loopback: the answers,
// checked against the OpenAPI document, and what the database holds after.
#include <fmt/format.h>

#include <thread>

#include "support.hpp"
#include "tasker/errors.hpp"
#include "tasker/version.hpp"
#include "tasker/worker.hpp"

using namespace api_test;

namespace {
/// Run steps until the task with `uuid` reaches a terminal state (a real Worker on the same database).
void work_until_settled(ServerFixture& s, const std::shared_ptr<tasker::HandlerRegistry>& handlers) {
  auto store = tasker::open_store(s.database_url());
  tasker::Worker worker(store, handlers);
  worker.run_until_idle();
}

std::shared_ptr<tasker::HandlerRegistry> math_handlers() {
  auto h = std::make_shared<tasker::HandlerRegistry>();
  h->add("math.square_input", [](tasker::StepContext& c) {
    long long n = c.context().at("even_number");
    return json(n * n);
  });
  h->add("math.square", [](tasker::StepContext& c) {
    long long n = c.dependency_results().begin().value();
    return json(n * n);
  });
  h->add("errors.fail_permanently", [](tasker::StepContext&) -> json { throw tasker::PermanentError("always fails"); });
  return h;
}
}  // namespace

TEST_CASE("api: create, read, list and the task's steps, as the OpenAPI document says") {
  ServerFixture s;
  Reply created = s.call_json("POST", "/v1/tasks", linear_request());
  REQUIRE(created.status == 201);
  s.conforms(created, "/v1/tasks", "post");
  const std::string uuid = created.body["task_uuid"];
  CHECK(created.body["status"] == "pending");
  CHECK(created.body["total_steps"] == 4);
  CHECK(created.body["ready_steps"] == 1);
  CHECK(created.body["execution_status"] == "has_ready_steps");
  CHECK(created.body["recommended_action"] == "execute_ready_steps");
  CHECK(created.body["initiator"] == "api test");

  work_until_settled(s, math_handlers());
  Reply task = s.call("GET", "/v1/tasks/" + uuid);
  REQUIRE(task.status == 200);
  s.conforms(task, "/v1/tasks/{uuid}", "get");
  CHECK(task.body["status"] == "complete");
  CHECK(task.body["completed_steps"] == 4);
  CHECK(task.body["completion_percentage"] == 100.0);
  REQUIRE(task.body["steps"].size() == 4);
  CHECK(task.body["steps"][0]["current_state"] == "complete");

  Reply steps = s.call("GET", "/v1/tasks/" + uuid + "/workflow_steps");
  REQUIRE(steps.status == 200);
  s.conforms(steps, "/v1/tasks/{uuid}/workflow_steps", "get");
  REQUIRE(steps.body.size() == 4);
  CHECK(steps.body[3]["results"]["result"] == 2821109907456LL);  // tasker-core's results.result
  CHECK(steps.body[3]["total_parents"] == 1);
  CHECK(steps.body[3]["dependencies_satisfied"] == true);

  const std::string step_uuid = steps.body[0]["step_uuid"];
  for (const std::string& id : {step_uuid, std::string("linear_step_1")}) {
    Reply step = s.call("GET", fmt::format("/v1/tasks/{}/workflow_steps/{}", uuid, id));
    REQUIRE(step.status == 200);
    s.conforms(step, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}", "get");
    CHECK(step.body["name"] == "linear_step_1");
    CHECK(step.body["results"]["result"] == 36);
  }
  Reply audit = s.call("GET", "/v1/tasks/" + uuid + "/workflow_steps/" + step_uuid + "/audit");
  REQUIRE(audit.status == 200);
  s.conforms(audit, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit", "get");
  REQUIRE(audit.body.size() >= 2);
  CHECK(audit.body.back()["to_state"] == "complete");
  CHECK(audit.body.back()["workflow_step_uuid"] == step_uuid);
  Reply history = s.call("GET", "/v1/tasks/" + uuid + "/transitions");
  REQUIRE(history.status == 200);
  s.conforms(history, "/v1/tasks/{uuid}/transitions", "get");
  CHECK(history.body.size() > audit.body.size());

  for (int i = 0; i < 4; ++i) REQUIRE(s.call_json("POST", "/v1/tasks", linear_request(8 + 2 * i)).status == 201);
  Reply page = s.call("GET", "/v1/tasks?page=2&per_page=2&namespace=linear_workflow");
  REQUIRE(page.status == 200);
  s.conforms(page, "/v1/tasks", "get");
  CHECK(page.body["tasks"].size() == 2);
  CHECK(page.body["pagination"]["total_count"] == 5);
  CHECK(page.body["pagination"]["total_pages"] == 3);
  CHECK(page.body["pagination"]["has_next"] == true);
  CHECK(page.body["pagination"]["has_previous"] == true);
  Reply done = s.call("GET", "/v1/tasks?status=complete&initiator=api%20test&source_system=tests%2Fapi");
  REQUIRE(done.status == 200);
  REQUIRE(done.body["tasks"].size() == 1);
  CHECK(done.body["tasks"][0]["task_uuid"] == uuid);
  CHECK(s.call("GET", "/v1/tasks?initiator=nobody").body["pagination"]["total_count"] == 0);
}

TEST_CASE("api: cancel, and the three operator actions on a failed step") {
  ServerFixture s;
  const std::string pending = s.call_json("POST", "/v1/tasks", linear_request()).body["task_uuid"];
  Reply cancelled = s.call("DELETE", "/v1/tasks/" + pending + "?reason=no%20longer%20needed");
  REQUIRE(cancelled.status == 200);
  s.conforms(cancelled, "/v1/tasks/{uuid}", "delete");
  CHECK(cancelled.body["status"] == "cancelled");
  s.is_error(s.call("DELETE", "/v1/tasks/" + pending), 400, "BAD_REQUEST");  // already cancelled
  auto history = s.client().transitions(pending);
  CHECK(history.back().reason == "no longer needed");

  int runs = 0;
  auto run_failing = [&] {
    json failing = {{"namespace", "error_scenarios"}, {"name", "permanent_error_only"}, {"context", {{"run", ++runs}}}};
    std::string uuid = s.call_json("POST", "/v1/tasks", failing).body["task_uuid"];
    work_until_settled(s, math_handlers());
    REQUIRE(s.call("GET", "/v1/tasks/" + uuid).body["status"] == "error");
    return uuid;
  };
  const std::string path = "/v1/tasks/{uuid}/workflow_steps/{step_uuid}";
  std::string uuid = run_failing();
  Reply resolved =
      s.call_json("PATCH", "/v1/tasks/" + uuid + "/workflow_steps/permanent_error_step",
                  {{"action_type", "resolve_manually"}, {"reason", "fixed by hand"}, {"resolved_by", "ops"}});
  REQUIRE(resolved.status == 200);
  s.conforms(resolved, path, "patch");
  CHECK(resolved.body["current_state"] == "resolved_manually");
  CHECK(s.client().transitions(uuid, std::string("permanent_error_step")).back().reason == "fixed by hand (by ops)");

  uuid = run_failing();
  Reply completed = s.call_json("PATCH", "/v1/tasks/" + uuid + "/workflow_steps/permanent_error_step",
                                {{"action_type", "complete_manually"}, {"completion_data", {{"result", {{"ok", 1}}}}}});
  REQUIRE(completed.status == 200);
  s.conforms(completed, path, "patch");
  CHECK(completed.body["current_state"] == "complete");
  CHECK(completed.body["results"]["result"]["ok"] == 1);

  uuid = run_failing();
  Reply reset = s.call_json("PATCH", "/v1/tasks/" + uuid + "/workflow_steps/permanent_error_step",
                            {{"action_type", "reset_for_retry"}, {"reset_by", "ops"}});
  REQUIRE(reset.status == 200);
  s.conforms(reset, path, "patch");
  CHECK(reset.body["current_state"] == "enqueued");
  CHECK(reset.body["attempts"] == 0);
}

TEST_CASE("api: templates, health, readiness, metrics and the OpenAPI document") {
  ServerFixture s;
  Reply list = s.call("GET", "/v1/templates");
  REQUIRE(list.status == 200);
  s.conforms(list, "/v1/templates", "get");
  CHECK(list.body["total_count"] == list.body["templates"].size());
  CHECK(s.call("GET", "/v1/templates?namespace=linear_workflow").body["total_count"] == 1);
  Reply one = s.call("GET", "/v1/templates/linear_workflow/mathematical_sequence/1.0.0");
  REQUIRE(one.status == 200);
  s.conforms(one, "/v1/templates/{namespace}/{name}/{version}", "get");
  CHECK(one.body["steps"].size() == 4);
  CHECK(one.body["steps"][1]["dependencies"] == json::array({"linear_step_1"}));
  s.is_error(s.call("GET", "/v1/templates/linear_workflow/mathematical_sequence/9.9.9"), 404, "NOT_FOUND");

  for (const char* route : {"/health", "/health/live", "/health/ready"}) {
    Reply r = s.call("GET", route);
    REQUIRE(r.status == 200);
    s.conforms(r, route, "get");
  }
  CHECK(s.call("GET", "/health/ready").body["checks"]["database"]["status"] == "healthy");

  REQUIRE(s.call_json("POST", "/v1/tasks", linear_request()).status == 201);
  Reply metrics = s.call("GET", "/metrics");
  REQUIRE(metrics.status == 200);
  const std::string text = metrics.body.get<std::string>();
  CHECK(text.find("tasker_tasks_created_total{namespace=\"linear_workflow\"} 1") != std::string::npos);
  CHECK(text.find("tasker_tasks{state=\"pending\"} 1") != std::string::npos);
  CHECK(text.find("tasker_ready_steps 1") != std::string::npos);
  CHECK(text.find("tasker_http_requests_total{method=\"POST\",route=\"/v1/tasks\",status=\"201\"} 1") !=
        std::string::npos);
  Reply doc = s.call("GET", "/api-docs/openapi.json");
  CHECK(doc.body["openapi"] == "3.0.3");
  // One version on every surface: the document's, the server's and the library's.
  CHECK(doc.body["info"]["version"] == std::string(tasker::version()));
  CHECK(s.call("GET", "/health/ready").body["info"]["version"] == std::string(tasker::version()));
}

TEST_CASE("api: the task list filters by template name (namespace and name: one template's tasks)") {
  ServerFixture s;
  auto linear = s.client().submit(linear_task());
  tasker::TaskRequest diamond;
  diamond.namespace_name = "diamond_workflow";
  diamond.name = "diamond_pattern";
  diamond.context = {{"even_number", 8}};
  (void)s.client().submit(diamond);
  Reply r = s.call("GET", "/v1/tasks?namespace=linear_workflow&name=mathematical_sequence");
  REQUIRE(r.status == 200);
  s.conforms(r, "/v1/tasks", "get");
  REQUIRE(r.body["tasks"].size() == 1);
  CHECK(r.body["tasks"][0]["task_uuid"] == linear.uuid);
  CHECK(r.body["pagination"]["total_count"] == 1);
  CHECK(s.call("GET", "/v1/tasks?name=no_such_template").body["tasks"].empty());
}

TEST_CASE("api: a browser's answers are gzipped, never Brotli (cpp-httplib's Brotli is its slowest setting)") {
  ServerFixture s;
  auto task = s.client().submit(linear_task());
  httplib::Client http(s.url());
  http.set_decompress(false);
  auto encoding = [&](const std::string& accepted) {
    auto r = http.Get("/v1/tasks/" + task.uuid, {{"Accept-Encoding", accepted}});
    REQUIRE(r);
    CHECK(r->status == 200);
    return r->get_header_value("Content-Encoding");
  };
  CHECK(encoding("gzip, deflate, br") == "gzip");  // what Chromium sends
  CHECK(encoding("br;q=1.0, gzip;q=0.5") == "gzip");
  CHECK(encoding("br") == "");
  CHECK(encoding("identity") == "");
}

TEST_CASE("api: /v1/schedules: create, list, read, pause by PATCH, trigger, delete, as the OpenAPI document says") {
  ServerFixture s;
  const json create = {
      {"name", "every-minute"}, {"namespace", "linear_workflow"}, {"task_name", "mathematical_sequence"},
      {"cron", "*/5 * * * *"},  {"time_zone", "Europe/Berlin"},   {"context", {{"even_number", 6}}},
      {"overlap", "skip"}};
  Reply created = s.call_json("POST", "/v1/schedules", create);
  REQUIRE(created.status == 201);
  s.conforms(created, "/v1/schedules", "post");
  CHECK(created.body["version"] == "1.0.0");
  CHECK(created.body["catch_up"] == "latest");
  CHECK(created.body["next_tick"].is_string());
  s.is_error(s.call_json("POST", "/v1/schedules", create), 409, "CONFLICT");  // the name is taken
  json unknown = create;
  unknown["name"] = "other";
  unknown["croon"] = "* * * * *";
  s.is_error(s.call_json("POST", "/v1/schedules", unknown), 400, "BAD_REQUEST");
  json bad_cron = create;
  bad_cron["name"] = "other";
  bad_cron["cron"] = "61 * * * *";
  Reply refused = s.call_json("POST", "/v1/schedules", bad_cron);
  s.is_error(refused, 400, "BAD_REQUEST");
  CHECK(refused.body["error"]["message"] ==
        "cron expression `61 * * * *`: the minute field `61` has 61, outside 0..59");

  Reply list = s.call("GET", "/v1/schedules");
  REQUIRE(list.status == 200);
  s.conforms(list, "/v1/schedules", "get");
  CHECK(list.body["schedules"].size() == 1);

  Reply paused = s.call_json("PATCH", "/v1/schedules/every-minute", {{"paused", true}});
  REQUIRE(paused.status == 200);
  s.conforms(paused, "/v1/schedules/{name}", "patch");
  CHECK(paused.body["paused"] == true);

  // A trigger takes no fields: one sent is refused, not ignored, and creates nothing.
  Reply with_context = s.call_json("POST", "/v1/schedules/every-minute/trigger", {{"context", {{"even_number", 8}}}});
  s.is_error(with_context, 400, "BAD_REQUEST");
  const std::string refusal = with_context.body["error"]["message"];
  CHECK(refusal.rfind("unknown field `context`: a trigger takes no fields", 0) == 0);
  CHECK(s.call("GET", "/v1/schedules/every-minute").body["last_task_uuid"].is_null());
  Reply task = s.call("POST", "/v1/schedules/every-minute/trigger");  // no body (the web page sends {})
  REQUIRE(task.status == 201);
  s.conforms(task, "/v1/schedules/{name}/trigger", "post");
  CHECK(task.body["initiator"] == "schedule:every-minute");
  Reply read = s.call("GET", "/v1/schedules/every-minute");
  s.conforms(read, "/v1/schedules/{name}", "get");
  CHECK(read.body["last_task_uuid"] == task.body["task_uuid"]);

  Reply deleted = s.call("DELETE", "/v1/schedules/every-minute");
  REQUIRE(deleted.status == 200);
  s.conforms(deleted, "/v1/schedules/{name}", "delete");
  s.is_error(s.call("GET", "/v1/schedules/every-minute"), 404, "NOT_FOUND");
}
