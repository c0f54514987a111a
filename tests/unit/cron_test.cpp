// Cron expressions and time zones: explicit instants in, explicit instants out
// (no wall clock), including the daylight-saving changes of Europe/Berlin and
// America/New_York in both directions.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "model/schedule_ticks.hpp"
#include "tasker/cron.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"

using tasker::CronExpression;
using tasker::TimePoint;

namespace {

TimePoint utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  namespace c = std::chrono;
  const c::sys_days midnight{c::year{y} / c::month{mo} / c::day{d}};
  return c::time_point_cast<c::milliseconds>(midnight + c::hours{h} + c::minutes{mi} + c::seconds{s});
}

/// The next instant after `after`, as text (doctest then shows both sides readably).
std::string next(const std::string& expression, TimePoint after, const std::string& zone = "UTC") {
  auto t = CronExpression::parse(expression).next_after(after, zone);
  return t ? tasker::format_time(*t) : "none";
}

std::string error_of(const std::string& expression) {
  try {
    (void)CronExpression::parse(expression);
  } catch (const tasker::InvalidRequestError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("cron: five fields, minute first, in UTC") {
  CHECK(next("*/15 * * * *", utc(2026, 1, 1, 10, 7)) == "2026-01-01T10:15:00.000Z");
  CHECK(next("*/15 * * * *", utc(2026, 1, 1, 10, 15)) == "2026-01-01T10:30:00.000Z");  // strictly after
  CHECK(next("0 0 * * *", utc(2026, 12, 31, 23, 59, 59)) == "2027-01-01T00:00:00.000Z");
  CHECK(next("5,10-12 3 * * *", utc(2026, 1, 1, 3, 10)) == "2026-01-01T03:11:00.000Z");
  CHECK(next("10/20 * * * *", utc(2026, 1, 1, 3, 31)) == "2026-01-01T03:50:00.000Z");  // a/n: from a to the end
  CHECK(next("0-30/10 * * * *", utc(2026, 1, 1, 3, 31)) == "2026-01-01T04:00:00.000Z");
  CHECK(next("@hourly", utc(2026, 1, 1, 3, 31)) == "2026-01-01T04:00:00.000Z");
  CHECK(next("@daily", utc(2026, 1, 1, 3, 31)) == "2026-01-02T00:00:00.000Z");
}

TEST_CASE("cron: six fields, second first") {
  auto e = CronExpression::parse("*/2 * * * * *");
  CHECK(e.has_seconds());
  CHECK(next("*/2 * * * * *", utc(2026, 1, 1, 0, 0, 1)) == "2026-01-01T00:00:02.000Z");
  // Milliseconds past a tick: the next tick, never the same one again.
  CHECK(tasker::format_time(*e.next_after(utc(2026, 1, 1, 0, 0, 2) + std::chrono::milliseconds{500}, "UTC")) ==
        "2026-01-01T00:00:04.000Z");
  CHECK(next("30 0 12 * * *", utc(2026, 1, 1, 12, 0, 30)) == "2026-01-02T12:00:30.000Z");
  CHECK_FALSE(CronExpression::parse("0 12 * * *").has_seconds());
}

TEST_CASE("cron: names of months and days, Sunday as 0 or 7, and the day-of-month OR day-of-week rule") {
  // 2026-01-01 is a Thursday.
  CHECK(next("0 9 * * MON-FRI", utc(2026, 1, 2, 10, 0)) == "2026-01-05T09:00:00.000Z");
  CHECK(next("0 9 * * sat,sun", utc(2026, 1, 1, 0, 0)) == "2026-01-03T09:00:00.000Z");
  CHECK(next("0 9 * * 7", utc(2026, 1, 1, 0, 0)) == "2026-01-04T09:00:00.000Z");
  CHECK(next("0 9 * * 0", utc(2026, 1, 1, 0, 0)) == "2026-01-04T09:00:00.000Z");
  CHECK(next("0 0 1 jun-aug *", utc(2026, 1, 1, 0, 0)) == "2026-06-01T00:00:00.000Z");
  // Both day fields restricted: the 13th OR a Friday (2026-01-02 is a Friday).
  CHECK(next("0 0 13 * FRI", utc(2026, 1, 1, 0, 0)) == "2026-01-02T00:00:00.000Z");
  CHECK(next("0 0 13 * FRI", utc(2026, 1, 9, 1, 0)) == "2026-01-13T00:00:00.000Z");
  // One of them `*` or `?`: both must match.
  CHECK(next("0 0 ? * FRI", utc(2026, 1, 3, 0, 0)) == "2026-01-09T00:00:00.000Z");
  CHECK(next("0 0 29 2 *", utc(2026, 1, 1, 0, 0)) == "2028-02-29T00:00:00.000Z");
}

TEST_CASE("cron: errors name the field and the text") {
  CHECK(error_of("* * * *") ==
        "cron expression `* * * *`: has 4 fields; write 5 (minute hour day-of-month month day-of-week) or 6 (a second "
        "first), e.g. `*/5 * * * *`");
  CHECK(error_of("61 * * * *") == "cron expression `61 * * * *`: the minute field `61` has 61, outside 0..59");
  CHECK(error_of("0 24 * * *") == "cron expression `0 24 * * *`: the hour field `24` has 24, outside 0..23");
  CHECK(error_of("0 0 * FOO *") ==
        "cron expression `0 0 * FOO *`: the month field has an unknown name `FOO` (use JAN..DEC)");
  CHECK(error_of("0 0 * * MON-XYZ") ==
        "cron expression `0 0 * * MON-XYZ`: the day-of-week field has an unknown name `XYZ` (use SUN..SAT)");
  CHECK(error_of("*/0 * * * *") ==
        "cron expression `*/0 * * * *`: the minute field `*/0` has step `0`; a step is a whole number in 1..60");
  CHECK(error_of("30-10 * * * *") ==
        "cron expression `30-10 * * * *`: the minute field `30-10` is a reversed range (write 10-30)");
  CHECK(error_of("1,,2 * * * *") == "cron expression `1,,2 * * * *`: the minute field `1,,2` has an empty list item");
  CHECK(error_of("x * * * *") == "cron expression `x * * * *`: the minute field `x` has `x`, which is not a number");
  CHECK(error_of("0 0 30 2 *") ==
        "cron expression `0 0 30 2 *`: names a day of the month that never occurs in its months");
  CHECK(error_of("@often") ==
        "cron expression `@often`: unknown shorthand (there are @yearly @annually @monthly @weekly @daily @midnight "
        "@hourly)");
  CHECK(error_of(std::string(300, '*')) == "a cron expression is 300 characters here, more than the 256 allowed");
  CHECK(error_of("0 0 30 2 1") == "no error");  // the 30th never comes in February, but Mondays do
}

TEST_CASE("cron: an unknown time zone is refused with a suggestion") {
  CHECK_NOTHROW(tasker::check_time_zone("Europe/Berlin"));
  CHECK_NOTHROW(tasker::check_time_zone("UTC"));
  try {
    tasker::check_time_zone("Europe/Berlim");
    FAIL("no error");
  } catch (const tasker::InvalidRequestError& e) {
    CHECK(std::string(e.what()) ==
          "`Europe/Berlim` is not a time zone of the system's time-zone database (/usr/share/zoneinfo, package "
          "tzdata) (did you mean `Europe/Berlin`?)");
  }
  CHECK_THROWS_AS((void)CronExpression::parse("0 0 * * *").next_after(utc(2026, 1, 1, 0, 0), "Mars/Olympus"),
                  tasker::InvalidRequestError);
}

TEST_CASE("cron: civil time in a zone, outside daylight-saving changes") {
  // Berlin is UTC+1 in winter, UTC+2 in summer; New York UTC-5 and UTC-4.
  CHECK(next("0 9 * * *", utc(2026, 1, 10, 0, 0), "Europe/Berlin") == "2026-01-10T08:00:00.000Z");
  CHECK(next("0 9 * * *", utc(2026, 7, 10, 0, 0), "Europe/Berlin") == "2026-07-10T07:00:00.000Z");
  CHECK(next("0 9 * * *", utc(2026, 1, 10, 0, 0), "America/New_York") == "2026-01-10T14:00:00.000Z");
  CHECK(next("0 9 * * *", utc(2026, 7, 10, 0, 0), "America/New_York") == "2026-07-10T13:00:00.000Z");
}

TEST_CASE(
    "cron: Europe/Berlin springs forward (02:00 CET is 03:00 CEST on 2026-03-29): a skipped time runs once, "
    "after the gap") {
  const std::string z = "Europe/Berlin";
  // 02:30 does not exist that night: it runs at the end of the gap, 03:00 CEST (01:00Z), once.
  CHECK(next("30 2 * * *", utc(2026, 3, 28, 12, 0), z) == "2026-03-29T01:00:00.000Z");
  CHECK(next("30 2 * * *", utc(2026, 3, 29, 1, 0), z) == "2026-03-30T00:30:00.000Z");
  // Every quarter hour: 01:45 CET, then 03:00 CEST (the four skipped times collapse into it), then 03:15.
  CHECK(next("*/15 * * * *", utc(2026, 3, 29, 0, 30), z) == "2026-03-29T00:45:00.000Z");
  CHECK(next("*/15 * * * *", utc(2026, 3, 29, 0, 45), z) == "2026-03-29T01:00:00.000Z");
  CHECK(next("*/15 * * * *", utc(2026, 3, 29, 1, 0), z) == "2026-03-29T01:15:00.000Z");
  // A time after the gap is not moved.
  CHECK(next("0 3 * * *", utc(2026, 3, 28, 12, 0), z) == "2026-03-29T01:00:00.000Z");
  CHECK(next("0 4 * * *", utc(2026, 3, 28, 12, 0), z) == "2026-03-29T02:00:00.000Z");
}

TEST_CASE("cron: Europe/Berlin falls back (03:00 CEST is 02:00 CET on 2026-10-25): a repeated time runs once") {
  const std::string z = "Europe/Berlin";
  // 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET): only the first runs.
  CHECK(next("30 2 * * *", utc(2026, 10, 24, 12, 0), z) == "2026-10-25T00:30:00.000Z");
  CHECK(next("30 2 * * *", utc(2026, 10, 25, 0, 30), z) == "2026-10-26T01:30:00.000Z");
  // Hourly: 02:00 CEST (00:00Z), then 03:00 CET (02:00Z); the second 02:00 (01:00Z) does not run again.
  CHECK(next("0 * * * *", utc(2026, 10, 24, 23, 30), z) == "2026-10-25T00:00:00.000Z");
  CHECK(next("0 * * * *", utc(2026, 10, 25, 0, 0), z) == "2026-10-25T02:00:00.000Z");
  // From inside the repeated hour, the next run is after it.
  CHECK(next("*/20 * * * *", utc(2026, 10, 25, 1, 10), z) == "2026-10-25T02:00:00.000Z");
}

TEST_CASE("cron: America/New_York in both directions (2026-03-08 and 2026-11-01)") {
  const std::string z = "America/New_York";
  // 02:30 is skipped on 2026-03-08 (02:00 EST is 03:00 EDT, 07:00Z): it runs at 03:00 EDT.
  CHECK(next("30 2 * * *", utc(2026, 3, 7, 12, 0), z) == "2026-03-08T07:00:00.000Z");
  CHECK(next("30 2 * * *", utc(2026, 3, 8, 7, 0), z) == "2026-03-09T06:30:00.000Z");
  // 01:30 occurs twice on 2026-11-01 (05:30Z EDT, 06:30Z EST): it runs at the first.
  CHECK(next("30 1 * * *", utc(2026, 10, 31, 12, 0), z) == "2026-11-01T05:30:00.000Z");
  CHECK(next("30 1 * * *", utc(2026, 11, 1, 5, 30), z) == "2026-11-02T06:30:00.000Z");
  // Six fields across the gap: 01:59:58, 01:59:59 EST, then 03:00:00 EDT.
  CHECK(next("* * * * * *", utc(2026, 3, 8, 6, 59, 58), z) == "2026-03-08T06:59:59.000Z");
  CHECK(next("* * * * * *", utc(2026, 3, 8, 6, 59, 59), z) == "2026-03-08T07:00:00.000Z");
}

TEST_CASE("schedule ticks: the catch-up policies choose among the due ticks, and `all` is bounded") {
  using tasker::ScheduleCatchUp;
  using tasker::detail::plan_ticks;
  const auto cron = CronExpression::parse("* * * * * *");
  const TimePoint next = utc(2026, 1, 1, 0, 0, 1);
  const std::chrono::milliseconds grace{500};
  // On time: every policy fires the one due tick.
  for (auto policy : {ScheduleCatchUp::none, ScheduleCatchUp::latest, ScheduleCatchUp::all}) {
    auto p = plan_ticks(cron, "UTC", next, next + std::chrono::milliseconds{200}, policy, grace);
    CHECK(p.fire == std::vector<TimePoint>{next});
    CHECK(p.missed == 0);
    CHECK(p.next == next + std::chrono::seconds{1});
  }
  // 2,000 ticks late: all keeps the latest 1,000 and fires 100 of them now, oldest first.
  const TimePoint late = next + std::chrono::seconds{1999} + std::chrono::milliseconds{700};
  auto all = plan_ticks(cron, "UTC", next, late, ScheduleCatchUp::all, grace);
  CHECK(all.missed == 1000);
  REQUIRE(all.fire.size() == 100);
  CHECK(all.fire.front() == next + std::chrono::seconds{1000});
  CHECK(all.next == next + std::chrono::seconds{1100});  // still due: the next pass goes on
  auto latest = plan_ticks(cron, "UTC", next, late, ScheduleCatchUp::latest, grace);
  CHECK(latest.fire == std::vector<TimePoint>{next + std::chrono::seconds{1999}});
  CHECK(latest.missed == 1999);
  CHECK(latest.next == next + std::chrono::seconds{2000});
  auto none = plan_ticks(cron, "UTC", next, late, ScheduleCatchUp::none, grace);
  CHECK(none.fire.empty());
  CHECK(none.missed == 2000);
  // Down for a year: the walk stops at 100,000 ticks and jumps to the last day.
  auto year = plan_ticks(cron, "UTC", next, next + std::chrono::hours{24 * 365}, ScheduleCatchUp::latest, grace);
  CHECK(year.fire == std::vector<TimePoint>{next + std::chrono::hours{24 * 365}});
  CHECK(year.missed >= 100'000);
}
