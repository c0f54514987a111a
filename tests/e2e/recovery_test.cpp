// Step timeouts with real workers, on every surface.
#include "e2e.hpp"

using namespace e2e;
using tasker::TaskState;

TEST_CASE("recovery: a step that outlives its timeout fails with error_type timeout and is retried") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("e2e_support", "timeout_step", {{"sleep_ms", 10'000}}));
  auto failed = h->wait_for_task_failure(task.uuid);
  CHECK(failed.state == TaskState::error);
  auto step = h->api().get_step(task.uuid, "sleepy");
  CHECK(step.attempts == 2);
  REQUIRE(step.error);
  CHECK(step.error->error_type == "timeout");
  CHECK(step.error->retryable);
  auto starts = attempt_starts(*h, task.uuid, "sleepy");
  auto failures = attempt_failures(*h, task.uuid, "sleepy");
  REQUIRE(starts.size() == 2);
  REQUIRE(failures.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) CHECK(failures[i] - starts[i] >= std::chrono::seconds{1});
  CHECK_FALSE(step.results.has_value());
}
