// Retention in the store, on every backend, with a ManualClock: a purge by
// state and age leaves young and active tasks alone, a dry run changes
// nothing, per-namespace policies override the global one, an archive read
// back and imported gives the same views and transitions, and a worker applies
// the configured policy in the background. The purge racing real worker
// processes is the multi-process test's (tests/multiprocess).
#include <fmt/format.h>

#include <filesystem>
#include <thread>

#include "store_fixture.hpp"
#include "tasker/archive.hpp"
#include "tasker/errors.hpp"
#include "tasker/retention.hpp"

using namespace e2e;
using std::chrono::hours;
using std::chrono::milliseconds;
using tasker::PurgeRequest;
using tasker::StepOutcome;
using tasker::TaskState;

namespace {

struct Fixture : store_test::Fixture {
  /// Run every claimable step of every task: errors.fail_permanently fails for good, the rest succeed.
  void run_all() {
    for (int round = 0; round < 50; ++round) {
      auto claimed =
          claim_now(claim({"math.square_input", "math.square", "errors.succeed", "errors.fail_permanently"}));
      if (claimed.empty()) return;
      for (const auto& s : claimed) {
        if (s.callable == "errors.fail_permanently")
          report(s, StepOutcome::Kind::failure, nullptr, false);
        else
          report(s, StepOutcome::Kind::success, {{"value", 36}});
      }
    }
    FAIL("steps were still claimable after 50 rounds");
  }

  tasker::TaskView submit(const std::string& ns, const std::string& name, const tasker::json& context = {}) {
    return h->submit(h->create_task_request(ns, name, context.is_null() ? tasker::json::object() : context));
  }
  /// A 4-step task; each with its own context (so its own identity).
  tasker::TaskView linear() {
    return submit("linear_workflow", "mathematical_sequence", {{"even_number", 2 * ++linear_count}});
  }
  int linear_count{0};

  bool exists(const std::string& uuid) {
    try {
      (void)h->client().get_task(uuid);
      return true;
    } catch (const tasker::NotFoundError&) {
      return false;
    }
  }

  /// A complete 4-step task and a failed one, finished two hours ago.
  std::pair<tasker::TaskView, tasker::TaskView> finished_two_hours_ago() {
    auto done = linear();
    auto failed = submit("error_scenarios", "permanent_error_only");
    run_all();
    clock.advance(hours{2});
    return {std::move(done), std::move(failed)};
  }

  tasker::PurgeResult purge(std::optional<milliseconds> older_than, std::vector<TaskState> states = {}) {
    PurgeRequest r;
    r.older_than = older_than;
    r.states = std::move(states);
    return h->client().purge(r);
  }
};

/// A task's views and history, for comparing before and after an archive's round trip.
tasker::json picture(tasker::Client& client, const std::string& uuid) {
  const auto snap = client.snapshot(uuid);
  tasker::json steps = tasker::json::array();
  for (const auto& s : snap.steps) steps.push_back(tasker::to_json(s));
  tasker::json transitions = tasker::json::array();
  for (const auto& t : client.transitions(uuid)) transitions.push_back(tasker::to_json(t));
  return {{"task", tasker::to_json(snap.task)}, {"steps", steps}, {"transitions", transitions}};
}

}  // namespace

TEST_CASE("store: a purge removes tasks finished before its age in the states it names: young and active ones stay") {
  Fixture f;
  const auto complete = f.linear();
  const auto cancelled = f.submit("error_scenarios", "success_only");
  const auto failed = f.submit("error_scenarios", "permanent_error_only");
  const auto resolved = f.submit("error_scenarios", "permanent_error_only", {{"resolved", true}});
  f.h->client().cancel(cancelled.uuid);
  f.run_all();
  f.h->client().resolve_step_manually(resolved.uuid, "permanent_error_step");
  REQUIRE(f.h->client().get_task(resolved.uuid).state == TaskState::resolved_manually);
  const auto active = f.linear();  // old, but never finished: claimed and running
  REQUIRE(f.claim_now(f.claim({"math.square_input"})).size() == 1);
  f.clock.advance(hours{48});
  const auto young = f.linear();
  f.run_all();
  REQUIRE(f.h->client().get_task(failed.uuid).state == TaskState::error);
  REQUIRE(f.h->client().get_task(young.uuid).state == TaskState::complete);

  const auto only_error = f.purge(hours{24}, {TaskState::error});
  CHECK(only_error.tasks == 1);
  CHECK_FALSE(f.exists(failed.uuid));
  CHECK(f.exists(complete.uuid));

  const auto rest = f.purge(hours{24});
  CHECK(rest.tasks == 3);
  CHECK(rest.by_state.at(TaskState::complete) == 1);
  CHECK(rest.by_state.at(TaskState::cancelled) == 1);
  CHECK(rest.by_state.at(TaskState::resolved_manually) == 1);
  CHECK(rest.transactions == 3);
  CHECK_FALSE(f.exists(resolved.uuid));
  CHECK_FALSE(f.exists(complete.uuid));
  CHECK_FALSE(f.exists(cancelled.uuid));
  CHECK(f.store->transitions(complete.uuid, std::nullopt).empty());
  CHECK(f.exists(young.uuid));
  CHECK(f.h->client().get_task(active.uuid).state == TaskState::in_progress);
  CHECK(f.h->client().get_step(active.uuid, "linear_step_1").state == tasker::StepState::in_progress);
  // Purging everything finished now leaves the active task, whatever its age.
  CHECK(f.purge(milliseconds{0}, {TaskState::complete}).tasks == 1);
  CHECK(f.exists(active.uuid));
}

TEST_CASE("store: a dry run counts and changes nothing, refused requests say what to write instead") {
  Fixture f;
  const auto [a, b] = f.finished_two_hours_ago();
  PurgeRequest dry;
  dry.older_than = hours{1};
  dry.dry_run = true;
  const auto counted = f.h->client().purge(dry);
  CHECK(counted.dry_run);
  CHECK(counted.tasks == 2);
  CHECK(counted.transactions == 0);
  CHECK(f.exists(a.uuid));
  CHECK(f.exists(b.uuid));

  auto refused = [&](const PurgeRequest& r, const std::string& says) {
    try {
      (void)f.h->client().purge(r);
      FAIL("purge accepted a request it must refuse: ", says);
    } catch (const tasker::InvalidRequestError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(says) != std::string::npos, e.what());
    }
  };
  PurgeRequest zero;
  zero.older_than = milliseconds{0};
  refused(zero, "name the states to purge");
  PurgeRequest negative;
  negative.older_than = milliseconds{-1};
  refused(negative, "may not be negative");
  PurgeRequest active;
  active.older_than = hours{1};
  active.states = {TaskState::in_progress};
  refused(active, "are active and never purged");
  refused(PurgeRequest{}, "configure retention");
  CHECK(f.exists(a.uuid));
}

TEST_CASE("store: a namespace's retention overrides the global one for the states it names") {
  Fixture f;
  const auto linear = f.linear();                                    // linear_workflow, complete
  const auto success = f.submit("error_scenarios", "success_only");  // error_scenarios, complete
  const auto failed = f.submit("error_scenarios", "permanent_error_only");
  f.run_all();
  f.clock.advance(hours{3});
  PurgeRequest r;
  r.policy.ages[TaskState::complete] = hours{1};
  r.policy.ages[TaskState::error] = hours{24 * 30};
  r.policy.namespaces["linear_workflow"][TaskState::complete] = std::nullopt;  // kept for ever
  r.policy.namespaces["error_scenarios"][TaskState::error] = hours{2};
  const auto result = f.h->client().purge(r);
  CHECK(result.tasks == 2);
  CHECK(f.exists(linear.uuid));
  CHECK_FALSE(f.exists(success.uuid));
  CHECK_FALSE(f.exists(failed.uuid));
}

TEST_CASE("store: archived tasks imported back read the same: views, steps and transitions") {
  Fixture f;
  const auto [complete, failed] = f.finished_two_hours_ago();
  auto& client = f.h->client();
  const auto before_complete = picture(client, complete.uuid);
  const auto before_failed = picture(client, failed.uuid);

  const auto file = std::filesystem::temp_directory_path() / fmt::format("tasker-archive-{}.jsonl", tasker::new_uuid());
  {
    tasker::ArchiveFile archive(file);
    PurgeRequest r;
    r.older_than = hours{1};
    r.archive = archive.sink();
    r.batch_size = 1;  // one line a transaction: the file grows batch by batch
    CHECK(client.purge(r).tasks == 2);
  }
  CHECK_FALSE(f.exists(complete.uuid));
  const auto records = tasker::read_archive_file(file, tasker::JsonLimits{});
  std::filesystem::remove(file);
  REQUIRE(records.size() == 2);
  CHECK(records[0]["version"] == tasker::kArchiveFormatVersion);

  const auto imported = client.import_archive(records);
  CHECK(imported.imported == 2);
  CHECK(imported.skipped == 0);
  CHECK(picture(client, complete.uuid) == before_complete);
  CHECK(picture(client, failed.uuid) == before_failed);
  const auto again = client.import_archive(records);
  CHECK(again.imported == 0);
  CHECK(again.skipped == 2);
  // Imported tasks are finished: nothing of them can be claimed.
  CHECK(f.claim_now(f.claim({"math.square_input", "math.square", "errors.fail_permanently"})).empty());
}

TEST_CASE("store: a worker applies the configured retention in the background") {
  Fixture f;
  const auto old = f.linear();
  f.run_all();
  f.clock.advance(hours{8 * 24});
  const auto young = f.linear();
  f.run_all();
  tasker::WorkerOptions o;
  o.clock = &f.clock;
  o.fire_schedules = false;
  o.retention.ages[TaskState::complete] = hours{7 * 24};
  auto worker = f.h->make_worker(o);
  worker->start();
  for (int i = 0; i < 400 && f.exists(old.uuid); ++i) std::this_thread::sleep_for(milliseconds{25});
  worker->stop();
  CHECK_FALSE(f.exists(old.uuid));
  CHECK(f.exists(young.uuid));
}
