// The host-facing conveniences of Client, Worker and the harness: waiting for
// a task to end, a worker driven by an injected clock, stopping, and
// C++-only handlers in any handler kind.
#include <fmt/format.h>

#include "e2e.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using tasker::StepState;
using tasker::TaskState;

TEST_CASE("client: wait_for_task returns the task once it has ended") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 6}}));
  auto done = h->client().wait_for_task(task.uuid, tasker::testing::scaled(milliseconds{60'000}));
  CHECK(done.state == TaskState::complete);
  CHECK(done.counts.completed == 4);
  auto failed = h->submit(h->create_task_request("error_scenarios", "permanent_error_only"));
  CHECK(h->client().wait_for_task(failed.uuid, tasker::testing::scaled(milliseconds{60'000})).state ==
        TaskState::error);
}

TEST_CASE("client: wait_for_task gives back an unfinished task when its time is up") {
  auto h = make_harness(/*start_worker=*/false);
  auto task = h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 6}}));
  auto seen = h->client().wait_for_task(task.uuid, milliseconds{50}, milliseconds{10});
  CHECK(seen.state == TaskState::pending);
  CHECK_THROWS_AS((void)h->client().wait_for_task("not-a-uuid", milliseconds{10}), tasker::InvalidRequestError);
}

TEST_CASE("clock: a worker on a ManualClock runs each retry when the clock reaches it, not before") {
  tasker::ManualClock clock;
  tasker::testing::HarnessOptions options;
  options.clock = &clock;
  auto h = make_harness(true, options);
  const tasker::TimePoint t0 = clock.now();
  auto task = h->submit(h->create_task_request("error_scenarios", "retry_mechanics"));
  const std::string step = "fail_twice_then_succeed";
  auto waiting_after = [&](int attempts) {
    h->wait_for(
        task.uuid,
        [&](const tasker::TaskView&) {
          auto s = h->client().get_step(task.uuid, step);
          return s.state == StepState::waiting_for_retry && s.attempts == attempts;
        },
        fmt::format("attempt {} to fail", attempts));
  };
  // The test environment's policy: 20 ms, then 40 ms (exponential from 20 ms).
  waiting_after(1);
  clock.advance(milliseconds{20});
  waiting_after(2);
  clock.advance(milliseconds{40});
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.state == TaskState::complete);
  // Time moved only when told to: every attempt started exactly when its retry fell due.
  auto starts = attempt_starts(*h, task.uuid, step);
  REQUIRE(starts.size() == 3);
  CHECK(starts[0] == t0);
  CHECK(starts[1] == t0 + milliseconds{20});
  CHECK(starts[2] == t0 + milliseconds{60});
}

TEST_CASE(
    "worker: running() is false once a stop is requested, and a timed-out attempt's late result counts as "
    "discarded") {
  auto h = make_harness();
  CHECK(h->worker().running());
  if (h->handler_kind() == tasker::testing::HandlerKind::cpp) {
    // A C++ handler returns only once cancelled, so the worker's deadline always
    // decides first: both attempts time out, and each late result is discarded.
    // (A command handler may notice its deadline itself and report the timeout.)
    auto task = h->submit(h->create_task_request("e2e_support", "timeout_step", {{"sleep_ms", 10'000}}));
    h->wait_for_task_failure(task.uuid);
    h->wait_for(
        task.uuid, [&](const tasker::TaskView&) { return h->worker().stats().discarded >= 2; },
        "the two late results to be discarded");
    CHECK(h->worker().stats().discarded == 2);
  }
  h->worker().request_stop();
  CHECK_FALSE(h->worker().running());
  h->stop_worker();
}

TEST_CASE("harness: a C++-only handler registers in any handler kind, a command-kind one needs its command") {
  auto h = make_harness(false);
  h->register_handler("host.only_cpp", [](tasker::StepContext&) { return json{{"ok", true}}; });
  CHECK(h->handlers().contains("host.only_cpp"));
  if (h->handler_kind() != tasker::testing::HandlerKind::cpp)
    CHECK_THROWS_AS(h->register_handler("host.no_command", [](tasker::StepContext&) { return json(1); }, {}),
                    tasker::InvalidRequestError);
}
