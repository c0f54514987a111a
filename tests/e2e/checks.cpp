// Checks over a task's results and transition history, for the e2e scenarios.
#include <fmt/format.h>

#include <map>

#include "common/child.hpp"
#include "e2e.hpp"

namespace e2e {

void wait_until(const std::function<bool()>& condition, const std::string& what, std::chrono::milliseconds limit) {
  if (!test_support::eventually(condition, limit))
    FAIL("waited " << tasker::testing::scaled(limit).count() << " ms for " << what);
}

json result_of(Harness& h, const std::string& task_uuid, const std::string& step) {
  tasker::StepView s = h.api().get_step(task_uuid, step);
  INFO(h.describe_task(task_uuid));
  REQUIRE_MESSAGE(s.results.has_value(), fmt::format("step {} has no result", step));
  return *s.results;
}

void check_dependency_order(Harness& h, const std::string& task_uuid) {
  auto transitions = h.api().transitions(task_uuid);
  std::map<std::string, std::size_t> first_start, completed;
  for (std::size_t i = 0; i < transitions.size(); ++i) {
    const auto& t = transitions[i];
    if (t.step_name.empty()) continue;
    if (t.to_state == "in_progress" && !first_start.count(t.step_name)) first_start[t.step_name] = i;
    if (t.to_state == "complete" || t.to_state == "resolved_manually") completed[t.step_name] = i;
  }
  for (const auto& step : h.api().list_steps(task_uuid)) {
    if (!first_start.count(step.name)) continue;
    for (const auto& dep : step.dependencies) {
      INFO(fmt::format("{} depends on {}", step.name, dep));
      REQUIRE(completed.count(dep));
      CHECK(completed[dep] < first_start[step.name]);
    }
  }
}

namespace {
std::vector<tasker::TimePoint> times_of(Harness& h, const std::string& task_uuid, const std::string& step,
                                        const std::function<bool(const tasker::Transition&)>& match) {
  std::vector<tasker::TimePoint> out;
  for (const auto& t : h.api().transitions(task_uuid, step))
    if (match(t)) out.push_back(t.at);
  return out;
}
}  // namespace

std::vector<tasker::TimePoint> attempt_starts(Harness& h, const std::string& task_uuid, const std::string& step) {
  return times_of(h, task_uuid, step, [](const tasker::Transition& t) { return t.to_state == "in_progress"; });
}

std::vector<tasker::TimePoint> attempt_failures(Harness& h, const std::string& task_uuid, const std::string& step) {
  return times_of(h, task_uuid, step, [](const tasker::Transition& t) {
    return t.from_state == "in_progress" && (t.to_state == "waiting_for_retry" || t.to_state == "error");
  });
}

void check_backoff_respected(Harness& h, const std::string& task_uuid, const std::string& step) {
  tasker::StepView s = h.api().get_step(task_uuid, step);
  auto starts = attempt_starts(h, task_uuid, step);
  auto failures = attempt_failures(h, task_uuid, step);
  REQUIRE(starts.size() == static_cast<std::size_t>(s.attempts));
  for (std::size_t n = 1; n < starts.size(); ++n) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(starts[n] - failures[n - 1]);
    auto delay = s.retry.delay_before_retry(static_cast<int>(n));
    INFO(fmt::format("retry {} of {}: started {} ms after the failure; the policy's delay is {} ms", n, step,
                     gap.count(), delay.count()));
    CHECK(gap >= delay);
  }
}

}  // namespace e2e
