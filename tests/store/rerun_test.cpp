// The Store contract for rerunning a step (Client::rerun_step), on every
// backend with a ManualClock: a diamond's middle step and its dependents run
// again while the others keep their results, attempts keep counting with a
// whole retry budget each time, and what cannot be rerun is refused unchanged.
#include <map>

#include "store_fixture.hpp"
#include "tasker/errors.hpp"

using store_test::Fixture;
using tasker::json;
using tasker::StepOutcome;
using tasker::StepState;

namespace {

const std::vector<std::string> kMath{"math.square_input", "math.square", "math.multiply_and_square"};

/// Claim and complete whatever is claimable until nothing is; returns the names run, in order.
std::vector<std::string> drain(Fixture& f) {
  std::vector<std::string> ran;
  for (int round = 0; round < 20; ++round) {
    auto claimed = f.claim_now(f.claim(kMath));
    if (claimed.empty()) break;
    for (const auto& s : claimed) {
      ran.push_back(s.step_name);
      f.report(s, StepOutcome::Kind::success, {{"step", s.step_name}, {"attempt", s.attempt}});
    }
  }
  return ran;
}

std::map<std::string, tasker::StepView> steps_of(Fixture& f, const std::string& task) {
  std::map<std::string, tasker::StepView> out;
  for (auto& s : f.h->client().list_steps(task)) out.emplace(s.name, std::move(s));
  return out;
}

tasker::TaskView diamond(Fixture& f) {
  return f.h->submit(f.h->create_task_request("diamond_workflow", "diamond_pattern", {{"even_number", 6}}));
}

}  // namespace

TEST_CASE("store: a rerun of a diamond's middle step runs it and its dependents again, the others keep their results") {
  Fixture f;
  auto task = diamond(f);
  CHECK(drain(f).size() == 4);
  REQUIRE(f.h->client().get_task(task.uuid).state == tasker::TaskState::complete);
  const auto before = steps_of(f, task.uuid);

  auto b = f.h->client().rerun_step(task.uuid, "diamond_branch_b", "recount");
  CHECK(b.state == StepState::enqueued);
  CHECK_FALSE(b.results.has_value());
  CHECK(b.max_attempts == 1 + 3);  // its next attempt is 2, with the template's 3 attempts of its own
  auto now = steps_of(f, task.uuid);
  CHECK(now.at("diamond_end").state == StepState::pending);
  CHECK_FALSE(now.at("diamond_end").results.has_value());
  for (const char* kept : {"diamond_start", "diamond_branch_c"}) {
    CAPTURE(kept);
    CHECK(now.at(kept).state == StepState::complete);
    CHECK(now.at(kept).results == before.at(kept).results);
    CHECK(now.at(kept).max_attempts == 3);
  }
  CHECK(f.h->client().get_task(task.uuid).state == tasker::TaskState::in_progress);
  // The audit trail says who asked and why; the dependent says which step it waits for.
  const auto trail = f.h->client().transitions(task.uuid, std::string("diamond_branch_b"));
  CHECK(trail.back().from_state == "complete");
  CHECK(trail.back().to_state == "enqueued");
  CHECK(trail.back().reason == "recount");

  // Only the rerun steps run, each as its next attempt.
  CHECK(drain(f) == std::vector<std::string>{"diamond_branch_b", "diamond_end"});
  now = steps_of(f, task.uuid);
  CHECK(now.at("diamond_branch_b").attempts == 2);
  CHECK(now.at("diamond_end").attempts == 2);
  CHECK(now.at("diamond_end").results == json{{"step", "diamond_end"}, {"attempt", 2}});
  CHECK(now.at("diamond_start").attempts == 1);
  CHECK(now.at("diamond_branch_c").attempts == 1);
  CHECK(f.h->client().get_task(task.uuid).state == tasker::TaskState::complete);

  // Again: the budget is the template's, not what the last rerun granted.
  CHECK(f.h->client().rerun_step(task.uuid, "diamond_branch_b").max_attempts == 2 + 3);
  CHECK(drain(f).size() == 2);
}

TEST_CASE("store: a rerun of a failed step is its next attempt, beyond the max_attempts it used up") {
  Fixture f;
  auto task = diamond(f);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto claimed = f.claim_now(f.claim(kMath));
    REQUIRE(claimed.size() == 1);
    f.report(claimed[0], StepOutcome::Kind::failure, nullptr, attempt < 3);
    f.clock.advance(std::chrono::seconds{30});
  }
  REQUIRE(f.h->client().get_task(task.uuid).state == tasker::TaskState::error);
  auto start = f.h->client().rerun_step(task.uuid, "diamond_start", "input fixed");
  CHECK(start.max_attempts == 3 + 3);
  auto claimed = f.claim_now(f.claim(kMath));
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].attempt == 4);
  // A failure of the rerun is retried: it has attempts of its own.
  f.report(claimed[0], StepOutcome::Kind::failure);
  CHECK(f.h->client().get_step(task.uuid, "diamond_start").state == StepState::waiting_for_retry);
}

TEST_CASE("store: a rerun step's dependent still waits for a sibling branch that failed") {
  Fixture f;
  auto task = diamond(f);
  auto start = f.claim_now(f.claim(kMath));
  REQUIRE(start.size() == 1);
  f.report(start[0], StepOutcome::Kind::success, {{"v", 36}});
  for (const auto& s : f.claim_now(f.claim(kMath))) {
    if (s.step_name == "diamond_branch_b")
      f.report(s, StepOutcome::Kind::success, {{"v", 1296}});
    else
      f.report(s, StepOutcome::Kind::failure, nullptr, false);  // branch c fails for good
  }
  REQUIRE(f.h->client().get_task(task.uuid).state == tasker::TaskState::error);
  f.h->client().rerun_step(task.uuid, "diamond_branch_b");
  CHECK(drain(f) == std::vector<std::string>{"diamond_branch_b"});
  CHECK(f.h->client().get_step(task.uuid, "diamond_end").state == StepState::pending);
  CHECK(f.h->client().get_task(task.uuid).state == tasker::TaskState::error);
  // Rerunning the failed branch too lets the end run.
  f.h->client().rerun_step(task.uuid, "diamond_branch_c");
  CHECK(drain(f) == std::vector<std::string>{"diamond_branch_c", "diamond_end"});
  CHECK(f.h->client().get_task(task.uuid).state == tasker::TaskState::complete);
}

TEST_CASE("store: what cannot be rerun is refused and changes nothing") {
  Fixture f;
  auto task = diamond(f);
  // Not finished yet: it runs when its turn comes.
  CHECK_THROWS_AS(f.h->client().rerun_step(task.uuid, "diamond_end"), tasker::InvalidRequestError);
  auto start = f.claim_now(f.claim(kMath));
  REQUIRE(start.size() == 1);
  f.report(start[0], StepOutcome::Kind::success, {{"v", 36}});
  auto branches = f.claim_now(f.claim(kMath, 1));  // one branch runs on a worker
  REQUIRE(branches.size() == 1);
  const auto before = f.h->client().transitions(task.uuid);
  CHECK_THROWS_AS(f.h->client().rerun_step(task.uuid, "diamond_start"), tasker::ConflictError);
  CHECK(f.h->client().transitions(task.uuid).size() == before.size());
  CHECK_THROWS_AS(f.h->client().rerun_step(task.uuid, "no_such_step"), tasker::NotFoundError);

  // A step upstream of a decision: rerunning it would create the decision's steps again.
  auto routed = f.h->submit(f.h->create_task_request("dynamic_e2e", "approval_routing", {{"amount", 50}}));
  auto validate = f.claim_now(f.claim({"approval.validate"}));
  REQUIRE(validate.size() == 1);
  f.report(validate[0], StepOutcome::Kind::success, {{"amount", 50}, {"valid", true}});
  try {
    (void)f.h->client().rerun_step(routed.uuid, "validate_request");
    FAIL("a rerun through a decision step was accepted");
  } catch (const tasker::InvalidRequestError& e) {
    CHECK(std::string(e.what()).find("routing_decision") != std::string::npos);
    CHECK(std::string(e.what()).find("submit the task again") != std::string::npos);
  }
  CHECK(f.h->client().get_step(routed.uuid, "validate_request").state == StepState::complete);
}
