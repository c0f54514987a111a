// Submitting and reading tasks, operator actions, graph and watch.
#include <signal.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using namespace cli_test;

TEST_CASE("submit prints the uuid, and status, steps, audit and list read the task back") {
  Sandbox s;
  const std::string uuid = s.submit_example({"--priority", "7", "--tag", "vip"});

  json status = s.status(uuid);
  CHECK(status.at("task_uuid") == uuid);
  CHECK(status.at("namespace") == "ecommerce_commands");
  CHECK(status.at("state") == "pending");
  CHECK(status.at("priority") == 7);
  CHECK(status.at("tags") == json::array({"vip"}));
  CHECK(status.at("context").at("customer_info").at("email") == "ada@example.com");
  CHECK(status.at("step_counts").at("total") == 5);
  CHECK(Sandbox::step_of(status, "validate_cart").at("state") == "enqueued");
  CHECK(Sandbox::step_of(status, "send_confirmation").at("state") == "pending");

  Result text = s.tasker({"status", uuid, "--db", s.db()});
  INFO(text.describe());
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("template   ecommerce_commands/order_processing@1.0.0") != std::string::npos);
  CHECK(text.out.find("state      pending") != std::string::npos);
  CHECK(text.out.find("0/5 steps complete") != std::string::npos);
  CHECK(text.out.find("STEP") != std::string::npos);
  CHECK(line_with(text.out, "validate_cart").find("enqueued") != std::string::npos);

  Result steps = s.tasker({"steps", uuid, "--json", "--db", s.db()});
  json step_list = steps.json_out();
  REQUIRE(step_list.size() == 5);
  CHECK(step_list[1].at("name") == "process_payment");
  CHECK(step_list[1].at("dependencies") == json::array({"validate_cart"}));
  CHECK(step_list[1].at("max_attempts") == 3);
  Result steps_text = s.tasker({"steps", uuid, "--db", s.db()});
  const std::string payment_row = line_with(steps_text.out, "process_payment ");
  CHECK(payment_row.find("pending") != std::string::npos);
  CHECK(payment_row.find("0/3") != std::string::npos);
  CHECK(payment_row.find("ecommerce_commands.process_payment") != std::string::npos);
  CHECK(payment_row.find("validate_cart") != std::string::npos);

  json audit = s.tasker({"audit", uuid, "--json", "--db", s.db()}).json_out();
  REQUIRE(audit.size() == 6);  // the task and its five steps, created
  CHECK(audit[0].at("step_name").is_null());
  CHECK(audit[0].at("to_state") == "pending");
  json one_step = s.tasker({"audit", uuid, "validate_cart", "--json", "--db", s.db()}).json_out();
  REQUIRE(one_step.size() == 1);
  CHECK(one_step[0].at("to_state") == "enqueued");

  json tasks = s.tasks();
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].at("task_uuid") == uuid);
  Result filtered = s.tasker({"list", "--status", "complete", "--json", "--db", s.db()});
  CHECK(filtered.json_out().at("tasks").empty());
  Result table = s.tasker({"list", "--namespace", "ecommerce_commands", "--db", s.db()});
  CHECK(table.out.find(uuid + "  ecommerce_commands/order_processing@1.0.0  pending") != std::string::npos);
}

TEST_CASE("list pages with --limit and --cursor") {
  Sandbox s;
  std::vector<std::string> uuids;
  for (int i = 0; i < 3; ++i) uuids.push_back(s.submit_example({"--idempotency-key", "order-" + std::to_string(i)}));
  json first = s.tasker({"list", "--limit", "2", "--json", "--db", s.db()}).json_out();
  REQUIRE(first.at("tasks").size() == 2);
  CHECK(first.at("tasks")[0].at("task_uuid") == uuids[2]);  // newest first
  REQUIRE(first.at("next_cursor").is_string());
  json second =
      s.tasker({"list", "--limit", "2", "--cursor", first.at("next_cursor"), "--json", "--db", s.db()}).json_out();
  REQUIRE(second.at("tasks").size() == 1);
  CHECK(second.at("tasks")[0].at("task_uuid") == uuids[0]);
  CHECK(second.at("next_cursor").is_null());
}

TEST_CASE("submit --json with --bypass and an idempotency key, and a duplicate is refused") {
  Sandbox s;
  std::vector<std::string> args{"submit",
                                "ecommerce_commands/order_processing",
                                "--templates",
                                example_dir().string(),
                                "--context",
                                "{\"customer_info\": {\"email\": \"x@y.z\"}}",
                                "--bypass",
                                "send_confirmation",
                                "--idempotency-key",
                                "order-77",
                                "--json",
                                "--db",
                                s.db()};
  Result r = s.tasker(args);
  json task = r.json_out();
  CHECK(task.at("idempotency_key") == "order-77");
  CHECK(task.at("bypassed_steps") == json::array({"send_confirmation"}));
  CHECK(task.at("step_counts").at("total") == 4);

  Result again = s.tasker(args);
  check_one_line_error(again, 4, {"already exists", task.at("task_uuid").get<std::string>()});
  CHECK(s.tasks().size() == 1);
}

TEST_CASE("step complete and step resolve advance the task, and are audited") {
  Sandbox s;
  const std::string uuid = s.submit_example();
  auto result_file = s.write("cart.json", R"({"total": 116.64, "currency": "USD", "items": []})");
  Result done = s.tasker({"step", "complete", uuid, "validate_cart", "--result", "@" + result_file.string(), "--reason",
                          "priced by hand", "--db", s.db()});
  INFO(done.describe());
  CHECK(done.exit_code == 0);
  CHECK(done.out.find("validate_cart") != std::string::npos);

  json status = s.status(uuid);
  CHECK(Sandbox::step_of(status, "validate_cart").at("state") == "complete");
  CHECK(Sandbox::step_of(status, "validate_cart").at("results").at("total") == 116.64);
  CHECK(Sandbox::step_of(status, "process_payment").at("state") == "enqueued");

  Result resolved = s.tasker({"step", "resolve", uuid, "process_payment", "--json", "--db", s.db()});
  CHECK(resolved.json_out().at("state") == "resolved_manually");
  CHECK(Sandbox::step_of(s.status(uuid), "update_inventory").at("state") == "enqueued");

  json audit = s.tasker({"audit", uuid, "validate_cart", "--json", "--db", s.db()}).json_out();
  REQUIRE(audit.size() == 2);
  CHECK(audit[1].at("from_state") == "enqueued");
  CHECK(audit[1].at("to_state") == "complete");
  CHECK(audit[1].at("reason") == "priced by hand");

  // A step already done cannot be completed again; a step that is not failed cannot be reset.
  check_one_line_error(s.tasker({"step", "resolve", uuid, "validate_cart", "--db", s.db()}), 4, {"already complete"});
  check_one_line_error(s.tasker({"step", "reset", uuid, "update_inventory", "--db", s.db()}), 4,
                       {"only a step in error can be reset"});

  // A rerun of a finished step takes every step after it back; one that has not run yet is refused.
  Result rerun = s.tasker({"step", "rerun", uuid, "validate_cart", "--reason", "repriced", "--json", "--db", s.db()});
  INFO(rerun.describe());
  CHECK(rerun.json_out().at("state") == "enqueued");
  status = s.status(uuid);
  CHECK(Sandbox::step_of(status, "process_payment").at("state") == "pending");
  CHECK(Sandbox::step_of(status, "update_inventory").at("state") == "pending");
  check_one_line_error(s.tasker({"step", "rerun", uuid, "update_inventory", "--db", s.db()}), 4,
                       {"only a finished or failed step can be rerun"});

  // Submitted again as a new task, linked to this one.
  Result again =
      s.tasker({"rerun", uuid, "--reason", "again", "--templates", example_dir().string(), "--json", "--db", s.db()});
  INFO(again.describe());
  REQUIRE(again.exit_code == 0);
  CHECK(again.json_out().at("tags").dump().find("rerun-of:" + uuid) != std::string::npos);
  CHECK(again.json_out().at("context") == s.status(uuid).at("context"));
  check_one_line_error(s.tasker({"rerun", "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", "--templates", example_dir().string(),
                                 "--db", s.db()}),
                       3, {"3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"});
}

TEST_CASE("step reset gives a failed step a fresh set of attempts") {
  Sandbox s;
  Result run = s.tasker({"run", (example_dir() / "order_processing.yaml").string(), "--context",
                         s.example_context("tok_declined"), "--db", s.db()});
  INFO(run.describe());
  REQUIRE(run.exit_code == 5);
  const std::string uuid = s.tasks().at(0).at("task_uuid");
  CHECK(Sandbox::step_of(s.status(uuid), "process_payment").at("state") == "error");

  Result reset = s.tasker({"step", "reset", uuid, "process_payment", "--reason", "card replaced", "--db", s.db()});
  INFO(reset.describe());
  CHECK(reset.exit_code == 0);
  json status = s.status(uuid);
  CHECK(status.at("state") == "in_progress");
  CHECK(Sandbox::step_of(status, "process_payment").at("state") == "enqueued");
  CHECK(Sandbox::step_of(status, "process_payment").at("attempts") == 0);
  json audit = s.tasker({"audit", uuid, "process_payment", "--json", "--db", s.db()}).json_out();
  CHECK(audit.back().at("from_state") == "error");
  CHECK(audit.back().at("to_state") == "enqueued");
  CHECK(audit.back().at("reason") == "card replaced");
}

TEST_CASE("cancel cancels every unfinished step, once") {
  Sandbox s;
  const std::string uuid = s.submit_example();
  Result r = s.tasker({"cancel", uuid, "--reason", "customer withdrew", "--db", s.db()});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("5 of 5 steps cancelled") != std::string::npos);
  json status = s.status(uuid);
  CHECK(status.at("state") == "cancelled");
  CHECK(status.at("step_counts").at("cancelled") == 5);
  check_one_line_error(s.tasker({"cancel", uuid, "--db", s.db()}), 4, {"already cancelled"});
}

TEST_CASE("graph of a task colours its nodes by state") {
  Sandbox s;
  const std::string uuid = s.submit_example();
  REQUIRE(s.tasker({"step", "complete", uuid, "validate_cart", "--result", "{}", "--db", s.db()}).exit_code == 0);
  Result dot = s.tasker({"graph", uuid, "--db", s.db()});
  INFO(dot.describe());
  CHECK(dot.exit_code == 0);
  CHECK(dot.out.find("digraph \"ecommerce_commands/order_processing@1.0.0 task " + uuid + "\"") != std::string::npos);
  CHECK(dot.out.find("label=\"validate_cart\\necommerce_commands.validate_cart\\nattempts 0/2\\n[complete]\", "
                     "fillcolor=\"#a5d6a7\"") != std::string::npos);
  CHECK(dot.out.find("process_payment\\necommerce_commands.process_payment\\nattempts 0/3\\n[enqueued]") !=
        std::string::npos);
  CHECK(dot.out.find("n0 -> n1;") != std::string::npos);
  CHECK(dot.out.find("n3 -> n4;") != std::string::npos);

  Result mermaid = s.tasker({"graph", uuid, "--format", "mermaid", "--db", s.db()});
  CHECK(mermaid.out.find("classDef complete fill:#a5d6a7") != std::string::npos);
  CHECK(mermaid.out.find("class n0 complete") != std::string::npos);
  CHECK(mermaid.out.find("class n2,n3,n4 pending") != std::string::npos);
}

TEST_CASE("watch on a finished task prints its history as lines and exits 0") {
  Sandbox s;
  Result run = s.tasker({"run", (example_dir() / "order_processing.yaml").string(), "--context",
                         "@" + (example_dir() / "context.json").string(), "--json", "--db", s.db()});
  INFO(run.describe());
  REQUIRE(run.exit_code == 0);
  const std::string uuid = run.json_out().at("task_uuid");

  Result watch = s.tasker({"watch", uuid, "--db", s.db()});
  INFO(watch.describe());
  CHECK(watch.exit_code == 0);
  CHECK(watch.err.empty());
  CHECK(watch.out.find("(task)  (new) -> pending") != std::string::npos);
  CHECK(watch.out.find("send_confirmation  in_progress -> complete  attempt 1") != std::string::npos);
  CHECK(watch.out.find("(task)  in_progress -> complete") != std::string::npos);
  CHECK(watch.out.find("task " + uuid + " complete: 5/5 steps complete (100%)") != std::string::npos);
  CHECK(watch.out.find("\x1b[") == std::string::npos);  // no terminal control codes in a pipe

  json watched = s.tasker({"watch", uuid, "--json", "--db", s.db()}).json_out();
  CHECK(watched.at("state") == "complete");
  CHECK(watched.at("steps").size() == 5);
}

namespace {

/// `text` without terminal control sequences (CSI: ESC [ ... final byte) and carriage returns.
std::string without_escapes(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7e)) ++i;
      continue;
    }
    if (text[i] != '\r') out += text[i];
  }
  return out;
}

/// Columns `line` takes on a terminal: one per character (UTF-8 continuation bytes take none).
std::size_t columns(const std::string& line) {
  return static_cast<std::size_t>(
      std::count_if(line.begin(), line.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The last frame the live view drew: what follows its last "erase to the end of the screen".
std::string last_frame(const std::string& terminal_output) {
  const auto erase = terminal_output.rfind("\x1b[J");
  return without_escapes(erase == std::string::npos ? terminal_output : terminal_output.substr(erase));
}

}  // namespace

TEST_CASE("run on a terminal draws a live view in place and leaves the final frame") {
  Sandbox s;
  Result r = s.tasker_on_terminal({"run", (example_dir() / "order_processing.yaml").string(), "--context",
                                   "@" + (example_dir() / "context.json").string(), "--interval", "20", "--db", s.db()},
                                  100, 30);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("\x1b[?25l", 0) == 0);  // the cursor is hidden while the view owns the screen
  const auto shown = r.out.rfind("\x1b[?25h");
  REQUIRE(shown != std::string::npos);                                // and shown again at the end
  CHECK(r.out.find("F\x1b[J") != std::string::npos);                  // at least one frame redrawn over the one before
  CHECK(r.out.find("in_progress -> complete") == std::string::npos);  // no history lines on a terminal
  CHECK(r.out.find("\x1b[32m") != std::string::npos);                 // complete steps in green

  const std::string frame = last_frame(r.out.substr(0, shown));
  INFO(frame);
  CHECK(frame.find("ecommerce_commands/order_processing") != std::string::npos);
  CHECK(frame.find("[##############################] 100%  5/5 complete, 0 running") != std::string::npos);
  for (const char* step : {"validate_cart", "process_payment", "update_inventory", "create_order", "send_confirmation"})
    CHECK(line_with(frame, step).find("complete") != std::string::npos);
  for (const auto& line : lines_of(frame)) CHECK(columns(line) < 100);  // never wider than the terminal
}

TEST_CASE("watch on a small terminal shows the steps that fit and counts the rest") {
  Sandbox s;
  Result run = s.tasker({"run", (example_dir() / "order_processing.yaml").string(), "--context",
                         s.example_context("tok_declined"), "--json", "--db", s.db()});
  const std::string uuid = run.json_out().at("task_uuid");

  // 8 rows leave room for 3 lines of steps: the failed one first, then "... and 3 more steps".
  Result watch = s.tasker_on_terminal({"watch", uuid, "--db", s.db()}, 60, 8);
  INFO(watch.describe());
  CHECK(watch.exit_code == 5);
  const std::string frame = last_frame(watch.out);
  INFO(frame);
  CHECK(line_with(frame, "process_payment").find("error") != std::string::npos);
  CHECK(frame.find("... and 3 more steps") != std::string::npos);
  CHECK(frame.find(" 20%  1/5 complete") != std::string::npos);
  for (const auto& line : lines_of(frame)) CHECK(columns(line) < 60);
}

TEST_CASE("watch exits 5 on a failed task and 130 when interrupted") {
  Sandbox s;
  Result run = s.tasker({"run", (example_dir() / "order_processing.yaml").string(), "--context",
                         s.example_context("tok_declined"), "--json", "--db", s.db()});
  const std::string failed = run.json_out().at("task_uuid");

  Result watch = s.tasker({"watch", failed, "--db", s.db()});
  check_one_line_error(watch, 5,
                       {failed, "step `process_payment` failed after 1 attempt: card declined by the issuer",
                        "tasker step reset " + failed + " process_payment"});
  CHECK(watch.out.find("process_payment  in_progress -> error") != std::string::npos);

  const std::string pending = s.submit_example();  // nothing runs it

  Process follower = s.start({"watch", pending, "--db", s.db()});
  REQUIRE(eventually([&] { return follower.out().find("send_confirmation  (new) -> pending") != std::string::npos; }));
  follower.signal(SIGINT);
  CHECK(follower.wait() == 130);
  CHECK(follower.err() == "tasker: error: interrupted by SIGINT: task " + pending +
                              " is pending; watching stopped, the task is not affected; resume with `tasker watch " +
                              pending + "`\n");
}

TEST_CASE("migrate creates the database and prints the schema version") {
  Sandbox s;
  Result r = s.tasker({"migrate", "--db", s.db()});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("schema version") != std::string::npos);
  json j = s.tasker({"migrate", "--db", s.db(), "--json"}).json_out();
  CHECK(j.at("backend") == (s.postgres() ? "postgresql" : "sqlite"));
  CHECK(j.at("schema_version").get<int>() >= 1);
}

// A worker and a submit started together on a new SQLite file both create it:
// one switching it to WAL met the other's lock and failed at once, because that
// switch does not wait for locks as writes do. Each round is a new database.
TEST_CASE("processes that create one new database at once all succeed") {
  Sandbox s;
  const int rounds = s.postgres() ? 1 : 25;  // PostgreSQL: one new schema, migrated by all at once
  for (int round = 0; round < rounds; ++round) {
    const std::string db =
        s.postgres() ? s.db() : "sqlite://" + (s.dir() / ("new" + std::to_string(round) + ".db")).string();
    std::vector<Process> openers;
    for (int i = 0; i < 4; ++i) openers.push_back(s.start({"migrate", "--db", db, "--json"}));
    for (auto& opener : openers) {
      const int code = opener.wait();
      INFO("round " << round << ": " << opener.err());
      REQUIRE(code == 0);
      CHECK(json::parse(opener.out()).at("schema_version").get<int>() >= 1);
    }
  }
}
