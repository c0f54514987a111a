// The seed's blog examples: e-commerce checkout and the analytics pipeline.
#include "e2e.hpp"

using namespace e2e;
using tasker::StepState;

namespace {
json order_context(const std::string& token, const std::string& email = "grace@example.com") {
  return {{"customer_info", {{"id", 42}, {"email", email}, {"tier", "gold"}}},
          {"cart_items", {{{"product_id", 1}, {"quantity", 2}}, {{"product_id", 3}, {"quantity", 1}}}},
          {"payment_info", {{"method", "credit_card"}, {"token", token}, {"amount", 56.14}}}};
}
}  // namespace

TEST_CASE("e-commerce: the happy path runs 5 steps and results flow from step to step") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("ecommerce", "order_processing", order_context("tok_visa")));
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.total == 5);
  CHECK(done.counts.completed == 5);
  json cart = result_of(*h, task.uuid, "validate_cart");
  CHECK(cart["subtotal"].get<double>() == doctest::Approx(2 * 10.99 + 30.99));
  json payment = result_of(*h, task.uuid, "process_payment");
  CHECK(payment["amount_charged"].get<double>() == doctest::Approx(cart["total"].get<double>()));
  json order = result_of(*h, task.uuid, "create_order");
  CHECK(order["line_count"] == 2);
  json email = result_of(*h, task.uuid, "send_confirmation");
  CHECK(email["email_sent_to"] == "grace@example.com");
  CHECK(email["order_number"] == order["order_number"]);
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("e-commerce: an invalid card fails process_payment permanently, without retry") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("ecommerce", "order_processing", order_context("tok_invalid")));
  h->wait_for_task_failure(task.uuid);
  auto payment = h->api().get_step(task.uuid, "process_payment");
  CHECK(payment.state == StepState::error);
  CHECK(payment.retry_count == 0);
  REQUIRE(payment.error);
  CHECK(payment.error->message.find("card declined") != std::string::npos);
  CHECK(payment.error->context.value("decline_code", "") == "invalid_number");
  for (const char* later : {"update_inventory", "create_order", "send_confirmation"})
    CHECK(h->api().get_step(task.uuid, later).state == StepState::pending);
}

TEST_CASE("e-commerce: a flaky payment gateway completes after 2 retries") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("ecommerce", "order_processing", order_context("tok_flaky")));
  h->wait_for_task_completion(task.uuid);
  auto payment = h->api().get_step(task.uuid, "process_payment");
  CHECK(payment.attempts == 3);
  CHECK(payment.retry_count == 2);
  CHECK(payment.results->at("attempt") == 3);
  check_backoff_respected(*h, task.uuid, "process_payment");
}

TEST_CASE("data pipeline: the three extracts complete before transform starts") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request(
      "data_pipeline", "analytics_pipeline",
      {{"pipeline_run_id", "run-1"}, {"date_range", {{"start_date", "2026-01-01"}, {"end_date", "2026-01-31"}}}}));
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.total == 6);
  CHECK(result_of(*h, task.uuid, "transform_metrics")["total_records"] == 120 + 340 + 56);
  CHECK(result_of(*h, task.uuid, "update_dashboard")["total_records"] == 516);
  auto transform_start = attempt_starts(*h, task.uuid, "transform_metrics").front();
  for (const char* extract : {"extract_users", "extract_orders", "extract_products"})
    CHECK(h->api().get_step(task.uuid, extract).completed_at <= transform_start);
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("data pipeline: when one extract fails permanently the others complete and transform never runs") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("data_pipeline", "analytics_pipeline",
                                               {{"pipeline_run_id", "run-2"}, {"fail_extract", "extract_orders"}}));
  auto failed = h->wait_for_task_failure(task.uuid);
  CHECK(failed.counts.completed == 2);
  CHECK(failed.counts.failed == 1);
  CHECK(h->api().get_step(task.uuid, "extract_orders").state == StepState::error);
  CHECK(h->api().get_step(task.uuid, "extract_users").state == StepState::complete);
  CHECK(h->api().get_step(task.uuid, "extract_products").state == StepState::complete);
  auto transform = h->api().get_step(task.uuid, "transform_metrics");
  CHECK(transform.state == StepState::pending);
  CHECK(transform.attempts == 0);
  CHECK(attempt_starts(*h, task.uuid, "transform_metrics").empty());
}
