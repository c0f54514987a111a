#include <doctest/doctest.h>

#include "tasker/task.hpp"

using namespace tasker;

namespace {
TaskView with(StepCounts counts) {
  TaskView v;
  v.counts = counts;
  derive_statuses(v);
  return v;
}
}  // namespace

TEST_CASE("views: execution_status follows tasker-core's precedence") {
  // blocked_by_failures wins even while other steps are ready or running.
  CHECK(with({.total = 3, .ready = 1, .in_progress = 1, .failed = 1}).execution_status ==
        ExecutionStatus::blocked_by_failures);
  CHECK(with({.total = 3, .pending = 1, .ready = 1, .in_progress = 1}).execution_status ==
        ExecutionStatus::has_ready_steps);
  CHECK(with({.total = 3, .pending = 2, .in_progress = 1}).execution_status == ExecutionStatus::processing);
  CHECK(with({.total = 3, .completed = 3}).execution_status == ExecutionStatus::all_complete);
  CHECK(with({.total = 3, .pending = 1, .waiting_for_retry = 1, .completed = 1}).execution_status ==
        ExecutionStatus::waiting_for_dependencies);
}

TEST_CASE("views: completion percentage and health") {
  auto v = with({.total = 4, .in_progress = 1, .waiting_for_retry = 1, .completed = 2});
  CHECK(v.completion_percentage == doctest::Approx(50.0));
  CHECK(v.health_status == HealthStatus::recovering);
  CHECK(with({.total = 4, .completed = 3, .failed = 1}).health_status == HealthStatus::blocked);
  CHECK(with({.total = 2, .completed = 2}).health_status == HealthStatus::healthy);
  CHECK(with({.total = 0}).completion_percentage == doctest::Approx(100.0));
}

TEST_CASE("views: JSON forms carry retry_count, errors and ISO times") {
  StepView s;
  s.name = "pay";
  s.attempts = 3;
  s.retry_count = 2;
  s.error = StepFailure{"gateway timeout", "retryable_error", true, {{"gateway", "stripe"}}};
  s.created_at = TimePoint{std::chrono::milliseconds{1'700'000'000'123}};
  json j = to_json(s);
  CHECK(j["retry_count"] == 2);
  CHECK(j["error"]["error_type"] == "retryable_error");
  CHECK(j["error"]["context"]["gateway"] == "stripe");
  CHECK(j["created_at"] == "2023-11-14T22:13:20.123Z");
  CHECK(j["completed_at"].is_null());
}

TEST_CASE("views: uuids") {
  std::string id = new_uuid();
  CHECK(is_uuid(id));
  CHECK(id[14] == '4');  // version 4
  CHECK(new_uuid() != id);
  CHECK_FALSE(is_uuid("not-a-uuid"));
  CHECK_FALSE(is_uuid("3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5"));
  CHECK_FALSE(is_uuid("3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5g"));
}
