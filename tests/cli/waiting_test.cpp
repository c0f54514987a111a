// Workflows that wait, through the real `tasker` binary: `tasker signal` to a
// signal step (docs/templates.md, "Waiting steps") and a delayed start
// (`submit --at | --in`). Every refused command leaves the database as it was.
#include <signal.h>

#include "support.hpp"
#include "tasker/clock.hpp"
#include "tasker/task.hpp"

using namespace cli_test;

namespace {

// Three signal steps in a row: `approve` waits for the signal `approval`, the
// others for their own names. No handler: any worker takes care of them.
const char* const kApprovalTemplate = R"(name: approval
namespace_name: cli_tests
version: 1.0.0
steps:
  - name: approve
    type: signal
    signal: {name: approval}
  - name: review
    type: signal
    dependencies: [approve]
  - name: archive
    type: signal
    dependencies: [review]
)";

struct Approval {
  Sandbox s;
  std::string templates = s.write("approval/approval.yaml", kApprovalTemplate).parent_path().string();

  std::string submit() const {
    Result r = s.tasker({"submit", "cli_tests/approval", "--templates", templates, "--db", s.db()});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    return r.out.substr(0, 36);
  }
  Result signal(const std::string& uuid, const std::vector<std::string>& extra,
                const std::string& stdin_text = "") const {
    std::vector<std::string> args{"signal", uuid};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--db", s.db()});
    return s.tasker(args, stdin_text);
  }
  /// `tasker steps UUID --json`, as printed: what a refused command must leave unchanged.
  std::string steps(const std::string& uuid) const {
    Result r = s.tasker({"steps", uuid, "--json", "--db", s.db()});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    return r.out;
  }
  std::string state_of(const std::string& uuid, const std::string& step) const {
    return Sandbox::step_of(s.status(uuid), step).at("state");
  }
};

void check_ok(const Result& r, const std::string& out) {
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == out);
  CHECK(r.err.empty());
}

}  // namespace

TEST_CASE("signal: a waiting step completes with the payload once per key (payload as text or @FILE or @-)") {
  Approval a;
  a.s.migrate();
  // The signals come from other processes: on SQLite the worker notices the next step by polling.
  const auto config = a.s.write("tasker.yaml", "event_system:\n  fallback_interval_ms: 50\n");
  Process worker = a.s.start({"--config", config.string(), "worker", "--templates", a.templates, "--db", a.s.db()});
  const std::string uuid = a.submit();
  REQUIRE(eventually([&] { return a.state_of(uuid, "approve") == "waiting"; }));

  // Shown as waiting wherever a step's state is shown.
  json step = Sandbox::step_of(a.s.status(uuid), "approve");
  CHECK(step.at("type") == "signal");
  CHECK(step.at("signal_name") == "approval");
  CHECK(step.at("lease_expires_at").is_null());  // it holds no worker
  Result status = a.s.tasker({"status", uuid, "--db", a.s.db()});
  CHECK(line_with(status.out, "approve").find("waiting") != std::string::npos);
  CHECK(status.out.find("state      in_progress") != std::string::npos);
  CHECK(status.out.find(", 1 waiting,") != std::string::npos);
  Result steps = a.s.tasker({"steps", uuid, "--db", a.s.db()});
  CHECK(line_with(steps.out, "approve ").find("waiting") != std::string::npos);
  CHECK(line_with(steps.out, "review ").find("pending") != std::string::npos);

  // Refused: nothing changes.
  const std::string before = a.steps(uuid);
  check_one_line_error(a.signal(uuid, {"approvall", "--payload", "{}"}), 3,
                       {"task " + uuid + " has no signal step waiting for signal `approvall`"});
  check_one_line_error(a.signal(uuid, {"approval", "--payload", "yes please"}), 4,
                       {"--payload is not valid JSON", "--payload @context.json"});
  check_one_line_error(a.signal(uuid, {"approval", "--payload", "[true]"}), 4, {"a JSON object", "array"});
  check_one_line_error(a.signal(uuid, {"approval", "--payload", "@missing.json"}), 4,
                       {"cannot read the --payload file `missing.json`"});
  check_one_line_error(a.signal("3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", {"approval"}), 3,
                       {"3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", "tasker list"});
  check_one_line_error(a.signal(uuid, {"approval", "--key", ""}), 4, {"a signal's key, when given, is not empty"});
  CHECK(a.steps(uuid) == before);

  check_ok(a.signal(uuid, {"approval", "--payload", R"({"approved": true, "by": "ada"})", "--key", "approval-42"}),
           "signal `approval` to task " + uuid + ": delivered\n");
  step = Sandbox::step_of(a.s.status(uuid), "approve");
  CHECK(step.at("state") == "complete");
  CHECK(step.at("results") == json{{"approved", true}, {"by", "ada"}});
  json audit = a.s.tasker({"audit", uuid, "approve", "--json", "--db", a.s.db()}).json_out();
  CHECK(audit.back().at("from_state") == "waiting");
  CHECK(audit.back().at("to_state") == "complete");
  CHECK(audit.back().at("reason") == "signal `approval` received");

  // The same key again: nothing changes, and that is not an error.
  // (the worker moves `review` on meanwhile: only `approve` is compared)
  const json delivered = Sandbox::step_of(a.s.status(uuid), "approve");
  Result again = a.signal(uuid, {"approval", "--payload", R"({"approved": false})", "--key", "approval-42", "--json"});
  INFO(again.describe());
  CHECK(again.exit_code == 0);
  CHECK(again.json_out() == json{{"status", "duplicate"}});
  CHECK(Sandbox::step_of(a.s.status(uuid), "approve") == delivered);

  // The payload from a file, then from stdin, each to the next step once it waits.
  REQUIRE(eventually([&] { return a.state_of(uuid, "review") == "waiting"; }));
  const auto file = a.s.write("review.json", R"({"reviewer": "grace", "notes": ["ok"]})");
  check_ok(a.signal(uuid, {"review", "--payload", "@" + file.string()}),
           "signal `review` to task " + uuid + ": delivered\n");
  CHECK(Sandbox::step_of(a.s.status(uuid), "review").at("results") ==
        json{{"reviewer", "grace"}, {"notes", json::array({"ok"})}});
  REQUIRE(eventually([&] { return a.state_of(uuid, "archive") == "waiting"; }));
  Result from_stdin = a.signal(uuid, {"archive", "--payload", "@-", "--json"}, R"({"box": 7})");
  INFO(from_stdin.describe());
  CHECK(from_stdin.exit_code == 0);
  CHECK(from_stdin.json_out() == json{{"status", "delivered"}});
  REQUIRE(eventually([&] { return a.s.status(uuid).at("state") == "complete"; }));
  CHECK(Sandbox::step_of(a.s.status(uuid), "archive").at("results") == json{{"box", 7}});

  // A finished task takes no more signals.
  const std::string finished = a.steps(uuid);
  check_one_line_error(a.signal(uuid, {"approval", "--key", "approval-43"}), 4,
                       {"task " + uuid + " is complete: it takes no more signals"});
  CHECK(a.steps(uuid) == finished);
  worker.signal(SIGTERM);
  CHECK(worker.wait() == 0);
}

TEST_CASE("signal: one sent before its step waits is buffered and a cancelled task takes none") {
  Approval a;  // no worker: no step is ever reached
  const std::string uuid = a.submit();
  check_ok(a.signal(uuid, {"review", "--payload", R"({"early": true})", "--key", "r-1"}),
           "signal `review` to task " + uuid + ": buffered\n");
  Result again = a.signal(uuid, {"review", "--key", "r-1", "--json"});
  CHECK(again.json_out() == json{{"status", "duplicate"}});
  CHECK(a.state_of(uuid, "review") == "pending");

  Result cancelled = a.s.tasker({"cancel", uuid, "--db", a.s.db()});
  REQUIRE(cancelled.exit_code == 0);
  const std::string before = a.steps(uuid);
  check_one_line_error(a.signal(uuid, {"approval"}), 4, {"is cancelled: it takes no more signals"});
  CHECK(a.steps(uuid) == before);
}

TEST_CASE("submit --in and --at: the task shows when it starts and a bad time is refused before anything is written") {
  Sandbox s;
  const auto submit = [&](const std::vector<std::string>& when) {
    std::vector<std::string> args{
        "submit", "ecommerce_commands/order_processing", "--templates", example_dir().string(), "--db", s.db()};
    args.insert(args.end(), when.begin(), when.end());
    return s.tasker(args);
  };
  check_one_line_error(submit({"--in", "5x"}), 4, {"--in `5x` is not a duration", "90s, 15m, 2h, 3d"});
  check_one_line_error(submit({"--in", "4000d"}), 4, {"--in `4000d`", "up to 3650d"});
  check_one_line_error(submit({"--at", "yesterday"}), 4,
                       {"--at `yesterday` is not an RFC 3339 time", "2026-12-24T08:00:00Z"});
  Result both = submit({"--at", "2030-01-02T03:04:05Z", "--in", "90s"});
  INFO(both.describe());
  CHECK(both.exit_code == 2);
  CHECK(line_with(both.err, "excludes").find("--at excludes --in") != std::string::npos);
  if (!s.postgres()) CHECK_FALSE(std::filesystem::exists(s.dir() / "tasker.db"));  // not even a database

  const auto before = tasker::SystemClock::instance().now();
  Result in = submit({"--in", "90s", "--json"});
  const auto after = tasker::SystemClock::instance().now();
  const auto run_at = tasker::parse_time(in.json_out().at("run_at").get<std::string>());
  REQUIRE(run_at);
  CHECK(*run_at >= std::chrono::floor<std::chrono::milliseconds>(before + 90s));
  CHECK(*run_at <= after + 90s);
  const std::string in_uuid = in.json_out().at("task_uuid");
  CHECK(s.status(in_uuid).at("run_at") == in.json_out().at("run_at"));

  Result at = submit({"--at", "2030-01-02T03:04:05+01:00", "--idempotency-key", "later"});
  INFO(at.describe());
  REQUIRE(at.exit_code == 0);
  const std::string at_uuid = at.out.substr(0, 36);
  CHECK(s.status(at_uuid).at("run_at") == "2030-01-02T02:04:05.000Z");
  Result text = s.tasker({"status", at_uuid, "--db", s.db()});
  CHECK(text.out.find("run at     2030-01-02T02:04:05.000Z\n") != std::string::npos);
  CHECK(s.tasks().size() == 2);
}

TEST_CASE("run: a template whose steps wait needs no command for them") {
  Sandbox s;
  // A sleep until a time already past completes at once; the next step has a command.
  const auto path = s.write("nap/nap.yaml", R"(name: nap
namespace_name: cli_tests
version: 1.0.0
steps:
  - name: nap
    type: sleep
    sleep: {until: context.wake_at}
  - name: after
    dependencies: [nap]
    handler:
      callable: cli_tests.after
      command: [sh, -c, 'echo "{\"woke\": true}"']
)");
  Result r =
      s.tasker({"run", path.string(), "--context", R"({"wake_at": "2020-01-01T00:00:00Z"})", "--json", "--db", s.db()});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  json task = r.json_out();
  CHECK(task.at("state") == "complete");
  CHECK(Sandbox::step_of(task, "nap").at("results") == json{{"slept_until", "2020-01-01T00:00:00.000Z"}});
  CHECK(Sandbox::step_of(task, "after").at("results") == json{{"woke", true}});
}
