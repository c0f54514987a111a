// Submitting options and operator actions: bypass_steps, identity, cancel,
// reset / rerun / resolve / complete manually.
#include <algorithm>
#include <thread>

#include "e2e.hpp"
#include "surface.hpp"
#include "tasker/errors.hpp"

using namespace e2e;
using tasker::StepState;
using tasker::TaskState;

TEST_CASE("bypass: bypassed steps are left out and count as satisfied for dependents") {
  auto h = make_harness();
  auto request = h->create_task_request_with_bypass("data_pipeline", "analytics_pipeline", {{"pipeline_run_id", "b"}},
                                                    {"extract_products"});
  auto task = h->submit(request);
  CHECK(task.counts.total == 5);
  CHECK(task.bypassed_steps == std::vector<std::string>{"extract_products"});
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.completed == 5);
  CHECK(result_of(*h, task.uuid, "transform_metrics")["total_records"] == 120 + 340);
  CHECK_THROWS_AS(h->api().get_step(task.uuid, "extract_products"), tasker::NotFoundError);
}

TEST_CASE("bypass: an unknown step name is rejected and nothing is created") {
  auto h = make_harness(false);
  auto request =
      h->create_task_request_with_bypass("data_pipeline", "analytics_pipeline", json::object(), {"extract_product"});
  try {
    h->submit(request);
    FAIL("an unknown bypass step was accepted");
  } catch (const tasker::InvalidRequestError& e) {
    CHECK(std::string(e.what()).find("did you mean `extract_products`") != std::string::npos);
  }
  CHECK(h->api().list_tasks().tasks.empty());
}

TEST_CASE("identity: a duplicate submission is rejected whatever the order of the context's keys") {
  auto h = make_harness(false);
  auto first = h->submit(h->create_task_request("linear_workflow", "mathematical_sequence",
                                                json::parse(R"({"even_number": 8, "meta": {"a": 1, "b": [1, 2]}})")));
  auto same_reordered = h->create_task_request("linear_workflow", "mathematical_sequence",
                                               json::parse(R"({"meta": {"b": [1, 2], "a": 1}, "even_number": 8})"));
  try {
    h->submit(same_reordered);
    FAIL("the duplicate was accepted");
  } catch (const tasker::DuplicateTaskError& e) {
    CHECK(e.existing_task_uuid() == first.uuid);
    CHECK(std::string(e.what()).find(first.uuid) != std::string::npos);
  }
  // A different context is a different task; an idempotency key wins over the context.
  auto other = h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 10}}));
  CHECK(other.uuid != first.uuid);
  auto keyed = h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 12}});
  keyed.idempotency_key = "order-991";
  auto with_key = h->submit(keyed);
  keyed.context = {{"even_number", 14}};
  CHECK_THROWS_AS(h->submit(keyed), tasker::DuplicateTaskError);
  CHECK(h->api().list_tasks().tasks.size() == 3);
  CHECK(with_key.idempotency_key == "order-991");
}

TEST_CASE("cancel: a task cancelled mid-run stops, and the running step's late result is discarded") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("e2e_support", "slow_chain", {{"sleep_ms", 400}}));
  h->wait_for(
      task.uuid, [](const tasker::TaskView& t) { return t.counts.in_progress == 1; }, "slow_1 to start");
  auto cancelled = h->api().cancel(task.uuid, "customer changed their mind");
  CHECK(cancelled.state == TaskState::cancelled);
  // slow_1's handler runs on until its sleep ends; its result arrives late and
  // must not land. Stopping the worker lets the handler finish (stop_grace) and
  // records every outcome the worker holds before it returns: after that, the
  // late result has reached the store.
  if (!http_surface()) {
    h->worker().stop();
    CHECK(h->worker().stats().discarded == 1);  // it was sent, and refused
  }
  h->stop_worker();
  for (const auto& step : h->api().list_steps(task.uuid)) {
    INFO(step.name);
    CHECK(step.state == StepState::cancelled);
    CHECK_FALSE(step.results.has_value());
  }
  CHECK(attempt_starts(*h, task.uuid, "slow_2").empty());
  CHECK(h->api().get_task(task.uuid).state == TaskState::cancelled);
  auto audit = h->api().transitions(task.uuid);
  CHECK(std::any_of(audit.begin(), audit.end(), [](const tasker::Transition& t) {
    return t.step_name.empty() && t.to_state == "cancelled" && t.reason == "customer changed their mind";
  }));
  CHECK_THROWS_AS(h->api().cancel(task.uuid), tasker::InvalidRequestError);
}

TEST_CASE("manual: reset_step_for_retry gives a failed step new attempts and the task resumes") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("e2e_support", "needs_operator"));
  h->wait_for_task_failure(task.uuid);
  CHECK(h->api().get_step(task.uuid, "after_gate").state == StepState::pending);
  auto reset = h->api().reset_step_for_retry(task.uuid, "gate", "upstream fixed");
  CHECK(reset.state == StepState::enqueued);
  CHECK(reset.attempts == 0);
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.state == TaskState::complete);
  CHECK(result_of(*h, task.uuid, "gate")["passed_after_reset"] == true);
  CHECK(h->api().get_step(task.uuid, "after_gate").state == StepState::complete);
  CHECK_THROWS_AS(h->api().reset_step_for_retry(task.uuid, "gate"), tasker::InvalidRequestError);
}

TEST_CASE("manual: resolve_step_manually lets dependents run without a result") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("data_pipeline", "analytics_pipeline",
                                               {{"pipeline_run_id", "r"}, {"fail_extract", "extract_orders"}}));
  h->wait_for_task_failure(task.uuid);
  auto resolved = h->api().resolve_step_manually(task.uuid, "extract_orders", "orders loaded by hand");
  CHECK(resolved.state == StepState::resolved_manually);
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.state == TaskState::resolved_manually);
  CHECK(done.counts.completed == 6);
  CHECK(result_of(*h, task.uuid, "transform_metrics")["total_records"] == 120 + 56);
}

TEST_CASE("manual: complete_step_manually supplies the result dependents see") {
  auto h = make_harness();
  json context = {{"customer_info", {{"id", 1}, {"email", "op@example.com"}}},
                  {"cart_items", {{{"product_id", 2}, {"quantity", 1}}}},
                  {"payment_info", {{"method", "credit_card"}, {"token", "tok_invalid"}, {"amount", 22.67}}}};
  auto task = h->submit(h->create_task_request("ecommerce", "order_processing", context));
  h->wait_for_task_failure(task.uuid);
  auto completed = h->api().complete_step_manually(
      task.uuid, "process_payment", {{"payment_id", "manual-7"}, {"amount_charged", 22.67}}, "paid by bank transfer");
  CHECK(completed.state == StepState::complete);
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.state == TaskState::complete);
  CHECK(result_of(*h, task.uuid, "process_payment")["payment_id"] == "manual-7");
  CHECK(result_of(*h, task.uuid, "send_confirmation")["email_sent_to"] == "op@example.com");
  CHECK_THROWS_AS(h->api().complete_step_manually(task.uuid, "process_payment", json::object()),
                  tasker::InvalidRequestError);
}

TEST_CASE("manual: rerun_step from a diamond's middle step reruns it and its dependents only, attempts counting on") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("diamond_workflow", "diamond_pattern", {{"even_number", 6}}));
  h->wait_for_task_completion(task.uuid);
  const auto trail_before = h->api().transitions(task.uuid);
  auto b = h->api().rerun_step(task.uuid, "diamond_branch_b", "recomputed");
  CHECK(b.max_attempts == 1 + 3);
  CHECK(h->wait_for_task_completion(task.uuid).state == TaskState::complete);
  for (const char* rerun : {"diamond_branch_b", "diamond_end"}) {
    CAPTURE(rerun);
    CHECK(h->api().get_step(task.uuid, rerun).attempts == 2);
  }
  for (const char* kept : {"diamond_start", "diamond_branch_c"}) {
    CAPTURE(kept);
    CHECK(h->api().get_step(task.uuid, kept).attempts == 1);
    // Not a single new transition: the step stood untouched.
    CHECK(h->api().transitions(task.uuid, std::string(kept)).size() ==
          static_cast<std::size_t>(std::count_if(trail_before.begin(), trail_before.end(),
                                                 [&](const auto& t) { return t.step_name == kept; })));
  }
  CHECK(result_of(*h, task.uuid, "diamond_end").get<double>() == doctest::Approx(2821109907456.0));
  const auto trail = h->api().transitions(task.uuid, std::string("diamond_branch_b"));
  CHECK(std::any_of(trail.begin(), trail.end(), [](const auto& t) {
    return t.from_state == "complete" && t.to_state == "enqueued" && t.reason == "recomputed";
  }));
}

TEST_CASE("manual: rerun_task submits the task again as a new one, linked by a tag, the original untouched") {
  auto h = make_harness();
  auto original = h->submit(h->create_task_request("diamond_workflow", "diamond_pattern", {{"even_number", 6}}));
  h->wait_for_task_completion(original.uuid);
  auto again = h->api().rerun_task(original.uuid, "audit asked for it");
  CHECK(again.uuid != original.uuid);
  CHECK(again.context == h->api().get_task(original.uuid).context);
  CHECK(again.version == original.version);
  CHECK(std::find(again.tags.begin(), again.tags.end(), "rerun-of:" + original.uuid) != again.tags.end());
  CHECK(again.reason.find("audit asked for it") != std::string::npos);
  CHECK(h->wait_for_task_completion(again.uuid).state == TaskState::complete);
  CHECK(result_of(*h, again.uuid, "diamond_end") == result_of(*h, original.uuid, "diamond_end"));
  CHECK(h->api().get_step(original.uuid, "diamond_end").attempts == 1);
  CHECK_THROWS_AS(h->api().rerun_task("3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"), tasker::NotFoundError);
}

TEST_CASE("lookups: malformed and unknown ids are told apart") {
  auto h = make_harness(false);
  CHECK_THROWS_AS(h->api().get_task("not-a-uuid"), tasker::InvalidRequestError);
  CHECK_THROWS_AS(h->api().get_task("00000000-0000-4000-8000-000000000000"), tasker::NotFoundError);
  auto task = h->submit(h->create_task_request("error_scenarios", "success_only"));
  CHECK_THROWS_AS(h->api().get_step(task.uuid, "no_such_step"), tasker::NotFoundError);
  CHECK_THROWS_AS(h->submit(h->create_task_request("error_scenarios", "no_such_template")), tasker::NotFoundError);
}

TEST_CASE("listing: tasks are listed newest first, filtered and paged") {
  auto h = make_harness(false);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(
        h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 2 * i + 2}}))
            .uuid);
  ids.push_back(h->submit(h->create_task_request("error_scenarios", "success_only")).uuid);
  tasker::TaskFilter filter;
  filter.namespace_name = "linear_workflow";
  filter.limit = 2;
  std::vector<std::string> seen;
  for (;;) {
    auto page = h->api().list_tasks(filter);
    for (const auto& t : page.tasks) seen.push_back(t.uuid);
    if (!page.next_cursor) break;
    filter.cursor = page.next_cursor;
  }
  CHECK(seen == std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]});
  tasker::TaskFilter pending;
  pending.state = TaskState::pending;
  CHECK(h->api().list_tasks(pending).tasks.size() == 6);
}
