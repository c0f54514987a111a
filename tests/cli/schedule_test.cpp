// `tasker schedule create|list|show|pause|resume|trigger|delete` through the
// real binary (docs/schedules.md): the JSON and the human output, the exit
// codes, and that a refused command leaves the schedules as they were. No
// worker runs: nothing fires but `trigger`.
#include "support.hpp"
#include "tasker/clock.hpp"
#include "tasker/task.hpp"

using namespace cli_test;

namespace {

struct Schedules {
  Sandbox s;

  Result run(std::vector<std::string> args, bool templates = false) const {
    args.insert(args.begin(), "schedule");
    if (templates) args.insert(args.end(), {"--templates", example_dir().string()});
    args.insert(args.end(), {"--db", s.db()});
    return s.tasker(args);
  }
  json run_json(std::vector<std::string> args, bool templates = false) const {
    args.emplace_back("--json");
    Result r = run(std::move(args), templates);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    return r.json_out();
  }
  /// `schedule list --json`, as printed: what a refused command must leave unchanged.
  std::string list() const {
    Result r = run({"list", "--json"});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    return r.out;
  }
};

const std::string kTemplate = "ecommerce_commands/order_processing";

}  // namespace

TEST_CASE("schedule: create list show pause resume trigger and delete (JSON and for people)") {
  Schedules c;
  const auto now = tasker::SystemClock::instance().now();
  json nightly = c.run_json({"create", "nightly", kTemplate, "--cron", "0 2 * * *", "--timezone", "Europe/Berlin",
                             "--context", R"({"format": "csv"})", "--overlap", "skip", "--catch-up", "all"},
                            true);
  CHECK(nightly.at("name") == "nightly");
  CHECK(nightly.at("namespace") == "ecommerce_commands");
  CHECK(nightly.at("task_name") == "order_processing");
  CHECK(nightly.at("version") == "1.0.0");  // the latest, pinned
  CHECK(nightly.at("cron") == "0 2 * * *");
  CHECK(nightly.at("time_zone") == "Europe/Berlin");
  CHECK(nightly.at("context") == json{{"format", "csv"}});
  CHECK(nightly.at("overlap") == "skip");
  CHECK(nightly.at("catch_up") == "all");
  CHECK(nightly.at("paused") == false);
  CHECK(nightly.at("last_tick").is_null());
  CHECK(nightly.at("last_task_uuid").is_null());
  // 02:00 in Berlin is 01:00 or 00:00 UTC (CET or CEST), within a day from now.
  const std::string next = nightly.at("next_tick");
  INFO(next);
  CHECK((next.substr(10) == "T01:00:00.000Z" || next.substr(10) == "T00:00:00.000Z"));
  const auto next_tick = tasker::parse_time(next);
  REQUIRE(next_tick);
  CHECK(*next_tick > now);
  CHECK(*next_tick <= now + 25h);

  Result hourly = c.run({"create", "hourly", kTemplate, "--cron", "@hourly"}, true);
  INFO(hourly.describe());
  REQUIRE(hourly.exit_code == 0);
  CHECK(hourly.out.rfind("schedule hourly created; next tick ", 0) == 0);
  CHECK(hourly.out.find(":00:00.000Z\n") != std::string::npos);

  // Refused: each says what and where, and nothing changes.
  const std::string before = c.list();
  check_one_line_error(c.run({"create", "nightly", kTemplate, "--cron", "* * * * *"}, true), 4,
                       {"`nightly`", "exists"});
  check_one_line_error(c.run({"create", "late", kTemplate, "--cron", "0 25 * * *"}, true), 4, {"hour", "25"});
  check_one_line_error(c.run({"create", "late", kTemplate, "--cron", "0 2 * *"}, true), 4,
                       {"cron expression `0 2 * *`: has 4 fields", "write 5"});
  check_one_line_error(c.run({"create", "late", kTemplate, "--cron", "0 2 * * *", "--timezone", "Mars/Olympus"}, true),
                       4, {"Mars/Olympus"});
  check_one_line_error(c.run({"create", "late", "ecommerce_commands/no_such", "--cron", "0 2 * * *"}, true), 3,
                       {"ecommerce_commands/no_such", "tasker templates"});
  check_one_line_error(c.run({"create", "late", kTemplate, "--cron", "0 2 * * *", "--context", "{"}, true), 4,
                       {"--context is not valid JSON"});
  Result overlap = c.run({"create", "late", kTemplate, "--cron", "0 2 * * *", "--overlap", "never"}, true);
  CHECK(overlap.exit_code == 2);
  CHECK(overlap.err.find("--overlap") != std::string::npos);
  for (const char* action : {"show", "pause", "resume", "trigger", "delete"}) {
    INFO(action);
    check_one_line_error(c.run({action, "ghost"}), 3, {"`ghost`"});
  }
  CHECK(c.list() == before);

  json listed = c.run_json({"list"});
  REQUIRE(listed.size() == 2);
  json by_name;
  for (const auto& s : listed) by_name[s.at("name").get<std::string>()] = s;
  CHECK(by_name.at("nightly") == nightly);
  CHECK(by_name.at("hourly").at("cron") == "@hourly");
  CHECK(by_name.at("hourly").at("time_zone") == "UTC");
  CHECK(by_name.at("hourly").at("overlap") == "allow");
  CHECK(by_name.at("hourly").at("catch_up") == "latest");
  Result table = c.run({"list"});
  INFO(table.describe());
  CHECK(line_with(table.out, "NAME").find("NEXT TICK") != std::string::npos);
  const std::string row = line_with(table.out, "nightly");
  CHECK(row.find(kTemplate + "@1.0.0") != std::string::npos);
  CHECK(row.find("0 2 * * *") != std::string::npos);
  CHECK(row.find("Europe/Berlin") != std::string::npos);
  CHECK(row.find(next) != std::string::npos);

  CHECK(c.run_json({"show", "nightly"}) == nightly);
  Result shown = c.run({"show", "nightly"});
  INFO(shown.describe());
  CHECK(shown.out.find("schedule  nightly\n") != std::string::npos);
  CHECK(shown.out.find("template  " + kTemplate + "@1.0.0\n") != std::string::npos);
  CHECK(shown.out.find("cron      0 2 * * * (Europe/Berlin)\n") != std::string::npos);
  CHECK(shown.out.find("overlap   skip\ncatch-up  all\n") != std::string::npos);
  CHECK(shown.out.find("next tick " + next + "\n") != std::string::npos);
  CHECK(shown.out.find("context   {\"format\":\"csv\"}\n") != std::string::npos);

  json paused = c.run_json({"pause", "nightly"});
  CHECK(paused.at("paused") == true);
  CHECK(line_with(c.run({"list"}).out, "nightly").find("paused") != std::string::npos);
  Result paused_text = c.run({"show", "nightly"});
  CHECK(paused_text.out.find("schedule  nightly (paused)\n") != std::string::npos);
  CHECK(paused_text.out.find("next tick - (paused)\n") != std::string::npos);
  json resumed = c.run_json({"resume", "nightly"});
  CHECK(resumed.at("paused") == false);
  CHECK(resumed.at("next_tick") == next);

  // A trigger makes an ordinary task now, from the schedule's pinned template and context.
  Result triggered = c.run({"trigger", "nightly"});
  INFO(triggered.describe());
  REQUIRE(triggered.exit_code == 0);
  REQUIRE(triggered.out.size() == 37);
  const std::string uuid = triggered.out.substr(0, 36);
  json task = c.s.status(uuid);
  CHECK(task.at("initiator") == "schedule:nightly");
  CHECK(task.at("namespace") == "ecommerce_commands");
  CHECK(task.at("context").at("format") == "csv");
  CHECK(task.at("context").at("tasker_schedule").at("name") == "nightly");
  CHECK(task.at("context").at("tasker_schedule").at("triggered") == true);
  json after = c.run_json({"show", "nightly"});
  CHECK(after.at("last_task_uuid") == uuid);
  CHECK(after.at("next_tick") == next);  // a trigger is outside the cron
  json hourly_task = c.run_json({"trigger", "hourly"});
  CHECK(hourly_task.at("initiator") == "schedule:hourly");
  CHECK(hourly_task.at("state") == "pending");

  Result deleted = c.run({"delete", "nightly"});
  INFO(deleted.describe());
  CHECK(deleted.exit_code == 0);
  CHECK(deleted.out == "schedule nightly deleted\n");
  CHECK(c.run_json({"delete", "hourly"}) == json{{"name", "hourly"}, {"deleted", true}});
  CHECK(c.run_json({"list"}) == json::array());
  CHECK(c.run({"list"}).out == "no schedules (create one with `tasker schedule create`)\n");
  CHECK(c.s.tasks().size() == 2);  // the tasks they created stay
}
