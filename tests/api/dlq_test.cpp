// The /v1/dlq routes, /v1/tasks/{uuid}/summary and /health/detailed on a real
// server over loopback, each answer checked against the OpenAPI document: an
// errored task's entry (made by the worker that left it in error), read,
// updated, counted and queued; 404s, bad uuids, and bodies refused naming
// what is allowed; and, with real processes, a step whose worker is paused
// with SIGSTOP growing stale.
#include <fmt/format.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "../e2e/child_process.hpp"
#include "support.hpp"
#include "tasker/errors.hpp"
#include "tasker/worker.hpp"

using namespace api_test;

namespace {
std::string failed_task(ServerFixture& s) {
  json failing = {{"namespace", "error_scenarios"}, {"name", "permanent_error_only"}, {"context", json::object()}};
  const std::string uuid = s.call_json("POST", "/v1/tasks", failing).body["task_uuid"];
  auto handlers = std::make_shared<tasker::HandlerRegistry>();
  handlers->add("errors.fail_permanently", [](tasker::StepContext&) -> json { throw tasker::PermanentError("no"); });
  tasker::Worker worker(tasker::open_store(s.database_url()), handlers);
  worker.run_until_idle();  // ends with a dead-letter pass
  return uuid;
}
}  // namespace

TEST_CASE("api: /v1/dlq: an errored task's entry, read, updated, counted and queued, as the OpenAPI document says") {
  ServerFixture s;
  const std::string task = failed_task(s);

  Reply list = s.call("GET", "/v1/dlq?resolution_status=pending");
  REQUIRE(list.status == 200);
  s.conforms(list, "/v1/dlq", "get");
  REQUIRE(list.body.size() == 1);
  CHECK(list.body[0]["task_uuid"] == task);
  CHECK(list.body[0]["dlq_reason"] == "max_retries_exceeded");
  const std::string entry = list.body[0]["dlq_entry_uuid"];

  Reply one = s.call("GET", "/v1/dlq/task/" + task);
  REQUIRE(one.status == 200);
  s.conforms(one, "/v1/dlq/task/{task_uuid}", "get");
  CHECK(one.body["task_snapshot"]["failed_steps"][0]["name"] == "permanent_error_step");

  Reply queue = s.call("GET", "/v1/dlq/investigation-queue?limit=5");
  REQUIRE(queue.status == 200);
  s.conforms(queue, "/v1/dlq/investigation-queue", "get");
  CHECK(queue.body.size() == 1);

  // tasker-core's clients send its enums' JSON spelling (PascalCase); both are read.
  Reply patched = s.call_json("PATCH", "/v1/dlq/entry/" + entry,
                              {{"resolution_status", "PermanentlyFailed"},
                               {"resolution_notes", "the partner retired this API"},
                               {"resolved_by", "ops"},
                               {"metadata", {{"ticket", "OPS-12"}}}});
  REQUIRE(patched.status == 200);
  s.conforms(patched, "/v1/dlq/entry/{dlq_entry_uuid}", "patch");
  CHECK(patched.body["success"] == true);
  CHECK(patched.body["dlq_entry_uuid"] == entry);
  CHECK(patched.body["entry"]["resolution_status"] == "permanently_failed");
  CHECK(s.call("GET", "/v1/dlq/task/" + task).body["metadata"]["ticket"] == "OPS-12");
  CHECK(s.call("GET", "/v1/dlq?resolution_status=pending").body.empty());

  Reply stats = s.call("GET", "/v1/dlq/stats");
  REQUIRE(stats.status == 200);
  s.conforms(stats, "/v1/dlq/stats", "get");
  REQUIRE(stats.body.size() == 1);
  CHECK(stats.body[0]["permanent_failures"] == 1);

  Reply stale = s.call("GET", "/v1/dlq/staleness");
  REQUIRE(stale.status == 200);
  s.conforms(stale, "/v1/dlq/staleness", "get");
  CHECK(stale.body.empty());

  Reply summary = s.call("GET", "/v1/tasks/" + task + "/summary");
  REQUIRE(summary.status == 200);
  s.conforms(summary, "/v1/tasks/{uuid}/summary", "get");
  CHECK(summary.body["task"]["status"] == "error");
  CHECK(summary.body["dlq"]["in_dlq"] == false);  // resolved: out of the queue
  CHECK(summary.body["dlq"]["resolution_status"] == "permanently_failed");
  CHECK(summary.body["steps"][0]["error"]["error_type"] == "permanent_error");
  CHECK(summary.body["template"]["steps"][0]["name"] == "permanent_error_step");

  Reply health = s.call("GET", "/health/detailed");
  REQUIRE(health.status == 200);
  s.conforms(health, "/health/detailed", "get");
  CHECK(health.body["checks"]["pool_utilization"]["status"] == "healthy");
  CHECK(health.body["checks"]["queue_depth"]["status"] == "healthy");
  CHECK(health.body["info"]["queue_depth"]["steps_ready"] == 0);
}

TEST_CASE("api: /v1/dlq refuses unknown statuses naming the allowed ones, bad uuids and bodies, 404 for none") {
  ServerFixture s;
  const std::string task = failed_task(s);
  const std::string entry = s.call("GET", "/v1/dlq").body[0]["dlq_entry_uuid"];

  Reply unknown = s.call("GET", "/v1/dlq?resolution_status=investigated");
  s.is_error(unknown, 400, "BAD_REQUEST");
  CHECK(unknown.body["error"]["message"].get<std::string>().find(
            "pending, manually_resolved, permanently_failed, cancelled") != std::string::npos);
  s.is_error(s.call("GET", "/v1/dlq?limit=0"), 400, "BAD_REQUEST");
  s.is_error(s.call("GET", "/v1/dlq?offset=-1"), 400, "BAD_REQUEST");
  s.is_error(s.call("GET", "/v1/dlq/task/not-a-uuid"), 400, "INVALID_UUID");
  s.is_error(s.call("GET", "/v1/dlq/task/" + tasker::new_uuid()), 404, "NOT_FOUND");
  s.is_error(s.call("GET", "/v1/tasks/" + tasker::new_uuid() + "/summary"), 404, "NOT_FOUND");

  const std::string path = "/v1/dlq/entry/" + entry;
  Reply bad_status = s.call_json("PATCH", path, {{"resolution_status", "done"}});
  s.is_error(bad_status, 400, "BAD_REQUEST");
  CHECK(bad_status.body["error"]["message"].get<std::string>().find("manually_resolved") != std::string::npos);
  s.is_error(s.call_json("PATCH", path, {{"resolution", "pending"}}), 400, "BAD_REQUEST");  // unknown field
  s.is_error(s.call_json("PATCH", path, {{"resolved_by", 7}}), 400, "BAD_REQUEST");
  s.is_error(s.call_json("PATCH", path, json::object()), 400, "BAD_REQUEST");  // nothing to change
  s.is_error(s.call("PATCH", path, "{not json"), 400, "JSON_ERROR");
  s.is_error(s.call_json("PATCH", path, {{"resolved_by", std::string(300, 'x')}}), 400, "BAD_REQUEST");
  s.is_error(s.call_json("PATCH", "/v1/dlq/entry/" + tasker::new_uuid(), {{"resolved_by", "ops"}}), 404, "NOT_FOUND");
  CHECK(s.call("GET", "/v1/dlq/task/" + task).body["resolution_status"] == "pending");  // nothing changed
}

TEST_CASE("processes: a step whose worker is paused (SIGSTOP) beyond its threshold appears in /v1/dlq/staleness") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("tasker-stale-{}", tasker::new_uuid());
  std::filesystem::create_directories(dir / "templates");
  {
    std::ofstream t(dir / "templates" / "slow.yaml");
    t << "name: slow\nnamespace_name: staleness\nversion: 1.0.0\nsteps:\n"
         "  - name: wait\n    handler:\n      callable: staleness.wait\n      command: [/bin/sleep, \"60\"]\n"
         "    timeout_seconds: 120\n";
    std::ofstream c(dir / "tasker.yaml");
    c << "dlq:\n  staleness:\n    in_progress: 2s\n";
  }
  const std::string db = "sqlite://" + (dir / "tasker.db").string();
  const std::string config = (dir / "tasker.yaml").string();
  const std::string templates = (dir / "templates").string();
  e2e::ChildProcess serve(
      {TASKER_CLI_PATH, "serve", "--config", config, "--db", db, "--templates", templates, "--listen", "127.0.0.1:0"},
      true);
  const std::string url = serve.first_line(std::chrono::seconds{60});
  e2e::ChildProcess worker(
      {TASKER_CLI_PATH, "worker", "--config", config, "--db", db, "--templates", templates, "--stop-grace-ms", "100"},
      false);
  httplib::Client http(url);
  auto created = http.Post("/v1/tasks", json{{"namespace", "staleness"}, {"name", "slow"}}.dump(), "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  const std::string task = json::parse(created->body)["task_uuid"];

  // Bounded polls (against hangs only; nothing here is timed): the step is claimed, then the worker is
  // paused, and the step it holds grows stale with no result and no renewal.
  auto poll = [&](const std::string& path, const std::function<bool(const json&)>& done) {
    for (int i = 0; i < 600; ++i) {
      auto r = http.Get(path);
      if (r && r->status == 200 && done(json::parse(r->body))) return json::parse(r->body);
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    FAIL("GET " << path << " never answered as expected");
    return json();
  };
  poll("/v1/tasks/" + task, [](const json& t) { return t["in_progress_steps"] == 1; });
  REQUIRE(kill(worker.pid(), SIGSTOP) == 0);
  const json stale = poll("/v1/dlq/staleness", [&](const json& rows) {
    return !rows.empty() && rows[0]["task_uuid"] == task && rows[0]["health_status"] == "stale";
  });
  CHECK(stale[0]["step_name"] == "wait");
  CHECK(stale[0]["current_state"] == "in_progress");
  CHECK(stale[0]["staleness_threshold_seconds"] == 2);
  CHECK(stale[0]["time_in_state_seconds"].get<double>() >= 2);
  REQUIRE(kill(worker.pid(), SIGCONT) == 0);
  CHECK(worker.stop() == 0);
  CHECK(serve.stop() == 0);
  std::filesystem::remove_all(dir);
}
