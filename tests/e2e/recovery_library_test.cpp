// Library surface only (they need the engine in this process): fencing of a
// late result from a presumed-dead attempt (hand-made workers with their own
// options), and a worker process killed mid-step while this process's worker,
// with its own id and reclaim interval, takes over.
#include <signal.h>

#include <fstream>

#include "common/child.hpp"
#include "e2e.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using tasker::StepState;
using tasker::TaskState;

namespace {
int count_transitions(Harness& h, const std::string& task, const std::string& step, const std::string& to) {
  int n = 0;
  for (const auto& t : h.client().transitions(task, step)) n += t.to_state == to ? 1 : 0;
  return n;
}
}  // namespace

TEST_CASE("recovery: a late result from an attempt whose lease was reclaimed is discarded (fencing)") {
  auto h = make_harness(false);
  tasker::WorkerOptions slow_options = tasker::testing::HarnessOptions::test_worker_options();
  slow_options.worker_id = "presumed-dead";
  slow_options.concurrency = 1;
  slow_options.lease = milliseconds{300};
  slow_options.heartbeat_interval = milliseconds{-1};  // it never renews: its lease will lapse while it runs
  slow_options.reclaim_interval = std::chrono::hours{1};
  auto presumed_dead = h->make_worker(slow_options);
  auto task = h->submit(h->create_task_request("e2e_support", "worker_crash", {{"sleep_ms", 60'000}}));
  presumed_dead->start();
  wait_until([&] { return std::filesystem::exists(marker(task.uuid, "long_step", "started")); },
             "the first attempt to start");

  tasker::WorkerOptions rescuer_options = tasker::testing::HarnessOptions::test_worker_options();
  rescuer_options.worker_id = "rescuer";
  rescuer_options.reclaim_interval = milliseconds{50};
  auto rescuer = h->make_worker(rescuer_options);
  rescuer->start();
  h->wait_for_task_completion(task.uuid);
  CHECK(result_of(*h, task.uuid, "long_step")["finished_on_attempt"] == 2);

  // Now the first attempt answers, late: its token is stale, so nothing changes.
  std::ofstream(marker(task.uuid, "long_step", "release")) << "1";
  wait_until([&] { return presumed_dead->stats().discarded == 1; }, "the late result to be discarded");
  auto step = h->client().get_step(task.uuid, "long_step");
  CHECK(step.state == StepState::complete);
  CHECK(step.attempts == 2);
  CHECK(step.worker_id == "rescuer");
  CHECK(step.results->at("finished_on_attempt") == 2);
  CHECK(count_transitions(*h, task.uuid, "long_step", "complete") == 1);
  presumed_dead->stop();
  rescuer->stop();
}

TEST_CASE("recovery: a worker process killed with SIGKILL mid-step, another finishes the step after the lease") {
  tasker::testing::HarnessOptions options;
  options.worker.reclaim_interval = milliseconds{100};
  options.worker.worker_id = "survivor";
  auto h = make_harness(false, options);
  auto task = h->submit(h->create_task_request("e2e_support", "worker_crash", {{"sleep_ms", 60'000}}));

  const std::string lease_ms = "1000";
  test_support::Child victim(
      "victim", {TASKER_E2E_WORKER_PATH, "--db", h->database_url(), "--handlers",
                 std::string(tasker::testing::to_string(h->handler_kind())), "--lease-ms", lease_ms, "--id", "victim"});

  wait_until([&] { return std::filesystem::exists(marker(task.uuid, "long_step", "started")); },
             "the victim to start the step");
  auto before = h->client().get_step(task.uuid, "long_step");
  REQUIRE(before.state == StepState::in_progress);
  CHECK(before.worker_id == "victim");
  victim.signal(SIGKILL);
  REQUIRE(victim.wait(std::chrono::seconds{30}));

  h->start_worker();
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.state == TaskState::complete);
  auto step = h->client().get_step(task.uuid, "long_step");
  CHECK(step.attempts == 2);
  CHECK(step.worker_id == "survivor");
  CHECK(step.results->at("finished_on_attempt") == 2);
  REQUIRE(step.error);
  CHECK(step.error->error_type == "worker_lost");
  CHECK(count_transitions(*h, task.uuid, "long_step", "complete") == 1);

  // Recovery took a lease, measured on the recorded timestamps.
  auto starts = attempt_starts(*h, task.uuid, "long_step");
  auto failures = attempt_failures(*h, task.uuid, "long_step");
  REQUIRE(starts.size() == 2);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0] - starts[0] >= milliseconds{std::stoll(lease_ms)});
  bool reclaimed = false;
  for (const auto& t : h->client().transitions(task.uuid, "long_step"))
    if (t.to_state == "waiting_for_retry" && t.reason.find("lease expired") != std::string::npos) reclaimed = true;
  CHECK(reclaimed);
}
