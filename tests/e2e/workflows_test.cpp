// The seed's workflow shapes: real values computed by handlers, step counts,
// and from the transition history that no step started before its parents.
#include <cmath>

#include "e2e.hpp"

using namespace e2e;
using tasker::ExecutionStatus;
using tasker::TaskState;

namespace {
void check_all_complete(const tasker::TaskView& t, int steps) {
  CHECK(t.state == TaskState::complete);
  CHECK(t.counts.total == steps);
  CHECK(t.counts.completed == steps);
  CHECK(t.counts.failed == 0);
  CHECK(t.execution_status == ExecutionStatus::all_complete);
  CHECK(t.completion_percentage == doctest::Approx(100.0));
}
}  // namespace

TEST_CASE("workflow: linear chain squares 6 four times (6 -> 6^16)") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 6}}));
  auto done = h->wait_for_task_completion(task.uuid);
  check_all_complete(done, 4);
  CHECK(result_of(*h, task.uuid, "linear_step_1") == 36);
  CHECK(result_of(*h, task.uuid, "linear_step_2") == 1296);
  CHECK(result_of(*h, task.uuid, "linear_step_3") == 1679616);
  CHECK(result_of(*h, task.uuid, "linear_step_4").get<long long>() == 2821109907456LL);  // 6^16
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("workflow: diamond joins two branches ((b*c)^2 = 6^16)") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("diamond_workflow", "diamond_pattern", {{"even_number", 6}}));
  check_all_complete(h->wait_for_task_completion(task.uuid), 4);
  CHECK(result_of(*h, task.uuid, "diamond_branch_b") == 1296);
  CHECK(result_of(*h, task.uuid, "diamond_branch_c") == 1296);
  CHECK(result_of(*h, task.uuid, "diamond_end").get<double>() == doctest::Approx(2821109907456.0));
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("workflow: tree of 8 steps converges four leaves (6^64)") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("tree_workflow", "hierarchical_tree", {{"even_number", 6}}));
  check_all_complete(h->wait_for_task_completion(task.uuid), 8);
  for (const char* leaf : {"tree_leaf_d", "tree_leaf_e", "tree_leaf_f", "tree_leaf_g"})
    CHECK(result_of(*h, task.uuid, leaf) == 1679616);  // 6^8
  CHECK(result_of(*h, task.uuid, "tree_final_convergence").get<double>() ==
        doctest::Approx(std::pow(6.0, 64)).epsilon(1e-9));
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("workflow: mixed DAG of 7 steps (6^64)") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("mixed_dag_workflow", "complex_dag", {{"even_number", 6}}));
  check_all_complete(h->wait_for_task_completion(task.uuid), 7);
  CHECK(result_of(*h, task.uuid, "dag_validate").get<double>() == doctest::Approx(std::pow(6.0, 16)));
  CHECK(result_of(*h, task.uuid, "dag_transform") == 1679616);
  CHECK(result_of(*h, task.uuid, "dag_analyze") == 1679616);
  CHECK(result_of(*h, task.uuid, "dag_finalize").get<double>() == doctest::Approx(std::pow(6.0, 64)).epsilon(1e-9));
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("workflow: order fulfillment passes results along its 4 steps") {
  auto h = make_harness();
  json context = {{"customer", {{"id", 7}, {"email", "ada@example.com"}}},
                  {"items",
                   {{{"sku", "BOOK-1"}, {"quantity", 2}, {"unit_price", 12.5}},
                    {{"sku", "PEN-9"}, {"quantity", 1}, {"unit_price", 3.0}}}},
                  {"payment", {{"method", "card"}, {"token", "tok_visa"}}}};
  auto task = h->submit(h->create_task_request("order_fulfillment", "business_workflow", context));
  check_all_complete(h->wait_for_task_completion(task.uuid), 4);
  json order = result_of(*h, task.uuid, "validate_order");
  CHECK(order["total"].get<double>() == doctest::Approx(28.0));
  CHECK(result_of(*h, task.uuid, "process_payment")["amount_charged"].get<double>() == doctest::Approx(28.0));
  json shipment = result_of(*h, task.uuid, "ship_order");
  CHECK(shipment["payment_id"] == result_of(*h, task.uuid, "process_payment")["payment_id"]);
  CHECK(shipment["reservation_id"] == result_of(*h, task.uuid, "reserve_inventory")["reservation_id"]);
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("workflow: many tasks of several shapes run concurrently") {
  auto h = make_harness();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(
        h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 2 + 2 * i}}))
            .uuid);
    ids.push_back(
        h->submit(h->create_task_request("diamond_workflow", "diamond_pattern", {{"even_number", 2 + 2 * i}})).uuid);
  }
  for (const auto& id : ids) check_all_complete(h->wait_for_task_completion(id), 4);
  for (int i = 0; i < 6; ++i) {
    long long n = 2 + 2 * i;
    CHECK(result_of(*h, ids[2 * static_cast<std::size_t>(i)], "linear_step_4").get<double>() ==
          doctest::Approx(std::pow(double(n), 16)));
  }
}
