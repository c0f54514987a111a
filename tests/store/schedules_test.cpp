// Schedules in the store, on every backend, with a ManualClock: each tick one
// task (also with two stores racing on one database), the tick in the task,
// pause and resume, the catch-up policies after downtime, overlap skip, and
// an operator's trigger. The firing thread of real worker processes is the
// multi-process test's (tests/multiprocess).
#include <fmt/format.h>

#include <set>
#include <thread>

#include "store_fixture.hpp"
#include "tasker/errors.hpp"
#include "tasker/schedule.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tasker::FiredTick;
using tasker::ScheduleCatchUp;
using tasker::ScheduleOverlap;
using tasker::ScheduleRequest;

namespace {

// 2026-01-01T00:00:00Z: whole minutes and even seconds, so ticks are easy to name.
const tasker::TimePoint kStart{milliseconds{1'767'225'600'000}};

struct Fixture : store_test::Fixture {
  Fixture() : store_test::Fixture(kStart) {}

  tasker::ScheduleView create(const std::string& name, const std::string& cron,
                              ScheduleCatchUp catch_up = ScheduleCatchUp::latest,
                              ScheduleOverlap overlap = ScheduleOverlap::allow) {
    ScheduleRequest r;
    r.name = name;
    r.namespace_name = "error_scenarios";
    r.task_name = "success_only";
    r.cron = cron;
    r.context = {{"report", "daily"}};
    r.catch_up = catch_up;
    r.overlap = overlap;
    return h->client().create_schedule(r);
  }

  std::vector<FiredTick> fire(milliseconds grace = milliseconds{500}) {
    return store->fire_schedules(tasker::FireRequest{.misfire_grace = grace}, clock.now()).ticks;
  }

  /// Every task in the database, oldest first.
  std::vector<tasker::TaskView> tasks() {
    tasker::TaskFilter f;
    f.limit = 1000;
    auto page = h->client().list_tasks(f);
    return {page.tasks.rbegin(), page.tasks.rend()};
  }
};

std::vector<FiredTick> with(const std::vector<FiredTick>& ticks, FiredTick::Outcome outcome) {
  std::vector<FiredTick> out;
  for (const auto& t : ticks)
    if (t.outcome == outcome) out.push_back(t);
  return out;
}

std::string tick_of(const tasker::TaskView& task) { return task.context.at("tasker_schedule").at("tick"); }

}  // namespace

TEST_CASE("store: a schedule creates one task per tick, naming the schedule and the tick") {
  Fixture f;
  auto created = f.create("every-minute", "* * * * *");
  CHECK(created.version == "1.0.0");  // pinned when created
  REQUIRE(created.next_tick);
  CHECK(tasker::format_time(*created.next_tick) == "2026-01-01T00:01:00.000Z");
  CHECK(f.store->next_schedule_tick() == created.next_tick);

  f.clock.advance(seconds{59});
  CHECK(f.fire().empty());
  f.clock.advance(seconds{1});
  auto fired = f.fire();
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].outcome == FiredTick::Outcome::created);
  CHECK(f.fire().empty());  // the same tick never again

  auto task = f.h->client().get_task(fired[0].task_uuid);
  CHECK(task.initiator == "schedule:every-minute");
  CHECK(task.context.at("report") == "daily");
  CHECK(task.context.at("tasker_schedule") ==
        tasker::json({{"name", "every-minute"}, {"tick", "2026-01-01T00:01:00.000Z"}, {"triggered", false}}));
  auto view = f.h->client().get_schedule("every-minute");
  CHECK(view.last_task_uuid == task.uuid);
  CHECK(tasker::format_time(*view.last_tick) == "2026-01-01T00:01:00.000Z");
  CHECK(tasker::format_time(*view.next_tick) == "2026-01-01T00:02:00.000Z");
  CHECK(f.tasks().size() == 1);
}

TEST_CASE("store: two stores racing on one database create each tick's task once") {
  Fixture f;
  auto other = tasker::open_store(f.h->database_url());
  f.create("every-second", "* * * * * *");
  std::vector<FiredTick> created;
  for (int i = 0; i < 20; ++i) {
    f.clock.advance(seconds{1});
    std::vector<FiredTick> a;
    std::vector<FiredTick> b;
    const auto now = f.clock.now();
    std::thread racer([&] { b = other->fire_schedules({}, now).ticks; });
    a = f.store->fire_schedules({}, now).ticks;
    racer.join();
    for (auto* side : {&a, &b})
      for (const auto& t : with(*side, FiredTick::Outcome::created)) created.push_back(t);
    CHECK(with(a, FiredTick::Outcome::already_created).empty());
    CHECK(with(b, FiredTick::Outcome::already_created).empty());
  }
  CHECK(created.size() == 20);
  std::set<std::string> ticks;
  for (const auto& task : f.tasks()) CHECK_MESSAGE(ticks.insert(tick_of(task)).second, "tick twice: ", tick_of(task));
  CHECK(ticks.size() == 20);
  CHECK(*ticks.begin() == "2026-01-01T00:00:01.000Z");
  CHECK(*ticks.rbegin() == "2026-01-01T00:00:20.000Z");
}

TEST_CASE("store: a paused schedule fires nothing, resumed, it fires from the next tick, not the passed ones") {
  Fixture f;
  f.create("paused", "*/2 * * * * *");
  auto paused = f.h->client().pause_schedule("paused");
  CHECK(paused.paused);
  CHECK_FALSE(f.store->next_schedule_tick());
  f.clock.advance(seconds{11});
  CHECK(f.fire().empty());
  auto resumed = f.h->client().resume_schedule("paused");
  CHECK(tasker::format_time(*resumed.next_tick) == "2026-01-01T00:00:12.000Z");
  CHECK(f.fire().empty());
  f.clock.advance(seconds{1});
  CHECK(with(f.fire(), FiredTick::Outcome::created).size() == 1);
  CHECK(f.tasks().size() == 1);
}

TEST_CASE("store: after downtime of 5 ticks, catch-up none drops them, latest runs the last, all runs each") {
  Fixture f;
  f.create("none", "*/2 * * * * *", ScheduleCatchUp::none);
  f.create("latest", "*/2 * * * * *", ScheduleCatchUp::latest);
  f.create("all", "*/2 * * * * *", ScheduleCatchUp::all);
  // No worker from 00:00:00 to 00:00:11: the ticks 2, 4, 6, 8 and 10 pass unfired.
  f.clock.advance(seconds{11});
  auto fired = f.fire();
  std::map<std::string, std::vector<std::string>> created;
  std::map<std::string, std::int64_t> missed;
  for (const auto& t : fired) {
    if (t.outcome == FiredTick::Outcome::created) created[t.schedule].push_back(tasker::format_time(t.tick));
    if (t.outcome == FiredTick::Outcome::missed) missed[t.schedule] += t.count;
  }
  CHECK(created["none"].empty());
  CHECK(missed["none"] == 5);
  CHECK(created["latest"] == std::vector<std::string>{"2026-01-01T00:00:10.000Z"});
  CHECK(missed["latest"] == 4);
  CHECK(created["all"] == std::vector<std::string>{"2026-01-01T00:00:02.000Z", "2026-01-01T00:00:04.000Z",
                                                   "2026-01-01T00:00:06.000Z", "2026-01-01T00:00:08.000Z",
                                                   "2026-01-01T00:00:10.000Z"});
  CHECK(missed["all"] == 0);
  for (const auto& name : {"none", "latest", "all"})
    CHECK(tasker::format_time(*f.h->client().get_schedule(name).next_tick) == "2026-01-01T00:00:12.000Z");
  // Back on time, none fires its ticks again.
  f.clock.advance(seconds{1});
  CHECK(with(f.fire(), FiredTick::Outcome::created).size() == 3);
}

TEST_CASE("store: overlap skip creates no task while the schedule's previous one is unfinished") {
  Fixture f;
  f.create("skip", "* * * * *", ScheduleCatchUp::latest, ScheduleOverlap::skip);
  f.clock.advance(seconds{60});
  auto first = with(f.fire(), FiredTick::Outcome::created);
  REQUIRE(first.size() == 1);
  f.clock.advance(seconds{60});  // no worker ran it: still pending
  auto second = f.fire();
  REQUIRE(second.size() == 1);
  CHECK(second[0].outcome == FiredTick::Outcome::skipped_overlap);
  f.h->client().cancel(first[0].task_uuid);  // finished
  f.clock.advance(seconds{60});
  CHECK(with(f.fire(), FiredTick::Outcome::created).size() == 1);
  CHECK(f.tasks().size() == 2);
}

TEST_CASE("store: a trigger creates a task now, outside the cron, even when paused, a deleted schedule fires nothing") {
  Fixture f;
  f.create("nightly", "0 3 * * *");
  f.h->client().pause_schedule("nightly");
  f.clock.advance(milliseconds{1234});
  auto task = f.h->client().trigger_schedule("nightly");
  CHECK(task.initiator == "schedule:nightly");
  CHECK(task.context.at("tasker_schedule").at("triggered") == true);
  CHECK(tick_of(task) == "2026-01-01T00:00:01.234Z");
  CHECK(f.h->client().get_schedule("nightly").last_task_uuid == task.uuid);
  f.h->client().resume_schedule("nightly");
  f.h->client().delete_schedule("nightly");
  CHECK_THROWS_AS((void)f.h->client().get_schedule("nightly"), tasker::NotFoundError);
  CHECK_THROWS_AS(f.h->client().delete_schedule("nightly"), tasker::NotFoundError);
  CHECK_THROWS_AS((void)f.h->client().trigger_schedule("nightly"), tasker::NotFoundError);
  f.clock.advance(std::chrono::hours{24});
  CHECK(f.fire().empty());
  CHECK(f.h->client().get_task(task.uuid).uuid == task.uuid);  // its tasks stay
}

TEST_CASE("store: a schedule is refused with what to fix: its name, template, cron, zone and context") {
  Fixture f;
  f.create("taken", "* * * * *");
  auto error_of = [&](const std::function<void(ScheduleRequest&)>& change) -> std::string {
    ScheduleRequest r;
    r.name = "s";
    r.namespace_name = "error_scenarios";
    r.task_name = "success_only";
    r.cron = "* * * * *";
    change(r);
    try {
      f.h->client().create_schedule(r);
    } catch (const tasker::Error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error_of([](auto& r) { r.name = "taken"; }).find("schedule `taken` exists already") == 0);
  CHECK(error_of([](auto& r) { r.name = "a b"; }) ==
        "schedule name `a b` has ` `; use letters, digits, `_`, `-` and `.` (e.g. nightly-export)");
  CHECK(error_of([](auto& r) { r.cron = "61 * * * *"; }) ==
        "cron expression `61 * * * *`: the minute field `61` has 61, outside 0..59");
  CHECK(error_of([](auto& r) { r.time_zone = "Europe/Berlim"; }).find("`Europe/Berlim` is not a time zone") == 0);
  CHECK(error_of([](auto& r) {
          r.context = {{"tasker_schedule", 1}};
        }) ==
        "a schedule's context may not have the key `tasker_schedule`: tasker puts the schedule's name and tick there");
  CHECK(error_of([](auto& r) { r.context = tasker::json::array(); }).find("must be a JSON object, not array") !=
        std::string::npos);
  CHECK(error_of([](auto& r) { r.task_name = "no_such"; }).find("no_such") != std::string::npos);
  CHECK(f.h->client().list_schedules().size() == 1);
}
