// A purge racing two worker processes that drain other tasks (docs/retention.md):
// it deletes exactly the tasks finished before its cutoff, touches no active
// task (every task the workers drain completes, each step in one attempt),
// and no worker logs an error. Times come from the database's own records.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>

#include "support.hpp"
#include "tasker/client.hpp"
#include "tasker/testing.hpp"

using namespace mp;

namespace {

void submit_chains(tasker::testing::Harness& h, int count, int first, const json& extra) {
  for (int i = first; i < first + count; ++i) {
    json context = extra;
    context["n"] = i;
    (void)h.client().submit(h.create_task_request("multiprocess", "chain", context));
  }
}

}  // namespace

TEST_CASE("a purge racing 2 worker processes removes only the old finished tasks, and no worker logs an error") {
  tasker::testing::HarnessOptions options;
  options.backend = tasker::testing::Backend::postgres;
  options.template_paths = {templates_dir()};
  tasker::testing::Harness h(std::move(options));
  char pattern[] = "/tmp/tasker-mp-purge-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const std::filesystem::path logs = pattern;
  std::vector<std::unique_ptr<Child>> workers;
  for (const char* id : {"a", "b"})
    workers.push_back(start_worker(h.database_url(), {.id = id}, logs / fmt::format("{}.log", id)));
  Db db(h.database_url());

  constexpr int kOld = 150;
  constexpr int kNew = 100;
  submit_chains(h, kOld, 0, json::object());
  wait_until_all_terminal(db, kOld, tasker::testing::scaled(milliseconds{60'000}));
  // The cutoff is the database's latest completion; every task submitted from
  // now on finishes after it (each of its 4 steps sleeps 20 ms).
  const std::int64_t cutoff = db.scalar("SELECT max(completed_at) FROM tasker_tasks");
  submit_chains(h, kNew, kOld, {{"sleep_ms", 20}});

  tasker::PurgeRequest purge;
  purge.states = {tasker::TaskState::complete};
  purge.older_than = milliseconds{std::max<std::int64_t>(0, now_ms() - cutoff)};
  purge.batch_size = 20;
  const auto result = h.client().purge(purge);
  const std::int64_t remaining_old =
      db.scalar(fmt::format("SELECT count(*) FROM tasker_tasks WHERE (context->>'n')::int < {}", kOld));
  const std::int64_t new_gone =
      kNew - db.scalar(fmt::format("SELECT count(*) FROM tasker_tasks WHERE (context->>'n')::int >= {}", kOld));
  CHECK(result.tasks == kOld);
  CHECK(remaining_old == 0);
  CHECK(new_gone == 0);

  wait_until_all_terminal(db, kNew, tasker::testing::scaled(milliseconds{60'000}));
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) CHECK_MESSAGE(stop_worker(*w), w->name() << " did not stop cleanly");
  CHECK(db.scalar("SELECT count(*) FROM tasker_tasks WHERE state = 'complete'") == kNew);
  CHECK(db.scalar("SELECT count(*) FROM tasker_steps WHERE state <> 'complete' OR attempts <> 1") == 0);
  CHECK(db.scalar("SELECT count(*) FROM tasker_steps") == 4 * kNew);
  CHECK(db.scalar("SELECT count(*) FROM tasker_transitions t WHERE NOT EXISTS "
                  "(SELECT 1 FROM tasker_tasks k WHERE k.id = t.task_id)") == 0);
  CHECK(h.store()->check_consistency().empty());
  for (const char* id : {"a", "b"}) {
    std::ifstream in(logs / fmt::format("{}.log", id));
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(log.find("[error]") == std::string::npos, "worker ", id, " logged an error:\n", log);
  }
  MESSAGE(fmt::format("purged {} tasks in {} transactions while 2 workers drained {}; the longest took {:.1f} ms",
                      result.tasks, result.transactions, kNew,
                      static_cast<double>(result.longest_transaction.count()) / 1000.0));
  std::error_code ec;
  std::filesystem::remove_all(logs, ec);
}
