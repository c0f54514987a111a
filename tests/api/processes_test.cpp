// The two HTTP surfaces as processes and as embedded types: `tasker serve`
// and `tasker worker --listen` start, answer and stop cleanly on SIGTERM;
// WorkerServer reports what a worker runs and its step metrics.
#include <fmt/format.h>

#include <thread>

#include "../e2e/child_process.hpp"
#include "support.hpp"
#include "tasker/events.hpp"
#include "tasker/testing.hpp"
#include "tasker/worker.hpp"

using namespace api_test;

namespace {
json get(const std::string& url, const std::string& path, int& status) {
  httplib::Client http(url);
  auto r = http.Get(path);
  REQUIRE(r);
  status = r->status;
  return r->get_header_value("Content-Type").find("json") != std::string::npos ? json::parse(r->body) : json(r->body);
}
}  // namespace

TEST_CASE("processes: tasker serve prints its URL, answers, and exits 0 on SIGTERM") {
  const auto db = std::filesystem::temp_directory_path() / fmt::format("tasker-serve-{}.db", tasker::new_uuid());
  e2e::ChildProcess serve({TASKER_CLI_PATH, "serve", "--db", "sqlite://" + db.string(), "--templates",
                           (source_dir() / "templates").string(), "--listen", "127.0.0.1:0"},
                          true);
  const std::string url = serve.first_line(std::chrono::seconds{60});
  CHECK(url.rfind("http://127.0.0.1:", 0) == 0);
  int status = 0;
  CHECK(get(url, "/health/ready", status)["status"] == "healthy");
  CHECK(status == 200);
  CHECK(get(url, "/v1/templates", status)["total_count"].get<int>() > 0);
  CHECK(serve.stop() == 0);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
}

TEST_CASE("processes: tasker worker --listen lists the namespaces and callables it runs, and stops on SIGTERM") {
  const auto db = std::filesystem::temp_directory_path() / fmt::format("tasker-worker-{}.db", tasker::new_uuid());
  e2e::ChildProcess worker({TASKER_CLI_PATH, "worker", "--db", "sqlite://" + db.string(), "--templates",
                            (source_dir() / "examples/command_handlers").string(), "--listen", "127.0.0.1:0"},
                           true);
  const std::string url = worker.first_line(std::chrono::seconds{60});
  int status = 0;
  json templates = get(url, "/v1/templates", status);
  CHECK(status == 200);
  CHECK(templates["supported_namespaces"] == json::array({"ecommerce_commands"}));
  auto callables = templates["worker_capabilities"];
  CHECK(std::find(callables.begin(), callables.end(), "ecommerce_commands.process_payment") != callables.end());
  json health = get(url, "/health", status);
  CHECK(health["worker_id"].get<std::string>().size() > 0);
  CHECK(get(url, "/health/ready", status)["checks"]["worker"]["status"] == "healthy");
  CHECK(status == 200);
  CHECK(get(url, "/metrics", status).get<std::string>().find("tasker_worker_claims_total") != std::string::npos);
  CHECK(worker.stop() == 0);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
}

TEST_CASE("worker server: step durations per namespace and callable, claims, and readiness") {
  const auto db = std::filesystem::temp_directory_path() / fmt::format("tasker-ws-{}.db", tasker::new_uuid());
  auto store = tasker::open_store("sqlite://" + db.string());
  auto templates = std::make_shared<tasker::TemplateSet>(tasker::TemplateSet::load({source_dir() / "templates"}));
  auto client = std::make_shared<tasker::Client>(store, templates);
  auto handlers = std::make_shared<tasker::HandlerRegistry>();
  handlers->add("math.square_input",
                [](tasker::StepContext& c) { return json(c.context().at("even_number").get<long long>() * 2); });
  handlers->add("math.square", [](tasker::StepContext& c) { return json(c.dependency_results().begin().value()); });
  auto events = std::make_shared<tasker::EventBus>();
  auto worker = std::make_shared<tasker::Worker>(store, handlers, tasker::WorkerOptions{}, events);
  tasker::WorkerServer server({worker, handlers, templates, client, events, {}}, test_settings());
  server.start();
  auto task = client->submit(linear_task(3));
  worker->start();
  (void)client->wait_for_task(task.uuid, std::chrono::seconds{60});
  int status = 0;
  // wait_for_task hears of the commit that finished the task; the worker
  // publishes that transaction's events (which the metrics count) just after
  // it, on its own thread: read until the last of them, the task's, is counted.
  const std::string task_done = "tasker_tasks_finished_total{state=\"complete\"} 1";
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + tasker::testing::scaled(std::chrono::seconds{30});
  while ((metrics = get(server.url(), "/metrics", status).get<std::string>()).find(task_done) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  INFO(metrics);
  CHECK(metrics.find(task_done) != std::string::npos);
  CHECK(metrics.find("tasker_step_duration_seconds_count{callable=\"math.square\",namespace=\"linear_workflow\","
                     "outcome=\"success\"} 3") != std::string::npos);
  CHECK(metrics.find("tasker_step_attempts_total{callable=\"math.square_input\",namespace=\"linear_workflow\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("tasker_worker_claims_total 4") != std::string::npos);
  json templates_reply = get(server.url(), "/v1/templates", status);
  auto namespaces = templates_reply["supported_namespaces"];
  CHECK(std::find(namespaces.begin(), namespaces.end(), "linear_workflow") != namespaces.end());
  CHECK(get(server.url(), "/health/ready", status)["status"] == "healthy");
  worker->stop();
  CHECK(status == 200);
  get(server.url(), "/health/ready", status);
  CHECK(status == 503);  // a stopped worker is not ready
  server.stop();
  client.reset();
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
}
