// Cron schedules fired by several worker processes at once (docs/schedules.md):
// every worker process fires due schedules, and each tick creates exactly
// one task. The ticks are read from the tasks themselves (their context's
// tasker_schedule.tick), never from the wall clock.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>
#include <set>

#include "support.hpp"
#include "tasker/client.hpp"
#include "tasker/testing.hpp"

using namespace mp;

TEST_CASE("3 worker processes fire a 6-field schedule every 2 s: one task per tick, none twice, none missed") {
  tasker::testing::HarnessOptions options;
  options.backend = tasker::testing::Backend::postgres;
  options.template_paths = {templates_dir()};
  tasker::testing::Harness h(std::move(options));
  tasker::ScheduleRequest request;
  request.name = "race";
  request.namespace_name = "multiprocess";
  request.task_name = "pair";
  request.cron = "*/2 * * * * *";
  request.context = {{"n", 0}};
  // Every missed tick still gets its task, so "none missed" below is the
  // firing's doing, whatever a loaded machine does to the workers.
  request.catch_up = tasker::ScheduleCatchUp::all;
  h.client().create_schedule(request);

  char pattern[] = "/tmp/tasker-mp-schedule-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const std::filesystem::path logs = pattern;
  std::vector<std::unique_ptr<Child>> workers;
  for (int i = 1; i <= 3; ++i)
    workers.push_back(start_worker(h.database_url(), {.id = fmt::format("w{}", i)}, logs / fmt::format("w{}.log", i)));
  Db db(h.database_url());
  const std::string scheduled = "FROM tasker_tasks WHERE initiator = 'schedule:race'";
  // Six ticks with all three racing (about 10 s); the limit only guards against a hang.
  const std::int64_t before = db.scalar("SELECT count(*) " + scheduled);
  CHECK(eventually([&] { return db.scalar("SELECT count(*) " + scheduled) >= before + 6; },
                   tasker::testing::scaled(milliseconds{60'000})));
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) CHECK_MESSAGE(stop_worker(*w), w->name() << " did not stop cleanly");

  auto rows = db.query(
      "SELECT (extract(epoch FROM (context->'tasker_schedule'->>'tick')::timestamptz) * 1000)::bigint AS tick, "
      "created_at, identity_hash " +
      scheduled + " ORDER BY tick");
  REQUIRE(rows.size() >= 6);
  std::set<std::int64_t> ticks;
  std::set<std::string> hashes;
  std::int64_t max_lag = 0;
  for (const auto& row : rows) {
    const auto tick = row[0].as<std::int64_t>();
    const auto created = row[1].as<std::int64_t>();
    CHECK_MESSAGE(ticks.insert(tick).second, "tick ", tick, " has two tasks");
    hashes.insert(row[2].as<std::string>());
    CHECK(tick % 2000 == 0);
    CHECK(created >= tick);  // never before its tick
    max_lag = std::max(max_lag, created - tick);
  }
  // The database cannot hold two tasks of one tick (the identity hash is
  // unique): what the race can break is a worker failing on the conflict
  // instead of counting it as already created.
  CHECK(hashes.size() == rows.size());
  for (int i = 1; i <= 3; ++i) {
    std::ifstream in(logs / fmt::format("w{}.log", i));
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(log.find("[error]") == std::string::npos, "worker w", i, " logged an error:\n", log);
  }
  // No tick between the first and the last is missing: the workers were up throughout.
  CHECK(*ticks.rbegin() - *ticks.begin() == 2000 * static_cast<std::int64_t>(ticks.size() - 1));
  MESSAGE(
      fmt::format("{} ticks, one task each; the latest task was created {} ms after its tick", ticks.size(), max_lag));
  auto view = h.client().get_schedule("race");
  REQUIRE(view.last_tick);
  CHECK(tasker::to_epoch_ms(*view.last_tick) == *ticks.rbegin());
  std::error_code ec;
  std::filesystem::remove_all(logs, ec);
}
