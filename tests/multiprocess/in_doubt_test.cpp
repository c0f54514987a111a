// Commits whose outcome is in doubt (docs/deployment.md, "When the database dies
// or restarts"): a proxy on the real connection to PostgreSQL lets a COMMIT
// through and drops the server's answer, so the server has committed and the
// client sees a broken connection. What must hold: the client is told the
// outcome is unknown (never told it failed, never retried blindly), and what a
// client or worker then does is safe, by identity and by fencing.
#include <doctest/doctest.h>

#include <string>

#include "commit_cutter.hpp"
#include "support.hpp"
#include "tasker/errors.hpp"
#include "tasker/store.hpp"
#include "tasker/template.hpp"
#include "tasker/testing.hpp"

using namespace mp;
using namespace std::chrono_literals;
using tasker::testing::Harness;

namespace {

std::unique_ptr<Harness> harness_through(const CommitCutter& cutter) {
  tasker::testing::HarnessOptions options;
  options.backend = tasker::testing::Backend::postgres;
  options.postgres_url = cutter.url();
  options.template_paths = {templates_dir()};
  return std::make_unique<Harness>(std::move(options));
}

/// Transitions of `step` into `state`.
int entries_into(Harness& h, const std::string& task_uuid, const std::string& step, const std::string& state) {
  int n = 0;
  for (const auto& t : h.client().transitions(task_uuid, step))
    if (t.to_state == state) ++n;
  return n;
}

}  // namespace

TEST_CASE("in doubt: a submit whose COMMIT answer is lost raises StorageInDoubtError and resubmitting names the task") {
  CommitCutter cutter(tasker::testing::postgres_url_from_environment());
  auto h = harness_through(cutter);
  const auto request = h->create_task_request("multiprocess", "chain", {{"n", 1}});

  cutter.cut_commit();
  try {
    (void)h->client().submit(request);
    FAIL("the submit whose COMMIT answer was dropped did not raise");
  } catch (const tasker::StorageInDoubtError& e) {
    CHECK(std::string(e.what()).find("may or may not have committed") != std::string::npos);
  }
  CHECK(cutter.cuts() == 1);

  // The server did commit it, and strict identity turns the natural retry into a pointer to it.
  auto page = h->client().list_tasks();
  REQUIRE(page.tasks.size() == 1);
  try {
    (void)h->client().submit(request);
    FAIL("resubmitting the same identity created a second task");
  } catch (const tasker::DuplicateTaskError& e) {
    CHECK(e.existing_task_uuid() == page.tasks.front().uuid);
  }
}

TEST_CASE("in doubt: a result sent again after its lost COMMIT answer is fenced out and recorded once") {
  CommitCutter cutter(tasker::testing::postgres_url_from_environment());
  auto h = harness_through(cutter);
  auto store = h->store();
  auto task = h->submit(h->create_task_request("multiprocess", "chain", {{"n", 2}}));

  tasker::ClaimRequest claim;
  claim.worker_id = "w1";
  claim.filter.callables = {"mp.work"};
  auto claimed = store->exchange({}, &claim, tasker::SystemClock::instance().now()).claimed;
  REQUIRE(claimed.size() == 1);
  tasker::StepOutcome outcome;
  outcome.step_id = claimed.front().step_id;
  outcome.claim_token = claimed.front().claim_token;
  outcome.result = {{"value", 42}};

  cutter.cut_commit();
  CHECK_THROWS_AS(store->exchange({outcome}, nullptr, tasker::SystemClock::instance().now()),
                  tasker::StorageInDoubtError);
  // What a worker does next (worker.cpp): send the same outcome again.
  auto again = store->exchange({outcome}, nullptr, tasker::SystemClock::instance().now());
  CHECK(again.discarded == std::vector<std::int64_t>{outcome.step_id});

  auto step_1 = h->client().get_step(task.uuid, "step_1");
  CHECK(step_1.state == tasker::StepState::complete);
  CHECK(step_1.attempts == 1);
  CHECK(step_1.results == tasker::json{{"value", 42}});
  CHECK(entries_into(*h, task.uuid, "step_1", "complete") == 1);
  CHECK(h->client().get_step(task.uuid, "step_2").state == tasker::StepState::enqueued);
}

TEST_CASE(
    "in doubt: a worker whose claim's COMMIT answer is lost gets the step back after its lease and the task "
    "completes") {
  CommitCutter cutter(tasker::testing::postgres_url_from_environment());
  auto h = harness_through(cutter);
  h->register_handler("mp.work", [](tasker::StepContext& ctx) { return tasker::json{{"step", ctx.step_name()}}; }, {});
  auto task = h->submit(h->create_task_request("multiprocess", "chain", {{"n", 3}}));

  tasker::WorkerOptions options = tasker::testing::HarnessOptions::test_worker_options();
  options.lease = 1s;
  options.reclaim_interval = 100ms;
  options.event_mode = tasker::EventMode::polling_only;
  options.fallback_interval = 50ms;
  auto worker = h->make_worker(options);
  cutter.cut_commit();  // the worker's first transaction: the claim of step_1
  worker->start();
  h->wait_for_task_completion(task.uuid, 60s);
  worker->stop();
  CHECK(cutter.cuts() == 1);
  CHECK(worker->stats().reclaimed == 1);

  // step_1 was claimed by the lost transaction, reclaimed as worker_lost one
  // lease later, and run once; every step completed exactly once.
  auto history = h->client().transitions(task.uuid, std::string("step_1"));
  std::optional<tasker::TimePoint> lost_claim, reclaimed;
  for (const auto& t : history) {
    if (t.to_state == "in_progress" && !lost_claim) lost_claim = t.at;
    if (t.reason.find("lease expired") != std::string::npos) reclaimed = t.at;
  }
  REQUIRE(lost_claim);
  REQUIRE(reclaimed);
  CHECK(*reclaimed - *lost_claim >= options.lease);
  CHECK(h->client().get_step(task.uuid, "step_1").attempts == 2);
  for (const char* step : {"step_1", "step_2", "step_3", "step_4"}) {
    INFO(step);
    CHECK(entries_into(*h, task.uuid, step, "complete") == 1);
  }
}

TEST_CASE("in doubt: a read-only snapshot whose COMMIT answer is lost is read again on a new connection") {
  // Nothing was at stake in that COMMIT, so the store repeats the read
  // instead of surfacing StorageInDoubtError.
  CommitCutter cutter(tasker::testing::postgres_url_from_environment());
  auto h = harness_through(cutter);
  auto task = h->submit(h->create_task_request("multiprocess", "chain", {{"n", 4}}));

  cutter.cut_commit(1, CommitCutter::Kind::read_only);
  const tasker::TaskSnapshot snap = h->client().snapshot(task.uuid);
  CHECK(cutter.cuts() == 1);
  CHECK(snap.task.uuid == task.uuid);
  CHECK(snap.steps.size() == 4);
  CHECK(snap.task.counts.total == 4);
}

TEST_CASE("round trips: on PostgreSQL a submit and a worker transaction are one statement each") {
  // The proxy that cuts commits also counts what the client sends: one
  // statement per submit and per exchange (tasker_submit, tasker_exchange),
  // where BEGIN, a dozen statements and COMMIT used to go (docs/performance.md).
  CommitCutter proxy(tasker::testing::postgres_url_from_environment());
  auto h = harness_through(proxy);
  auto store = h->store();
  const auto now = [] { return tasker::SystemClock::instance().now(); };
  (void)h->submit(
      h->create_task_request("multiprocess", "chain", {{"n", 1}}));  // the first use reads the schema version

  int before = proxy.statements();
  auto task = h->submit(h->create_task_request("multiprocess", "chain", {{"n", 2}}));
  CHECK(proxy.statements() - before == 1);
  CHECK(task.counts.ready == 1);
  CHECK(task.counts.pending == 3);

  tasker::ClaimRequest claim;
  claim.worker_id = "w1";
  claim.filter.callables = {"mp.work"};
  claim.filter.task_uuids = {task.uuid};
  before = proxy.statements();
  auto first = store->exchange({}, &claim, now());
  CHECK(proxy.statements() - before == 1);
  REQUIRE(first.claimed.size() == 1);
  CHECK(first.claimed.front().step_name == "step_1");
  CHECK(first.claimed.front().task_uuid == task.uuid);
  CHECK(first.claimed.front().context == tasker::json{{"n", 2}});

  // Record step_1, which enqueues step_2, and claim it: one statement.
  tasker::StepOutcome done;
  done.step_id = first.claimed.front().step_id;
  done.claim_token = first.claimed.front().claim_token;
  done.result = {{"value", 1}};
  before = proxy.statements();
  auto second = store->exchange({done}, &claim, now());
  CHECK(proxy.statements() - before == 1);
  CHECK(second.discarded.empty());
  REQUIRE(second.claimed.size() == 1);
  CHECK(second.claimed.front().step_name == "step_2");
  CHECK(second.claimed.front().dependency_results == tasker::json{{"step_1", {{"value", 1}}}});
  std::vector<std::string> names;
  for (const auto& e : second.events) names.push_back(e.name + ":" + e.step_name);
  CHECK(names ==
        std::vector<std::string>{"step.completed:step_1", "step.enqueued:step_2", "step.execution.started:step_2"});

  // A retryable failure: the retry decision travels with the outcome, still one statement.
  tasker::StepOutcome failed;
  failed.step_id = second.claimed.front().step_id;
  failed.claim_token = second.claimed.front().claim_token;
  failed.kind = tasker::StepOutcome::Kind::failure;
  failed.failure = {"try again", "flaky", true, tasker::json::object()};
  before = proxy.statements();
  CHECK(store->exchange({failed}, nullptr, now()).discarded.empty());
  CHECK(proxy.statements() - before == 1);
  auto step_2 = h->client().get_step(task.uuid, "step_2");
  CHECK(step_2.state == tasker::StepState::waiting_for_retry);
  CHECK(step_2.attempts == 1);
  REQUIRE(step_2.error);
  CHECK(step_2.error->error_type == "flaky");

  // The same outcome again: its claim is over, so the store no longer knows
  // it and records it the multi-statement way, which fences it out.
  before = proxy.statements();
  auto again = store->exchange({failed}, nullptr, now());
  CHECK(proxy.statements() - before > 1);
  CHECK(again.discarded == std::vector<std::int64_t>{failed.step_id});
  CHECK(again.events.empty());

  // The retry (backoff none: due at once) is claimed with its attempt and the
  // previous error; then the rest of the chain runs, one statement each.
  tasker::StepOutcome next;
  std::optional<tasker::ClaimedStep> running;
  auto exchange = [&](const std::vector<tasker::StepOutcome>& outcomes) {
    before = proxy.statements();
    auto r = store->exchange(outcomes, &claim, now());
    CHECK(proxy.statements() - before == 1);
    running.reset();
    if (!r.claimed.empty()) running = r.claimed.front();
  };
  exchange({});
  REQUIRE(running);
  CHECK(running->step_name == "step_2");
  CHECK(running->attempt == 2);
  REQUIRE(running->previous_error);
  CHECK(running->previous_error->message == "try again");
  while (running) {
    next.step_id = running->step_id;
    next.claim_token = running->claim_token;
    next.result = {{"step", running->step_name}};
    exchange({next});
  }
  auto finished = h->client().get_task(task.uuid);
  CHECK(finished.state == tasker::TaskState::complete);
  CHECK(finished.counts.completed == 4);
  CHECK(entries_into(*h, task.uuid, "step_2", "waiting_for_retry") == 1);
  CHECK(entries_into(*h, task.uuid, "step_4", "complete") == 1);
}

TEST_CASE("round trips: on PostgreSQL a signal's delivery is one statement") {
  // tasker_signal_v1 (migration 11): delivered, or a duplicate key, in one
  // statement; a name no step waits for goes through the statements path.
  CommitCutter proxy(tasker::testing::postgres_url_from_environment());
  auto h = harness_through(proxy);
  auto store = h->store();
  const auto now = [] { return tasker::SystemClock::instance().now(); };
  auto task = h->submit(h->create_task_request("multiprocess", "signal_pair"));
  tasker::ClaimRequest claim;
  claim.worker_id = "w1";
  claim.filter.callables = {std::string(tasker::kSignalCallable)};
  claim.filter.task_uuids = {task.uuid};
  auto claimed = store->exchange({}, &claim, now()).claimed;
  REQUIRE(claimed.size() == 1);
  REQUIRE(store->suspend({{claimed[0].step_id, claimed[0].claim_token, std::nullopt, "approval"}}, now())
              .discarded.empty());

  const tasker::SignalDelivery signal{task.uuid, "approval", {{"approved", true}}, "k1", "tester"};
  int before = proxy.statements();
  auto delivered = store->deliver_signal(signal, now());
  CHECK(proxy.statements() - before == 1);
  CHECK(delivered.status == tasker::SignalStatus::delivered);
  std::vector<std::string> names;
  for (const auto& e : delivered.events) names.push_back(e.name + ":" + e.step_name);
  CHECK(names == std::vector<std::string>{"step.completed:approval", "step.enqueued:after"});
  CHECK(h->client().get_step(task.uuid, "approval").results == tasker::json{{"approved", true}});

  before = proxy.statements();
  CHECK(store->deliver_signal(signal, now()).status == tasker::SignalStatus::duplicate);
  CHECK(proxy.statements() - before == 1);

  before = proxy.statements();
  CHECK_THROWS_AS(store->deliver_signal({task.uuid, "no_such_signal", {}, std::nullopt, "tester"}, now()),
                  tasker::NotFoundError);
  CHECK(proxy.statements() - before > 1);
}
