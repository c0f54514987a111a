// The Store contract, driven directly with a ManualClock: claims, fencing,
// leases, backoff timing, filters and ordering. Every backend must pass it.
// Library surface only: it drives the Store itself, below any API.
#include <fmt/format.h>

#include <atomic>
#include <set>
#include <thread>

#include "store_fixture.hpp"
#include "tasker/clock.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using store_test::Fixture;
using tasker::ClaimRequest;
using tasker::StepOutcome;
using tasker::StepState;

TEST_CASE("store: a claim sets attempt, token and lease, a claimed step is not claimed twice") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("error_scenarios", "success_only"));
  auto claimed = f.claim_now(f.claim({"errors.succeed"}));
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].task_uuid == task.uuid);
  CHECK(claimed[0].attempt == 1);
  CHECK(claimed[0].lease_expires_at == f.clock.now() + milliseconds{1000});
  CHECK(f.claim_now(f.claim({"errors.succeed"}, 10, milliseconds{1000}, "w2")).empty());
  auto step = f.h->client().get_step(task.uuid, "success_step");
  CHECK(step.state == StepState::in_progress);
  CHECK(step.worker_id == "w1");
}

TEST_CASE("store: an expired lease is reclaimed as worker_lost and the stale result is fenced out") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("error_scenarios", "success_only"));
  auto first = f.claim_now(f.claim({"errors.succeed"}, 1, milliseconds{500}));
  REQUIRE(first.size() == 1);
  f.clock.advance(milliseconds{499});
  auto early = f.claim({"errors.succeed"});
  early.reclaim_expired = true;
  CHECK(f.store->exchange({}, &early, f.clock.now()).reclaimed == 0);  // not yet expired
  f.clock.advance(milliseconds{2});
  auto late = f.claim({"errors.succeed"}, 10, milliseconds{500}, "w2");
  late.reclaim_expired = true;
  auto reclaim = f.store->exchange({}, &late, f.clock.now());
  CHECK(reclaim.reclaimed == 1);
  auto step = f.h->client().get_step(task.uuid, "success_step");
  CHECK(step.state == StepState::waiting_for_retry);
  REQUIRE(step.error);
  CHECK(step.error->error_type == "worker_lost");
  // The presumed-dead worker answers late: discarded.
  auto stale = f.report(first[0], StepOutcome::Kind::success, {{"from", "w1"}});
  CHECK(stale.discarded == std::vector<std::int64_t>{first[0].step_id});
  CHECK_FALSE(f.h->client().get_step(task.uuid, "success_step").results.has_value());
  // A new claim (after the backoff) carries a newer token; its result lands.
  f.clock.advance(std::chrono::seconds{60});
  auto second = f.claim_now(f.claim({"errors.succeed"}, 1, milliseconds{500}, "w2"));
  REQUIRE(second.size() == 1);
  CHECK(second[0].attempt == 2);
  CHECK(second[0].claim_token > first[0].claim_token);
  CHECK(f.report(second[0], StepOutcome::Kind::success, {{"from", "w2"}}).discarded.empty());
  CHECK(f.h->client().get_step(task.uuid, "success_step").results->at("from") == "w2");
}

TEST_CASE("store: renewing a lease keeps it, renewing a lost claim reports it") {
  Fixture f;
  f.h->submit(f.h->create_task_request("error_scenarios", "success_only"));
  auto claimed = f.claim_now(f.claim({"errors.succeed"}, 1, milliseconds{500}));
  REQUIRE(claimed.size() == 1);
  tasker::LeaseRef lease{claimed[0].step_id, claimed[0].claim_token};
  CHECK(f.store->renew_leases({lease}, f.clock.now() + milliseconds{5000}).empty());
  f.clock.advance(milliseconds{1000});  // past the original lease, within the renewed one
  auto r = f.claim({"errors.succeed"});
  r.reclaim_expired = true;
  CHECK(f.store->exchange({}, &r, f.clock.now()).reclaimed == 0);
  tasker::LeaseRef stale{claimed[0].step_id, claimed[0].claim_token - 1};
  CHECK(f.store->renew_leases({stale}, f.clock.now()) == std::vector<std::int64_t>{claimed[0].step_id});
}

TEST_CASE("store: a failure schedules the retry exactly one backoff later, retry_after wins") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("error_scenarios", "retry_mechanics"));
  auto policy = f.h->templates().get("error_scenarios", "retry_mechanics").steps[0].retry;
  auto first = f.claim_now(f.claim({"errors.fail_n_times"}));
  REQUIRE(first.size() == 1);
  f.report(first[0], StepOutcome::Kind::failure);
  auto step = f.h->client().get_step(task.uuid, "fail_twice_then_succeed");
  REQUIRE(step.next_retry_at);
  CHECK(*step.next_retry_at == f.clock.now() + policy.delay_before_retry(1));
  f.clock.advance(policy.delay_before_retry(1) - milliseconds{1});
  CHECK(f.claim_now(f.claim({"errors.fail_n_times"})).empty());
  CHECK(f.store->next_due({{"errors.fail_n_times"}, {}, {}}) == step.next_retry_at);
  f.clock.advance(milliseconds{1});
  auto second = f.claim_now(f.claim({"errors.fail_n_times"}));
  REQUIRE(second.size() == 1);
  CHECK(second[0].attempt == 2);
  f.report(second[0], StepOutcome::Kind::failure, nullptr, true, milliseconds{7'777});
  CHECK(*f.h->client().get_step(task.uuid, "fail_twice_then_succeed").next_retry_at ==
        f.clock.now() + milliseconds{7'777});
}

TEST_CASE("store: the first attempt always runs, max_attempts counts it") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("error_scenarios", "retryable_error_only"));
  auto first = f.claim_now(f.claim({"errors.fail_retryably"}));
  REQUIRE(first.size() == 1);
  f.report(first[0], StepOutcome::Kind::failure);
  f.clock.advance(std::chrono::seconds{10});
  auto second = f.claim_now(f.claim({"errors.fail_retryably"}));
  REQUIRE(second.size() == 1);
  f.report(second[0], StepOutcome::Kind::failure);
  auto step = f.h->client().get_step(task.uuid, "retryable_error_step");
  CHECK(step.state == StepState::error);  // max_attempts 2: no third attempt
  CHECK(step.attempts == 2);
  CHECK(f.h->client().get_task(task.uuid).state == tasker::TaskState::error);
}

TEST_CASE("store: a child is enqueued in the transaction that completes its last parent") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("tree_workflow", "hierarchical_tree", {{"even_number", 2}}));
  auto run = [&](const std::string& callable) {
    auto claimed = f.claim_now(f.claim({callable}, 10));
    for (const auto& s : claimed) f.report(s, StepOutcome::Kind::success, 1);
    return claimed.size();
  };
  CHECK(run("math.square_input") == 1);  // root
  CHECK(run("math.square") == 2);        // left, right
  CHECK(run("math.square") == 4);        // the four leaves
  // Complete the leaves' parent-of-convergence one by one: it waits for the last.
  auto steps = f.h->client().list_steps(task.uuid);
  auto convergence = f.h->client().get_step(task.uuid, "tree_final_convergence");
  CHECK(convergence.state == StepState::enqueued);
  auto transitions = f.h->client().transitions(task.uuid);
  // The enqueue of the convergence step directly follows the completion of the last leaf.
  std::size_t enqueue = 0;
  for (std::size_t i = 0; i < transitions.size(); ++i)
    if (transitions[i].step_name == "tree_final_convergence" && transitions[i].to_state == "enqueued") enqueue = i;
  REQUIRE(enqueue > 0);
  CHECK(transitions[enqueue - 1].to_state == "complete");
  CHECK(transitions[enqueue - 1].step_name.rfind("tree_leaf_", 0) == 0);
  CHECK(transitions[enqueue - 1].at == transitions[enqueue].at);
  int completed_leaves_before = 0;
  for (std::size_t i = 0; i < enqueue; ++i)
    if (transitions[i].to_state == "complete" && transitions[i].step_name.rfind("tree_leaf_", 0) == 0)
      ++completed_leaves_before;
  CHECK(completed_leaves_before == 4);
}

// Several parents of one child recorded in one exchange: the child counts each
// of them once (PostgreSQL's function looks each child's count up by binary
// search over the children, sorted by id).
TEST_CASE("store: parents completed together count once each toward their child") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("tree_workflow", "hierarchical_tree", {{"even_number", 2}}));
  auto complete_all = [&](const std::vector<tasker::ClaimedStep>& steps) {
    std::vector<StepOutcome> outcomes;
    for (const auto& s : steps) {
      StepOutcome o;
      o.step_id = s.step_id;
      o.claim_token = s.claim_token;
      o.result = 1;
      outcomes.push_back(std::move(o));
    }
    auto r = f.store->exchange(outcomes, nullptr, f.clock.now());
    CHECK(r.discarded.empty());
  };
  complete_all(f.claim_now(f.claim({"math.square_input"})));
  complete_all(f.claim_now(f.claim({"math.square"})));  // left and right together: each enqueues its two leaves
  auto leaves = f.claim_now(f.claim({"math.square"}));
  REQUIRE(leaves.size() == 4);
  complete_all({leaves.begin(), leaves.begin() + 3});  // three of the convergence's four parents at once
  CHECK(f.h->client().get_step(task.uuid, "tree_final_convergence").state == StepState::pending);
  complete_all({leaves.begin() + 3, leaves.end()});
  CHECK(f.h->client().get_step(task.uuid, "tree_final_convergence").state == StepState::enqueued);
}

TEST_CASE("store: claims only the callables and namespaces asked for, highest priority first") {
  Fixture f;
  auto low = f.h->create_task_request("error_scenarios", "success_only", {{"n", 1}});
  low.priority = -5;
  auto high = f.h->create_task_request("error_scenarios", "success_only", {{"n", 2}});
  high.priority = 50;
  auto low_task = f.h->submit(low);
  f.clock.advance(milliseconds{1});
  auto high_task = f.h->submit(high);
  f.h->submit(f.h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 2}}));
  CHECK(f.claim_now(f.claim({"no.such.callable"})).empty());
  auto r = f.claim({"errors.succeed", "math.square_input"}, 1);
  r.filter.namespaces = {"error_scenarios"};
  auto first = f.claim_now(r);
  REQUIRE(first.size() == 1);
  CHECK(first[0].task_uuid == high_task.uuid);
  auto second = f.claim_now(r);
  REQUIRE(second.size() == 1);
  CHECK(second[0].task_uuid == low_task.uuid);
  CHECK(f.claim_now(r).empty());  // the linear task is in another namespace
  r.filter.namespaces.clear();
  CHECK(f.claim_now(r).size() == 1);
  // Limited to tasks: only the named task's steps.
  f.h->submit(f.h->create_task_request("error_scenarios", "success_only", {{"n", 3}}));
  auto only = f.h->submit(f.h->create_task_request("error_scenarios", "success_only", {{"n", 4}}));
  r.filter.task_uuids = {only.uuid};
  r.limit = 10;
  auto mine = f.claim_now(r);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].task_uuid == only.uuid);
}

TEST_CASE("store: cancelling fences an attempt in flight") {
  Fixture f;
  auto task = f.h->submit(f.h->create_task_request("error_scenarios", "error_testing"));
  auto claimed = f.claim_now(f.claim({"errors.succeed"}));
  REQUIRE(claimed.size() == 1);
  f.h->client().cancel(task.uuid);
  auto late = f.report(claimed[0], StepOutcome::Kind::success, {{"late", true}});
  CHECK(late.discarded.size() == 1);
  CHECK(f.h->client().get_step(task.uuid, "success_step").state == StepState::cancelled);
  CHECK(f.claim_now(f.claim({"errors.fail_permanently", "errors.fail_retryably"})).empty());
}

TEST_CASE("store: outcomes for unknown steps are discarded, migrations are idempotent") {
  Fixture f;
  StepOutcome ghost;
  ghost.step_id = 987654321;
  ghost.claim_token = 1;
  CHECK(f.store->exchange({ghost}, nullptr, f.clock.now()).discarded.size() == 1);
  int version = f.store->schema_version();
  CHECK(version >= 1);
  f.store->migrate();
  CHECK(f.store->schema_version() == version);
}

TEST_CASE("store: a task read while steps commit shows counts that agree with its steps") {
  // One root and 150 parallel steps, each claimed and completed in its own
  // transactions by a writer thread, while this thread reads the task. Read
  // in one snapshot, the task's counts and state agree with its steps every
  // time; read in two statements they would not, whenever a commit fell
  // between them.
  Fixture f;
  std::string yaml =
      "name: wide\nnamespace_name: snapshot\nversion: 1.0.0\nsteps:\n"
      "  - name: root\n    handler: {callable: snapshot.step}\n";
  constexpr int kParallel = 150;
  for (int i = 0; i < kParallel; ++i)
    yaml += fmt::format("  - name: s{}\n    handler: {{callable: snapshot.step}}\n    dependencies: [root]\n", i);
  auto loaded = tasker::load_templates_from_string(yaml, "wide.yaml");
  REQUIRE(loaded.ok());
  tasker::TaskRequest request;
  request.namespace_name = "snapshot";
  request.name = "wide";
  auto created = f.store->create_task(loaded.templates.front(), request, std::nullopt, f.clock.now());
  const std::string uuid = created.task.uuid;

  std::atomic<bool> done{false};
  std::thread writer([&] {
    const ClaimRequest one = f.claim({"snapshot.step"}, 1);
    while (true) {
      auto claimed = f.claim_now(one);
      if (claimed.empty()) break;
      f.report(claimed.front(), StepOutcome::Kind::success, tasker::json::object());
    }
    done = true;
  });

  int reads = 0;
  int disagreements = 0;
  std::set<int> completed_seen;
  while (true) {
    const bool last = done.load();  // the read after the writer ended sees the end state
    auto snap = f.store->find_task_with_steps(uuid, f.clock.now());
    REQUIRE(snap);
    tasker::StepCounts counted;
    for (const auto& s : snap->steps) {
      ++counted.total;
      if (s.state == StepState::complete) ++counted.completed;
      if (s.state == StepState::in_progress) ++counted.in_progress;
      if (s.state == StepState::pending) ++counted.pending;
    }
    const auto& c = snap->task.counts;
    const bool all_done = counted.completed == counted.total;
    if (c.total != counted.total || c.completed != counted.completed || c.in_progress != counted.in_progress ||
        c.pending != counted.pending || (snap->task.state == tasker::TaskState::complete) != all_done)
      ++disagreements;
    completed_seen.insert(counted.completed);
    ++reads;
    if (last) break;
  }
  writer.join();
  CHECK(disagreements == 0);
  CHECK(completed_seen.count(kParallel + 1) == 1);  // the last read saw every step complete
  MESSAGE(reads << " reads saw " << completed_seen.size() << " distinct progress points");
}
