// Dead letters in the store, on every backend, with a ManualClock: a task in
// error gets one entry (its failed steps and a snapshot) however often workers
// look; an operator's update, the stats and the investigation queue; a step
// running past its threshold is stale and gets a staleness_timeout entry, one
// under it is not; a purge takes a task's entries into the archive and an
// import brings them back. The SIGSTOPped worker is the multi-process test's.
#include <fmt/format.h>

#include <filesystem>

#include "store_fixture.hpp"
#include "tasker/archive.hpp"
#include "tasker/dlq.hpp"
#include "tasker/errors.hpp"

using namespace e2e;
using std::chrono::minutes;
using std::chrono::seconds;
using tasker::DlqReason;
using tasker::DlqResolutionStatus;
using tasker::StepOutcome;

namespace {

struct Fixture : store_test::Fixture {
  tasker::TaskView failed_task() {
    auto task = h->submit(h->create_task_request("error_scenarios", "permanent_error_only", tasker::json::object()));
    for (int round = 0; round < 10; ++round) {
      auto claimed = claim_now(claim({"errors.fail_permanently", "errors.succeed"}));
      if (claimed.empty()) break;
      for (const auto& s : claimed)
        report(s, s.callable == "errors.fail_permanently" ? StepOutcome::Kind::failure : StepOutcome::Kind::success,
               tasker::json::object(), false);
    }
    REQUIRE(h->client().get_task(task.uuid).state == tasker::TaskState::error);
    return task;
  }
  tasker::DeadLetterResult sweep(tasker::StalenessThresholds t = {}) {
    tasker::DeadLetterSweep s;
    s.staleness = t;
    return store->record_dead_letters(s, clock.now());
  }
};

}  // namespace

TEST_CASE("store: a task in error gets one dead-letter entry with its failed steps: updates, stats and the queue") {
  Fixture f;
  const auto task = f.failed_task();
  f.clock.advance(seconds{5});
  const auto made = f.sweep();
  CHECK(made.errored == 1);
  CHECK(made.stale == 0);
  CHECK(f.sweep().errored == 0);  // looked at again: still one

  auto& client = f.h->client();
  const auto entry = client.get_dlq_entry(task.uuid);
  CHECK(entry.task_uuid == task.uuid);
  CHECK(entry.dlq_reason == DlqReason::max_retries_exceeded);
  CHECK(entry.original_state == "error");
  CHECK(entry.resolution_status == DlqResolutionStatus::pending);
  CHECK(entry.task_snapshot["namespace"] == "error_scenarios");
  CHECK(entry.task_snapshot["current_state"] == "error");
  REQUIRE(entry.task_snapshot["failed_steps"].size() == 1);
  CHECK(entry.task_snapshot["failed_steps"][0]["error"]["error_type"] == "permanent_error");
  CHECK(client.list_dlq({}).size() == 1);
  CHECK(client.list_dlq({.resolution_status = DlqResolutionStatus::cancelled}).empty());

  const auto queue = client.dlq_investigation_queue(10);
  REQUIRE(queue.size() == 1);
  CHECK(queue[0].namespace_name == "error_scenarios");
  CHECK(queue[0].priority_score >= tasker::dlq_reason_weight(DlqReason::max_retries_exceeded));

  f.clock.advance(minutes{30});
  tasker::DlqUpdate resolve;
  resolve.resolution_status = DlqResolutionStatus::manually_resolved;
  resolve.resolution_notes = "partner fixed its API";
  resolve.resolved_by = "alice";
  const auto updated = client.update_dlq_entry(entry.dlq_entry_uuid, resolve);
  CHECK(updated.resolution_status == DlqResolutionStatus::manually_resolved);
  CHECK(updated.resolution_notes == "partner fixed its API");
  CHECK(updated.resolution_timestamp == f.clock.now());
  CHECK(client.get_dlq_entry(task.uuid).resolved_by == "alice");
  CHECK(client.dlq_investigation_queue(10).empty());
  CHECK(f.sweep().errored == 0);  // resolved, and the task has not failed again since

  const auto stats = client.dlq_stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].dlq_reason == DlqReason::max_retries_exceeded);
  CHECK(stats[0].total_entries == 1);
  CHECK(stats[0].manually_resolved == 1);
  CHECK(stats[0].pending == 0);
  REQUIRE(stats[0].avg_resolution_time_minutes.has_value());
  CHECK(*stats[0].avg_resolution_time_minutes == doctest::Approx(30.0));

  CHECK_THROWS_AS((void)client.update_dlq_entry(entry.dlq_entry_uuid, {}), tasker::InvalidRequestError);
  CHECK_THROWS_AS((void)client.update_dlq_entry(tasker::new_uuid(), resolve), tasker::NotFoundError);
  CHECK_THROWS_AS((void)client.get_dlq_entry(tasker::new_uuid()), tasker::NotFoundError);
}

TEST_CASE("store: a step running past its state's threshold is stale and gets a staleness_timeout entry") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 2}}));
  REQUIRE(f.claim_now(f.claim({"math.square_input"}, 1, minutes{60})).size() == 1);
  const tasker::StalenessThresholds t{
      .enqueued = minutes{10}, .waiting_for_retry = minutes{10}, .in_progress = minutes{10}};

  f.clock.advance(minutes{7});  // under 80 %: not listed
  CHECK(f.store->staleness(t, 10, f.clock.now()).empty());
  CHECK(f.sweep(t).stale == 0);

  f.clock.advance(minutes{2});  // 90 %: a warning, no entry yet
  auto near = f.store->staleness(t, 10, f.clock.now());
  REQUIRE(near.size() == 1);
  CHECK(near[0].health_status == tasker::StalenessHealth::warning);
  CHECK(f.sweep(t).stale == 0);

  f.clock.advance(minutes{2});
  auto stale = f.store->staleness(t, 10, f.clock.now());
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].task_uuid == task.uuid);
  CHECK(stale[0].step_name == "linear_step_1");
  CHECK(stale[0].current_state == "in_progress");
  CHECK(stale[0].health_status == tasker::StalenessHealth::stale);
  CHECK(stale[0].time_in_state_seconds == doctest::Approx(660));
  CHECK(tasker::to_json(stale[0])["staleness_threshold_minutes"] == 10);

  CHECK(f.sweep(t).stale == 1);
  CHECK(f.sweep(t).stale == 0);  // one pending entry per task
  const auto entry = f.h->client().get_dlq_entry(task.uuid);
  CHECK(entry.dlq_reason == DlqReason::staleness_timeout);
  CHECK(entry.original_state == "in_progress");
  CHECK(entry.task_snapshot["stale_step"]["name"] == "linear_step_1");
}

TEST_CASE("store: a purge archives a task's dead-letter entries and deletes them, an import brings them back") {
  Fixture f;
  const auto task = f.failed_task();
  REQUIRE(f.sweep().errored == 1);
  const auto before = tasker::to_json(f.h->client().get_dlq_entry(task.uuid));
  f.clock.advance(std::chrono::hours{2});

  const auto file = std::filesystem::temp_directory_path() / fmt::format("tasker-dlq-{}.jsonl", tasker::new_uuid());
  {
    tasker::ArchiveFile archive(file);
    tasker::PurgeRequest r;
    r.older_than = std::chrono::hours{1};
    r.archive = archive.sink();
    CHECK(f.h->client().purge(r).tasks == 1);
  }
  CHECK(f.h->client().list_dlq({}).empty());
  const auto records = tasker::read_archive_file(file, tasker::JsonLimits{});
  std::filesystem::remove(file);
  REQUIRE(records.size() == 1);
  CHECK(records[0]["dlq_entries"].size() == 1);
  CHECK(f.h->client().import_archive(records).imported == 1);
  CHECK(tasker::to_json(f.h->client().get_dlq_entry(task.uuid)) == before);

  // A line written before entries existed (no `dlq_entries`) still imports.
  tasker::PurgeRequest again;
  again.older_than = std::chrono::hours{1};
  REQUIRE(f.h->client().purge(again).tasks == 1);
  auto old = records[0];
  old.erase("dlq_entries");
  CHECK(f.h->client().import_archive({old}).imported == 1);
  CHECK_THROWS_AS((void)f.h->client().get_dlq_entry(task.uuid), tasker::NotFoundError);
}
