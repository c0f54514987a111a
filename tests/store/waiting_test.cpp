// The Store contract for waiting steps (signal and sleep steps, a delayed
// start), driven directly with a ManualClock on every backend: suspending,
// signals delivered, kept and repeated, timeouts both ways, sleeps, run_at.
#include <algorithm>

#include "store_fixture.hpp"
#include "tasker/errors.hpp"

using std::chrono::milliseconds;
using std::chrono::seconds;
using store_test::Fixture;
using tasker::json;
using tasker::StepOutcome;
using tasker::StepState;

namespace {

/// Claim the waiting step of `task` and have it wait as a worker would, waking at `wake_at`.
tasker::SuspendResult suspend(Fixture& f, const std::string& callable, const std::string& signal,
                              std::optional<tasker::TimePoint> wake_at) {
  auto claimed = f.claim_now(f.claim({callable}));
  REQUIRE(claimed.size() == 1);
  return f.store->suspend({{claimed[0].step_id, claimed[0].claim_token, wake_at, signal}}, f.clock.now());
}

/// Run `prepare` of a signal_wait task, so that its signal step is enqueued.
tasker::TaskView signal_task(Fixture& f) {
  auto task = f.h->submit(f.h->create_task_request("waiting_e2e", "signal_wait"));
  auto prepare = f.claim_now(f.claim({"errors.succeed"}));
  REQUIRE(prepare.size() == 1);
  f.report(prepare[0], StepOutcome::Kind::success, json::object());
  return task;
}

tasker::SignalResult signal(Fixture& f, const std::string& task, const std::string& name, json payload,
                            std::optional<std::string> key = std::nullopt) {
  return f.store->deliver_signal({task, name, std::move(payload), std::move(key), "tester"}, f.clock.now());
}

}  // namespace

TEST_CASE("store: a signal step waits holding no worker, and its signal completes it with the payload") {
  Fixture f;
  auto task = signal_task(f);
  auto claimed = f.claim_now(f.claim({std::string(tasker::kSignalCallable)}));
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].initialization.at("name") == "approval");
  auto r = f.store->suspend({{claimed[0].step_id, claimed[0].claim_token, std::nullopt, "approval"}}, f.clock.now());
  CHECK(r.discarded.empty());
  // The event bus hears that it waits, and for what.
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].name == tasker::events::kStepWaiting);
  CHECK(r.events[0].step_name == "manager_approval");
  CHECK(r.events[0].payload.at("signal") == "approval");
  CHECK(r.events[0].payload.at("wake_at").is_null());
  auto step = f.h->client().get_step(task.uuid, "manager_approval");
  CHECK(step.state == StepState::waiting);
  CHECK_FALSE(step.lease_expires_at.has_value());
  CHECK_FALSE(step.wake_at.has_value());
  auto view = f.h->client().get_task(task.uuid);
  CHECK(view.state == tasker::TaskState::in_progress);
  CHECK(view.counts.waiting == 1);
  // Nothing is claimable while it waits, and the same claim cannot suspend twice.
  CHECK(f.claim_now(f.claim({std::string(tasker::kSignalCallable), "errors.succeed"})).empty());
  CHECK(f.store->suspend({{claimed[0].step_id, claimed[0].claim_token, std::nullopt, "approval"}}, f.clock.now())
            .discarded.size() == 1);

  f.clock.advance(seconds{5});
  auto delivered = signal(f, task.uuid, "approval", {{"approved", true}}, "k1");
  CHECK(delivered.status == tasker::SignalStatus::delivered);
  // Its completion is the worker's kind (not an operator's), with the result and what it waited for.
  auto completed = std::find_if(delivered.events.begin(), delivered.events.end(), [](const auto& e) {
    return e.name == tasker::events::kStepCompleted && e.step_name == "manager_approval";
  });
  REQUIRE(completed != delivered.events.end());
  CHECK(completed->payload.at("result") == json{{"approved", true}});
  CHECK_FALSE(completed->payload.contains("manual"));
  CHECK(completed->payload.at("waited") == "signal");
  step = f.h->client().get_step(task.uuid, "manager_approval");
  CHECK(step.state == StepState::complete);
  CHECK(step.results == json{{"approved", true}});
  // The next step reads it as any dependency result.
  auto finish = f.claim_now(f.claim({"errors.succeed"}));
  REQUIRE(finish.size() == 1);
  CHECK(finish[0].dependency_results.at("manager_approval") == json{{"approved", true}});
  // The audit trail says who sent it, when, and with which key.
  auto trail = f.h->client().transitions(task.uuid, std::string("manager_approval"));
  REQUIRE(trail.size() >= 2);
  CHECK(trail.back().to_state == "complete");
  CHECK(trail.back().from_state == "waiting");
  CHECK(trail.back().payload.at("sender") == "tester");
  CHECK(trail.back().payload.at("key") == "k1");
  // The same key again changes nothing.
  CHECK(signal(f, task.uuid, "approval", {{"approved", false}}, "k1").status == tasker::SignalStatus::duplicate);
}

TEST_CASE("store: a signal before its step is reached is kept and consumed when the step waits") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("waiting_e2e", "signal_wait"));
  CHECK(signal(f, task.uuid, "approval", {{"approved", false}}).status == tasker::SignalStatus::buffered);
  auto prepare = f.claim_now(f.claim({"errors.succeed"}));
  REQUIRE(prepare.size() == 1);
  f.report(prepare[0], StepOutcome::Kind::success, json::object());
  suspend(f, std::string(tasker::kSignalCallable), "approval", std::nullopt);
  auto step = f.h->client().get_step(task.uuid, "manager_approval");
  CHECK(step.state == StepState::complete);
  CHECK(step.results == json{{"approved", false}});
  auto trail = f.h->client().transitions(task.uuid, std::string("manager_approval"));
  CHECK(trail.back().payload.at("sender") == "tester");
}

TEST_CASE("store: a signal nobody waits for, or to a finished task, is an error and changes nothing") {
  Fixture f;
  auto task = signal_task(f);
  CHECK_THROWS_AS(signal(f, task.uuid, "no_such_signal", json::object()), tasker::NotFoundError);
  CHECK_THROWS_AS(signal(f, tasker::new_uuid(), "approval", json::object()), tasker::NotFoundError);
  f.h->client().cancel(task.uuid, "test");
  CHECK_THROWS_AS(signal(f, task.uuid, "approval", json::object()), tasker::ConflictError);
}

TEST_CASE("store: a signal's timeout fails the step (signal_timeout) or completes it with on_timeout_result") {
  Fixture f;
  auto failing = f.h->submit(f.h->create_task_request("waiting_e2e", "signal_timeout_fail"));
  suspend(f, std::string(tasker::kSignalCallable), "approval", f.clock.now() + seconds{60});
  auto completing = f.h->submit(f.h->create_task_request("waiting_e2e", "signal_timeout_complete"));
  suspend(f, std::string(tasker::kSignalCallable), "approval", f.clock.now() + seconds{60});
  CHECK(f.h->client().get_step(failing.uuid, "approval").wake_at == f.clock.now() + seconds{60});

  f.clock.advance(seconds{59});
  CHECK(f.store->wake_due(10, f.clock.now()).woken == 0);
  f.clock.advance(seconds{1});
  CHECK(f.store->wake_due(10, f.clock.now()).woken == 2);

  auto failed = f.h->client().get_step(failing.uuid, "approval");
  CHECK(failed.state == StepState::error);
  REQUIRE(failed.error.has_value());
  CHECK(failed.error->error_type == "signal_timeout");
  CHECK_FALSE(failed.error->retryable);
  CHECK(f.h->client().get_task(failing.uuid).state == tasker::TaskState::error);
  auto done = f.h->client().get_step(completing.uuid, "approval");
  CHECK(done.state == StepState::complete);
  CHECK(done.results == json{{"approved", false}});
  CHECK(f.h->client().get_step(completing.uuid, "finish").state == StepState::enqueued);
  CHECK(f.store->wake_due(10, f.clock.now()).woken == 0);
}

TEST_CASE("store: a sleep wakes at its time, which next_due reports to the workers that wake it") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("waiting_e2e", "sleep_seconds"));
  const auto wake = f.clock.now() + seconds{2};
  auto slept = suspend(f, std::string(tasker::kSleepCallable), "", wake);
  REQUIRE(slept.events.size() == 1);
  CHECK(slept.events[0].payload.at("wake_at") == tasker::format_time(wake));
  tasker::WorkFilter waking{{std::string(tasker::kSleepCallable), std::string(tasker::kSignalCallable)}, {}, {}};
  CHECK(f.store->next_due(waking) == wake);
  f.clock.advance(seconds{2});
  auto woke = f.store->wake_due(10, f.clock.now());
  CHECK(woke.woken == 1);
  REQUIRE_FALSE(woke.events.empty());
  CHECK(woke.events[0].name == tasker::events::kStepCompleted);
  CHECK(woke.events[0].payload.at("waited") == "sleep");
  auto nap = f.h->client().get_step(task.uuid, "nap");
  CHECK(nap.state == StepState::complete);
  CHECK(nap.results == json{{"slept_until", tasker::format_time(wake)}});
  CHECK_FALSE(nap.wake_at.has_value());
}

TEST_CASE("store: a task with run_at is claimed no earlier, and shows when it starts") {
  Fixture f;
  auto request = f.h->create_task_request("error_scenarios", "success_only");
  const auto start = f.clock.now() + seconds{3};
  request.run_at = start;
  auto task = f.h->submit(request);
  CHECK(f.h->client().get_task(task.uuid).run_at == start);
  CHECK(f.h->client().get_task(task.uuid).counts.ready == 0);
  CHECK(f.claim_now(f.claim({"errors.succeed"})).empty());
  CHECK(f.store->next_due({{"errors.succeed"}, {}, {}}) == start);
  f.clock.advance(milliseconds{2999});
  CHECK(f.claim_now(f.claim({"errors.succeed"})).empty());
  f.clock.advance(milliseconds{1});
  CHECK(f.claim_now(f.claim({"errors.succeed"})).size() == 1);
}
