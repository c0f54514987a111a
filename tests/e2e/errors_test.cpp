// The seed's error scenarios: permanent vs retryable failures, exhausted
// retries with recorded backoff gaps, independent branches after a failure.
#include "e2e.hpp"

using namespace e2e;
using tasker::ExecutionStatus;
using tasker::HealthStatus;
using tasker::StepState;
using tasker::TaskState;

TEST_CASE("errors: success only completes without retries") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("error_scenarios", "success_only"));
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.completed == 1);
  auto step = h->api().get_step(task.uuid, "success_step");
  CHECK(step.state == StepState::complete);
  CHECK(step.attempts == 1);
  CHECK(step.retry_count == 0);
  CHECK(step.results->at("status") == "ok");
}

TEST_CASE("errors: a permanent failure is not retried and blocks the task") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("error_scenarios", "permanent_error_only"));
  auto failed = h->wait_for_task_failure(task.uuid);
  CHECK(failed.state == TaskState::error);
  CHECK(failed.execution_status == ExecutionStatus::blocked_by_failures);
  CHECK(failed.health_status == HealthStatus::blocked);
  auto step = h->api().get_step(task.uuid, "permanent_error_step");
  CHECK(step.state == StepState::error);
  CHECK(step.attempts == 1);
  CHECK(step.retry_count == 0);
  REQUIRE(step.error);
  CHECK(step.error->error_type == "permanent_error");
  CHECK_FALSE(step.error->retryable);
  CHECK(step.error->message.find("always fails permanently") != std::string::npos);
  CHECK(attempt_starts(*h, task.uuid, "permanent_error_step").size() == 1);
}

TEST_CASE("errors: a retryable failure exhausts max_attempts, each retry after its backoff") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("error_scenarios", "retryable_error_only"));
  auto failed = h->wait_for_task_failure(task.uuid);
  CHECK(failed.execution_status == ExecutionStatus::blocked_by_failures);
  auto step = h->api().get_step(task.uuid, "retryable_error_step");
  CHECK(step.state == StepState::error);
  CHECK(step.max_attempts == 2);
  CHECK(step.attempts == 2);
  CHECK(step.retry_count == 1);
  REQUIRE(step.error);
  CHECK(step.error->retryable);
  CHECK(step.error->error_type == "retryable_error");
  check_backoff_respected(*h, task.uuid, "retryable_error_step");
}

TEST_CASE("errors: in a mixed task one step completes, two fail, the task is blocked") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("error_scenarios", "error_testing"));
  auto failed = h->wait_for_task_failure(task.uuid);
  CHECK(failed.counts.total == 3);
  CHECK(failed.counts.completed == 1);
  CHECK(failed.counts.failed == 2);
  CHECK(failed.execution_status == ExecutionStatus::blocked_by_failures);
  CHECK(h->api().get_step(task.uuid, "success_step").state == StepState::complete);
  CHECK(h->api().get_step(task.uuid, "permanent_error_step").attempts == 1);
  auto retryable = h->api().get_step(task.uuid, "retryable_error_step");
  CHECK(retryable.state == StepState::error);
  CHECK(retryable.attempts == retryable.max_attempts);
  check_backoff_respected(*h, task.uuid, "retryable_error_step");
}

TEST_CASE("errors: a step that fails twice then succeeds completes with retry_count 2") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("error_scenarios", "retry_mechanics"));
  h->wait_for_task_completion(task.uuid);
  auto step = h->api().get_step(task.uuid, "fail_twice_then_succeed");
  CHECK(step.state == StepState::complete);
  CHECK(step.attempts == 3);
  CHECK(step.retry_count == 2);
  CHECK(step.results->at("succeeded_on_attempt") == 3);
  REQUIRE(step.error);  // the last failure stays on record after the success
  CHECK(step.error->message.find("planned failure 2 of 2") != std::string::npos);
  check_backoff_respected(*h, task.uuid, "fail_twice_then_succeed");
}
