// tasker purge and tasker archive import: bad input is refused before the
// database is touched (exit 4, what to write instead), a dry run counts, an
// archive round trip brings the task back, and an archive that is not JSON
// Lines or was cut mid-line imports nothing (exit 4, naming the line).
#include <fstream>

#include "support.hpp"

using namespace cli_test;

TEST_CASE("purge refuses bad ages and states, saying what to write instead") {
  Sandbox s;
  check_one_line_error(s.tasker({"purge", "--older-than", "-3d", "--db", s.db()}), 4,
                       {"--older-than -3d", "may not be negative", "0, 90s, 15m, 2h or 7d"});
  check_one_line_error(s.tasker({"purge", "--older-than", "3w", "--db", s.db()}), 4, {"not an age", "90s"});
  check_one_line_error(s.tasker({"purge", "--older-than", "0", "--db", s.db()}), 4,
                       {"every finished task", "name the states"});
  check_one_line_error(s.tasker({"purge", "--older-than", "1d", "--state", "pending", "--db", s.db()}), 4,
                       {"--state pending", "active and never purged", "complete, cancelled, error, resolved_manually"});
  check_one_line_error(s.tasker({"purge", "--older-than", "1d", "--state", "finished", "--db", s.db()}), 4,
                       {"--state finished", "not a task state"});
  check_one_line_error(s.tasker({"purge", "--db", s.db()}), 4, {"no age was given", "retention"});
  Result both = s.tasker({"purge", "--older-than", "1d", "--dry-run", "--archive", "a.jsonl", "--db", s.db()});
  CHECK(both.exit_code == 2);
}

TEST_CASE("purge: a dry run counts, an archived task is purged and imported back, a bad archive imports nothing") {
  Sandbox s;
  const std::string uuid = s.submit_example({});
  REQUIRE(s.tasker({"cancel", uuid, "--db", s.db()}).exit_code == 0);

  Result dry = s.tasker({"purge", "--older-than", "0", "--state", "cancelled", "--dry-run", "--json", "--db", s.db()});
  INFO(dry.describe());
  REQUIRE(dry.exit_code == 0);
  CHECK(dry.json_out().at("dry_run") == true);
  CHECK(dry.json_out().at("tasks") == 1);
  CHECK(dry.json_out().at("by_state").at("cancelled") == 1);
  CHECK(s.tasker({"status", uuid, "--db", s.db()}).exit_code == 0);

  Result purged = s.tasker(
      {"purge", "--older-than", "0", "--state", "cancelled", "--archive", "old.jsonl", "--json", "--db", s.db()});
  INFO(purged.describe());
  REQUIRE(purged.exit_code == 0);
  CHECK(purged.json_out().at("tasks") == 1);
  CHECK(s.tasker({"status", uuid, "--db", s.db()}).exit_code == 3);

  std::string line;
  {
    std::ifstream in(s.dir() / "old.jsonl");
    std::getline(in, line);
  }
  REQUIRE(line.find(uuid) != std::string::npos);
  // Not JSON Lines, and a file cut in its second line: nothing is imported, the line is named.
  s.write("notes.jsonl", line + "\nthis is not json\n");
  check_one_line_error(s.tasker({"archive", "import", "notes.jsonl", "--db", s.db()}), 4,
                       {"notes.jsonl:2:", "not JSON", "nothing was imported"});
  s.write("cut.jsonl", line + "\n" + line.substr(0, line.size() / 2));
  check_one_line_error(s.tasker({"archive", "import", "cut.jsonl", "--db", s.db()}), 4,
                       {"cut.jsonl:2:", "cut mid-line", "nothing was imported"});
  CHECK(s.tasker({"status", uuid, "--db", s.db()}).exit_code == 3);

  Result imported = s.tasker({"archive", "import", "old.jsonl", "--json", "--db", s.db()});
  INFO(imported.describe());
  REQUIRE(imported.exit_code == 0);
  CHECK(imported.json_out() == json{{"imported", 1}, {"skipped", 0}});
  CHECK(s.status(uuid).at("state") == "cancelled");
  Result again = s.tasker({"archive", "import", "old.jsonl", "--db", s.db()});
  CHECK(again.out.find("skipped 1") != std::string::npos);
}
