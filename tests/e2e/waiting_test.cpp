// Waiting steps on every surface, backend and handler kind: a signal step
// completed by its signal (and a repeated key), an approval deciding a branch
// both ways, a signal kept until its step waits, a signal's timeout both ways,
// a sleep measured from the audit trail, a sleep until a time in the context
// or in a parent's result, and a delayed start (run_at).
#include <set>

#include "e2e.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tasker::StepState;

namespace {

/// When the step entered `to` (the first time), from the audit trail.
tasker::TimePoint entered(Harness& h, const std::string& task, const std::string& step, const std::string& to) {
  for (const auto& t : h.api().transitions(task, step))
    if (t.to_state == to) return t.at;
  FAIL("step `" << step << "` never entered " << to);
  return {};
}

void wait_for_state(Harness& h, const std::string& task, const std::string& step, StepState state) {
  wait_until([&] { return h.api().get_step(task, step).state == state; },
             "step " + step + " to be " + std::string(tasker::to_string(state)));
}

/// The names of the task's steps, in the order the store lists them.
std::set<std::string> step_names(Harness& h, const std::string& task) {
  std::set<std::string> names;
  for (const auto& s : h.api().list_steps(task)) names.insert(s.name);
  return names;
}

}  // namespace

TEST_CASE("waiting: a signal step waits, and its signal completes it with the payload the next step reads") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("waiting_e2e", "signal_wait"));
  wait_for_state(*h, task.uuid, "manager_approval", StepState::waiting);
  CHECK(h->api().get_task(task.uuid).state == tasker::TaskState::in_progress);
  CHECK(h->api().get_task(task.uuid).counts.waiting == 1);
  CHECK_THROWS_AS(h->api().signal(task.uuid, "nobody_waits", json::object()), tasker::NotFoundError);
  CHECK(h->api().signal(task.uuid, "approval", {{"approved", true}}, std::string("approval-1")) ==
        tasker::SignalStatus::delivered);
  CHECK(h->api().signal(task.uuid, "approval", {{"approved", false}}, std::string("approval-1")) ==
        tasker::SignalStatus::duplicate);
  h->wait_for_task_completion(task.uuid);
  CHECK(result_of(*h, task.uuid, "manager_approval") == json{{"approved", true}});
  CHECK_THROWS_AS(h->api().signal(task.uuid, "approval", json::object(), std::string("approval-2")),
                  tasker::ConflictError);
}

TEST_CASE("waiting: an approval granted and one rejected lead the decision after them to different branches") {
  auto h = make_harness();
  auto granted = h->submit(h->create_task_request("waiting_e2e", "approval_decision", {{"expense", 1}}));
  auto rejected = h->submit(h->create_task_request("waiting_e2e", "approval_decision", {{"expense", 2}}));
  for (const auto* task : {&granted, &rejected}) wait_for_state(*h, task->uuid, "manager_approval", StepState::waiting);
  CHECK(h->api().signal(granted.uuid, "approval", {{"approved", true}, {"by", "ada"}}) ==
        tasker::SignalStatus::delivered);
  CHECK(h->api().signal(rejected.uuid, "approval", {{"approved", false}, {"by", "ada"}}) ==
        tasker::SignalStatus::delivered);
  h->wait_for_task_completion(granted.uuid);
  h->wait_for_task_completion(rejected.uuid);
  const std::set<std::string> common{"prepare", "manager_approval", "route"};
  auto with = [&](const char* branch) {
    auto names = common;
    names.insert(branch);
    return names;
  };
  CHECK(step_names(*h, granted.uuid) == with("grant"));
  CHECK(step_names(*h, rejected.uuid) == with("reject"));
  CHECK(result_of(*h, granted.uuid, "grant") == json{{"approved", true}, {"approver", "manager"}});
}

TEST_CASE("waiting: a signal sent before its step is reached is kept and consumed when the step waits") {
  auto h = make_harness();
  // The approval's step comes after a step that waits for another signal, so
  // it cannot be waiting yet, however fast or slow the workers are.
  auto task = h->submit(h->create_task_request("waiting_e2e", "signal_after_signal"));
  CHECK(h->api().signal(task.uuid, "approval", {{"approved", "early"}}) == tasker::SignalStatus::buffered);
  const auto first = h->api().signal(task.uuid, "submitted", {{"by", "ada"}});
  CHECK((first == tasker::SignalStatus::delivered || first == tasker::SignalStatus::buffered));
  h->wait_for_task_completion(task.uuid);
  CHECK(result_of(*h, task.uuid, "request") == json{{"by", "ada"}});
  CHECK(result_of(*h, task.uuid, "manager_approval") == json{{"approved", "early"}});
}

TEST_CASE("waiting: a signal's timeout fails the step, or completes it with on_timeout_result") {
  auto h = make_harness();
  auto failing = h->submit(h->create_task_request("waiting_e2e", "signal_short_timeout_fail"));
  auto completing = h->submit(h->create_task_request("waiting_e2e", "signal_short_timeout_complete"));
  h->wait_for_task_failure(failing.uuid);
  auto step = h->api().get_step(failing.uuid, "approval");
  REQUIRE(step.error.has_value());
  CHECK(step.error->error_type == "signal_timeout");
  h->wait_for_task_completion(completing.uuid);
  CHECK(result_of(*h, completing.uuid, "approval") == json{{"approved", false}});
  CHECK(entered(*h, completing.uuid, "approval", "complete") - entered(*h, completing.uuid, "approval", "waiting") >=
        seconds{1});
}

TEST_CASE("waiting: a sleep of 2 s lasts at least 2 s by the audit trail, and a sleep until a past time none") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("waiting_e2e", "sleep_seconds"));
  auto past =
      h->submit(h->create_task_request("waiting_e2e", "sleep_until_context", {{"remind_at", "2020-01-01T00:00:00Z"}}));
  auto bad = h->submit(h->create_task_request("waiting_e2e", "sleep_until_context", {{"remind_at", "soon"}}));
  h->wait_for_task_completion(task.uuid);
  const auto slept = entered(*h, task.uuid, "finish", "in_progress") - entered(*h, task.uuid, "nap", "in_progress");
  CHECK(slept >= seconds{2});
  h->wait_for_task_completion(past.uuid);
  CHECK(result_of(*h, past.uuid, "nap") == json{{"slept_until", "2020-01-01T00:00:00.000Z"}});
  h->wait_for_task_failure(bad.uuid);
  auto nap = h->api().get_step(bad.uuid, "nap");
  REQUIRE(nap.error.has_value());
  CHECK(nap.error->message.find("context.remind_at") != std::string::npos);
  CHECK(nap.error->message.find("\"soon\"") != std::string::npos);
}

TEST_CASE("waiting: a sleep until the time its parent's result names completes no earlier, with that time") {
  auto h = make_harness();
  const auto remind_at = std::chrono::time_point_cast<milliseconds>(tasker::SystemClock::instance().now()) + seconds{2};
  auto task = h->submit(
      h->create_task_request("waiting_e2e", "sleep_until_parent", {{"remind_at", tasker::format_time(remind_at)}}));
  h->wait_for_task_completion(task.uuid);
  CHECK(result_of(*h, task.uuid, "nap") == json{{"slept_until", tasker::format_time(remind_at)}});
  CHECK(entered(*h, task.uuid, "nap", "complete") >= remind_at);
  CHECK(entered(*h, task.uuid, "finish", "in_progress") >= remind_at);
}

TEST_CASE("waiting: a task with run_at 3 s ahead is first claimed no earlier") {
  auto h = make_harness();
  auto request = h->create_task_request("error_scenarios", "success_only");
  const auto start = tasker::SystemClock::instance().now() + seconds{3};
  request.run_at = start;
  auto task = h->submit(request);
  CHECK(h->api().get_task(task.uuid).run_at == start);
  h->wait_for_task_completion(task.uuid);
  CHECK(entered(*h, task.uuid, "success_step", "in_progress") >= start);
}
