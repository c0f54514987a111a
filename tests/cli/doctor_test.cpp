// tasker doctor: a database whose counters agree with its steps is consistent
// (exit 0); one changed behind tasker's back is named, task and counter (exit 1).
#include <SQLiteCpp/SQLiteCpp.h>

#include "support.hpp"

using namespace cli_test;

TEST_CASE("doctor finds the database consistent, and names a task whose counters were changed behind its back") {
  Sandbox s;
  const std::string uuid = s.submit_example({});
  Result ok = s.tasker({"doctor", "--db", s.db(), "--json"});
  INFO(ok.describe());
  CHECK(ok.exit_code == 0);
  CHECK(ok.json_out().at("consistent") == true);
  CHECK(ok.json_out().at("violations").empty());
  if (s.postgres()) return;  // the corruption below writes the SQLite file directly

  {
    SQLite::Database db((s.dir() / "tasker.db").string(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE tasker_tasks SET active_steps = active_steps + 2");
    db.exec("UPDATE tasker_steps SET claimable_at = NULL WHERE state = 'enqueued'");
  }
  Result bad = s.tasker({"doctor", "--db", s.db()});
  INFO(bad.describe());
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find("task " + uuid + ": counters") != std::string::npos);
  CHECK(bad.out.find("step `validate_cart` is enqueued, against the rule: claimable_at is set exactly while a step "
                     "is claimable") != std::string::npos);
  CHECK(bad.out.find("2 violation(s)") != std::string::npos);
}
