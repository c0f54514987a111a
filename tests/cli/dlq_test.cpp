// tasker dlq list|show|update|stats on a database: the entry the run that left
// a task in error made, read as a table and as JSON, updated (status, notes,
// who), counted; bad statuses and uuids refused (exit 4), an unknown task 3.
#include "support.hpp"

using namespace cli_test;

namespace {
std::string example_template() { return (example_dir() / "order_processing.yaml").string(); }
}  // namespace

TEST_CASE("dlq: a failed run's entry is listed, shown, updated and counted, as text and JSON") {
  Sandbox s;
  Result run = s.tasker({"run", example_template(), "--context", s.example_context("tok_declined"), "--db", s.db()});
  REQUIRE(run.exit_code == 5);
  const std::string task = s.tasks().at(0).at("task_uuid");

  Result list = s.tasker({"dlq", "list", "--status", "pending", "--json", "--db", s.db()});
  INFO(list.describe());
  REQUIRE(list.exit_code == 0);
  REQUIRE(list.json_out().size() == 1);
  CHECK(list.json_out()[0].at("task_uuid") == task);
  CHECK(list.json_out()[0].at("dlq_reason") == "max_retries_exceeded");
  const std::string entry = list.json_out()[0].at("dlq_entry_uuid");

  Result show = s.tasker({"dlq", "show", task, "--db", s.db()});
  INFO(show.describe());
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find("failed step process_payment after 1 of") != std::string::npos);
  CHECK(show.out.find("card declined by the issuer") != std::string::npos);

  Result update = s.tasker({"dlq", "update", entry, "--status", "manually_resolved", "--notes", "refunded by hand",
                            "--resolved-by", "alice", "--json", "--db", s.db()});
  INFO(update.describe());
  REQUIRE(update.exit_code == 0);
  CHECK(update.json_out().at("success") == true);
  CHECK(update.json_out().at("entry").at("resolution_notes") == "refunded by hand");
  Result shown = s.tasker({"dlq", "show", task, "--json", "--db", s.db()});
  CHECK(shown.json_out().at("resolution_status") == "manually_resolved");
  CHECK(shown.json_out().at("resolved_by") == "alice");

  Result stats = s.tasker({"dlq", "stats", "--json", "--db", s.db()});
  INFO(stats.describe());
  REQUIRE(stats.exit_code == 0);
  CHECK(stats.json_out()[0].at("manually_resolved") == 1);
  Result table = s.tasker({"dlq", "stats", "--db", s.db()});
  CHECK(table.out.find("max_retries_exceeded") != std::string::npos);
}

TEST_CASE("dlq: unknown statuses and malformed uuids are refused naming what to write, an unknown task is 3") {
  Sandbox s;
  s.migrate();
  check_one_line_error(s.tasker({"dlq", "list", "--status", "done", "--db", s.db()}), 4,
                       {"unknown --status `done`", "pending, manually_resolved, permanently_failed, cancelled"});
  check_one_line_error(s.tasker({"dlq", "show", "nope", "--db", s.db()}), 4, {"`nope` is not a task uuid"});
  check_one_line_error(s.tasker({"dlq", "update", "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", "--db", s.db()}), 4,
                       {"nothing to update"});
  CHECK(s.tasker({"dlq", "show", "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b", "--db", s.db()}).exit_code == 3);
  CHECK(s.tasker({"dlq", "list", "--limit", "0", "--db", s.db()}).exit_code == 4);
}
