// Every error status of the API: the right status and code, tasker-core's
// error body, no internal detail, and nothing written to the database.
#include <fmt/format.h>

#include <chrono>
#include <future>

#include "support.hpp"

using namespace api_test;

TEST_CASE("api errors: bad request bodies are refused and nothing is written") {
  ServerFixture s;
  s.is_error(s.call("POST", "/v1/tasks", "{\"namespace\": \"linear_workflow\", "), 400, "JSON_ERROR");
  s.is_error(s.call("POST", "/v1/tasks", ""), 400, "BAD_REQUEST");
  s.is_error(s.call("POST", "/v1/tasks", "[1, 2]"), 400, "BAD_REQUEST");
  json wrong = linear_request();
  wrong["priority"] = "high";
  Reply r = s.call_json("POST", "/v1/tasks", wrong);
  s.is_error(r, 400, "BAD_REQUEST");
  CHECK(r.body["error"]["field"] == "priority");
  wrong = linear_request();
  wrong["context"] = json::array({1});
  s.is_error(s.call_json("POST", "/v1/tasks", wrong), 400, "BAD_REQUEST");
  wrong = linear_request();
  wrong["tags"] = "urgent";
  s.is_error(s.call_json("POST", "/v1/tasks", wrong), 400, "BAD_REQUEST");
  wrong = linear_request();
  wrong.erase("name");
  r = s.call_json("POST", "/v1/tasks", wrong);
  s.is_error(r, 400, "BAD_REQUEST");
  CHECK(r.body["error"]["message"].get<std::string>().find("`name` is required") != std::string::npos);
  wrong = linear_request();
  wrong["priority"] = 101;
  s.is_error(s.call_json("POST", "/v1/tasks", wrong), 400, "BAD_REQUEST");
  wrong = linear_request();
  wrong["bypass_steps"] = {"linear_step_9"};
  s.is_error(s.call_json("POST", "/v1/tasks", wrong), 400, "BAD_REQUEST");
  // Deeper than server.max_json_depth (64).
  std::string deep = "{\"namespace\": \"linear_workflow\", \"name\": \"mathematical_sequence\", \"context\": {\"a\": ";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}}";
  r = s.call("POST", "/v1/tasks", deep);
  s.is_error(r, 400, "JSON_ERROR");
  CHECK(r.body["error"]["message"].get<std::string>().find("deeper than 64") != std::string::npos);
  s.nothing_written();
}

TEST_CASE("api errors: unknown template 404, duplicate 409 naming the task, oversized body 413") {
  ServerFixture s;
  json unknown = linear_request();
  unknown["name"] = "no_such_template";
  Reply r = s.call_json("POST", "/v1/tasks", unknown);
  s.is_error(r, 404, "NOT_FOUND");
  s.nothing_written();

  json big = linear_request();
  big["context"]["padding"] = std::string(std::size_t{70} * 1024, 'x');  // server.max_body_bytes is 64 KiB here
  r = s.call_json("POST", "/v1/tasks", big);
  s.is_error(r, 413, "PAYLOAD_TOO_LARGE");
  s.nothing_written();

  Reply first = s.call_json("POST", "/v1/tasks", linear_request());
  REQUIRE(first.status == 201);
  r = s.call_json("POST", "/v1/tasks", linear_request());
  s.is_error(r, 409, "CONFLICT");
  CHECK(r.body["error"]["existing_task_uuid"] == first.body["task_uuid"]);
  CHECK(s.client().list_tasks().tasks.size() == 1);
}

TEST_CASE("api errors: malformed and unknown ids, bad actions and query parameters") {
  ServerFixture s;
  s.is_error(s.call("GET", "/v1/tasks/not-a-uuid"), 400, "INVALID_UUID");
  s.is_error(s.call("GET", "/v1/tasks/not-a-uuid/workflow_steps"), 400, "INVALID_UUID");
  s.is_error(s.call("DELETE", "/v1/tasks/not-a-uuid"), 400, "INVALID_UUID");
  const std::string missing = "00000000-0000-4000-8000-000000000000";
  s.is_error(s.call("GET", "/v1/tasks/" + missing), 404, "NOT_FOUND");
  s.is_error(s.call("DELETE", "/v1/tasks/" + missing), 404, "NOT_FOUND");
  s.is_error(s.call("GET", "/v1/tasks/" + missing + "/transitions"), 404, "NOT_FOUND");
  const std::string uuid = s.call_json("POST", "/v1/tasks", linear_request()).body["task_uuid"];
  s.is_error(s.call("GET", "/v1/tasks/" + uuid + "/workflow_steps/no_such_step"), 404, "NOT_FOUND");
  s.is_error(s.call("GET", "/v1/tasks/" + uuid + "/workflow_steps/" + missing + "/audit"), 404, "NOT_FOUND");
  const std::string step = "/v1/tasks/" + uuid + "/workflow_steps/linear_step_1";
  s.is_error(s.call_json("PATCH", step, {{"action_type", "explode"}}), 400, "BAD_REQUEST");
  s.is_error(s.call_json("PATCH", step, {{"action_type", "complete_manually"}}), 400, "BAD_REQUEST");
  s.is_error(s.call_json("PATCH", step, {{"action_type", "reset_for_retry"}}), 400, "BAD_REQUEST");  // not failed
  s.is_error(s.call("PATCH", step, "{oops"), 400, "JSON_ERROR");
  s.is_error(s.call("GET", "/v1/tasks?per_page=500"), 400, "BAD_REQUEST");
  s.is_error(s.call("GET", "/v1/tasks?page=zero"), 400, "BAD_REQUEST");
  s.is_error(s.call("GET", "/v1/tasks?status=running"), 400, "BAD_REQUEST");
  s.is_error(s.call("GET", "/v1/no_such_route"), 404, "NOT_FOUND");
  auto steps = s.client().list_steps(uuid);
  CHECK(steps[0].state == tasker::StepState::enqueued);  // no action changed anything
  CHECK(s.client().get_task(uuid).state == tasker::TaskState::pending);
}

TEST_CASE("api errors: `..` in a template route, an overlong URI, and a slow client") {
  tasker::ServerSettings settings = test_settings();
  settings.read_timeout_ms = 300;
  ServerFixture s(settings);
  for (const char* path : {"/v1/templates/../linear_workflow/mathematical_sequence", "/v1/templates/%2e%2e/%2E%2E/etc",
                           "/v1/templates/linear_workflow/../../1.0.0", "/v1/templates/./x/1.0.0"}) {
    INFO(path);
    s.is_error(s.raw(fmt::format("GET {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path)), 400,
               "BAD_REQUEST");
  }
  // fmt, not operator+: GCC 12 at -O3 reports a false array-bounds error on the concatenation.
  s.is_error(
      s.raw(fmt::format("GET /v1/tasks?x={} HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n", std::string(9000, 'a'))),
      414, "URI_TOO_LONG");
  // Public routes too: the document's 4XX for them.
  Reply long_health =
      s.raw(fmt::format("GET /health?x={} HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n", std::string(9000, 'a')));
  s.is_error(long_health, 414, "URI_TOO_LONG");
  s.conforms(long_health, "/health", "get");

  // A client that announces a body and stalls: the server gives up after
  // server.read_timeout_ms, answers 408, and serves others meanwhile.
  auto stalled = std::async(std::launch::async, [&] {
    return s.raw(
        "POST /v1/tasks HTTP/1.1\r\nHost: l\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        "{\"namespace\": \"linear_workflow\", ");
  });
  Reply health = s.call("GET", "/health");
  CHECK(health.status == 200);
  Reply slow = stalled.get();
  s.is_error(slow, 408, "TIMEOUT");
  // Headers that never finish: the connection is closed without a task.
  Reply unfinished = s.raw("GET /v1/tasks HTTP/1.1\r\nHost: l\r\n");
  CHECK(unfinished.status != 200);
  s.nothing_written();
}
