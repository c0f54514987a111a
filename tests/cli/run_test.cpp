// Running command handlers: `tasker run` to the end, and `tasker worker` in the background.
#include <signal.h>

#include <fstream>
#include <optional>

#include "common/processes.hpp"
#include "support.hpp"

using namespace cli_test;

namespace {

std::string example_template() { return (example_dir() / "order_processing.yaml").string(); }

}  // namespace

TEST_CASE("run: the example command-handler workflow completes") {
  Sandbox s;
  Result r = s.tasker({"run", "ecommerce_commands/order_processing", "--templates", example_dir().string(), "--context",
                       "@" + (example_dir() / "context.json").string(), "--db", s.db()});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("validate_cart  enqueued -> in_progress  attempt 1") != std::string::npos);
  CHECK(r.out.find("complete: 5/5 steps complete (100%)") != std::string::npos);

  json status = s.status(s.tasks().at(0).at("task_uuid"));
  CHECK(status.at("state") == "complete");
  for (const auto& step : status.at("steps")) {
    INFO(step.dump(2));
    CHECK(step.at("state") == "complete");
    CHECK(step.at("attempts") == 1);
  }
  json cart = Sandbox::step_of(status, "validate_cart").at("results");
  CHECK(cart.at("subtotal") == 108.0);
  CHECK(cart.at("total") == 116.64);
  CHECK(Sandbox::step_of(status, "process_payment").at("results").at("amount_charged") == 116.64);
  CHECK(Sandbox::step_of(status, "update_inventory").at("results").at("updated_products").size() == 2);
  json email = Sandbox::step_of(status, "send_confirmation").at("results");  // from the shell handler
  CHECK(email.at("email_sent_to") == "ada@example.com");
  CHECK(email.at("order_number") == Sandbox::step_of(status, "create_order").at("results").at("order_number"));
  CHECK(email.at("message_id") == "msg-" + status.at("task_uuid").get<std::string>());
}

TEST_CASE("run: a flaky gateway is retried and the task completes") {
  Sandbox s;
  Result r =
      s.tasker({"run", example_template(), "--context", s.example_context("tok_flaky"), "--json", "--db", s.db()});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  json task = r.json_out();
  CHECK(task.at("state") == "complete");
  json payment = Sandbox::step_of(task, "process_payment");
  CHECK(payment.at("attempts") == 2);
  CHECK(payment.at("error").at("message") == "payment gateway timed out after 5 s");
  CHECK(payment.at("error").at("retryable") == true);
  CHECK(payment.at("results").at("attempt") == 2);
}

TEST_CASE("run: a declined card fails the task with exit code 5 and one line naming the step") {
  Sandbox s;
  Result r = s.tasker({"run", example_template(), "--context", s.example_context("tok_declined"), "--db", s.db()});
  check_one_line_error(
      r, 5,
      {"failed: step `process_payment` failed after 1 attempt: card declined by the issuer", "tasker step reset"});
  json status = s.status(s.tasks().at(0).at("task_uuid"));
  CHECK(status.at("state") == "error");
  CHECK(Sandbox::step_of(status, "process_payment").at("error").at("context").at("decline_code") == "do_not_honor");
  CHECK(Sandbox::step_of(status, "update_inventory").at("state") == "pending");
}

TEST_CASE("worker: runs submitted tasks until SIGTERM, then exits 0") {
  Sandbox s;
  s.migrate();
  Process worker =
      s.start({"worker", "--templates", example_dir().string(), "--db", s.db(), "--concurrency", "2", "--json"});
  std::vector<std::string> uuids{s.submit_example({"--idempotency-key", "a"}),
                                 s.submit_example({"--idempotency-key", "b"})};
  for (const auto& uuid : uuids) {
    INFO(worker.err());
    CHECK(eventually([&] { return s.status(uuid).at("state") == "complete"; }));
  }
  worker.signal(SIGTERM);
  CHECK(worker.wait() == 0);
  INFO(worker.err());
  CHECK(worker.err().find("5 command handlers on ") != std::string::npos);
  CHECK(worker.err().find("SIGTERM received, stopping") != std::string::npos);
  CHECK(worker.err().find("stopped; 10 steps claimed, 10 succeeded, 0 failed") != std::string::npos);
  json stats = json::parse(worker.out());
  CHECK(stats.at("succeeded") == 10);
  for (const auto& uuid : uuids)
    CHECK(Sandbox::step_of(s.status(uuid), "send_confirmation").at("results").at("email_sent_to") == "ada@example.com");
}

TEST_CASE("worker: SIGINT during a running handler kills its process group and hands the step back") {
  Sandbox s;
  s.write("slow/slow.yaml", R"(name: slow
namespace_name: cli_tests
version: 1.0.0
steps:
  - name: nap
    handler:
      callable: cli_tests.nap
      command: [sh, -c, 'echo $$ > nap.pid; exec sleep 30']
    timeout_seconds: 60
)");
  s.migrate();
  Process worker =
      s.start({"worker", "--templates", (s.dir() / "slow").string(), "--db", s.db(), "--stop-grace-ms", "100"});
  Result submitted = s.tasker({"submit", "cli_tests/slow", "--templates", (s.dir() / "slow").string(), "--db", s.db()});
  REQUIRE(submitted.exit_code == 0);
  const std::string uuid = submitted.out.substr(0, 36);
  const auto pid_file = s.dir() / "slow" / "nap.pid";
  REQUIRE(eventually([&] { return std::filesystem::exists(pid_file) && std::filesystem::file_size(pid_file) > 0; }));
  pid_t nap = 0;
  std::ifstream(pid_file) >> nap;
  REQUIRE(nap > 0);
  worker.signal(SIGINT);
  CHECK(worker.wait(30s) == 0);
  INFO(worker.err());
  CHECK(worker.err().find("SIGINT received, stopping") != std::string::npos);
  CHECK(::kill(nap, 0) != 0);  // the handler's process is gone
  json step = Sandbox::step_of(s.status(uuid), "nap");
  INFO(step.dump(2));
  CHECK(step.at("state") == "enqueued");  // handed back unrun: another worker takes it from the start
  CHECK(step.at("attempts") == 0);
  CHECK(step.at("lease_expires_at").is_null());
  json audit = s.tasker({"audit", uuid, "nap", "--json", "--db", s.db()}).json_out();
  CHECK(audit.back().at("reason") == "released unrun by a stopping worker");
}

TEST_CASE("worker: SIGKILL of the worker kills its running handlers and what they started") {
  Sandbox s;
  // The handler starts a child of its own and waits for it: two processes that
  // would run on for minutes without a supervisor.
  s.write("family/family.yaml", R"(name: family
namespace_name: cli_tests
version: 1.0.0
steps:
  - name: parent
    handler:
      callable: cli_tests.family
      command: [sh, -c, 'sleep 300 & echo $! > child.pid; echo $$ > parent.pid; wait']
    timeout_seconds: 600
)");
  s.migrate();
  Process worker = s.start({"worker", "--templates", (s.dir() / "family").string(), "--db", s.db()});
  Result submitted =
      s.tasker({"submit", "cli_tests/family", "--templates", (s.dir() / "family").string(), "--db", s.db()});
  REQUIRE(submitted.exit_code == 0);
  auto read_pid = [&](const std::string& name) -> std::optional<test_support::ProcessRef> {
    const auto file = s.dir() / "family" / name;
    pid_t pid = 0;
    if (std::ifstream(file) >> pid) return test_support::find_process(pid);
    return std::nullopt;
  };
  std::optional<test_support::ProcessRef> parent, child;
  REQUIRE_MESSAGE(eventually([&] { return (parent = read_pid("parent.pid")) && (child = read_pid("child.pid")); }),
                  worker.err());

  worker.signal(SIGKILL);
  CHECK(worker.wait() == 128 + SIGKILL);
  CHECK(eventually([&] { return !test_support::alive(*parent) && !test_support::alive(*child); }));
}
