// Dynamic workflows, ported from tasker-core's suite: decisions with a
// convergence step (conditional approval and its boundaries), no branches, an
// invalid outcome, batch processing of a CSV file, no batches with and without
// a placeholder, resumption from a checkpoint after a retryable failure, and
// the diamond + decision + batch shape. Written once: every surface, backend
// and handler kind.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "e2e.hpp"

using namespace e2e;
using tasker::StepState;
using tasker::StepType;
using tasker::TaskState;

namespace {

std::set<std::string> step_names(Harness& h, const std::string& task) {
  std::set<std::string> out;
  for (const auto& s : h.api().list_steps(task)) out.insert(s.name);
  return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

tasker::TaskRequest approval(Harness& h, json context) {
  return h.create_task_request("dynamic_e2e", "approval_routing", std::move(context));
}

/// The CSV's totals, computed here from the file the handlers read.
struct CsvTotals {
  long long count{0}, value_cents{0}, quantity{0};
};
CsvTotals csv_totals() {
  std::ifstream in(source_dir() / "tests/e2e/data/products.csv");
  CsvTotals t;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string v; std::getline(fields, v, ',');) f.push_back(v);
    ++t.count;
    t.value_cents += std::stoll(f.at(3)) * std::stoll(f.at(4));
    t.quantity += std::stoll(f.at(4));
  }
  return t;
}

}  // namespace

TEST_CASE(
    "dynamic: conditional approval creates the branches the amount calls for, and the convergence waits "
    "for them") {
  auto h = make_harness();
  // amount -> the branches the decision creates (tasker-core: < 1000 auto, < 5000 manager, else both)
  const std::vector<std::pair<double, std::vector<std::string>>> cases{
      {500, {"auto_approve"}},
      {3000, {"manager_approval"}},
      {10000, {"manager_approval", "finance_review"}},
      {999, {"auto_approve"}},
      {1000, {"manager_approval"}},
      {4999, {"manager_approval"}},
      {5000, {"manager_approval", "finance_review"}},
  };
  std::vector<std::string> tasks;
  for (const auto& [amount, branches] : cases) tasks.push_back(h->submit(approval(*h, {{"amount", amount}})).uuid);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    // Not structured bindings: CAPTURE captures `amount` in a lambda, which clang 14 (clang-tidy) refuses.
    const double amount = cases[i].first;
    const std::vector<std::string>& branches = cases[i].second;
    CAPTURE(amount);
    auto done = h->wait_for_task_completion(tasks[i]);
    std::set<std::string> expected{"validate_request", "routing_decision", "finalize_approval"};
    expected.insert(branches.begin(), branches.end());
    CHECK(step_names(*h, tasks[i]) == expected);
    CHECK(done.counts.total == static_cast<int>(expected.size()));
    auto finalize = h->api().get_step(tasks[i], "finalize_approval");
    CHECK(finalize.type == StepType::deferred_convergence);
    CHECK(as_set(finalize.dependencies) == as_set(branches));  // edges only from the branches that exist
    std::vector<std::string> approvers;
    for (const auto& b : branches)
      approvers.push_back(b == "auto_approve" ? "system" : b == "manager_approval" ? "manager" : "finance");
    CHECK(result_of(*h, tasks[i], "finalize_approval")["approvers"] == json(approvers));
    CHECK(result_of(*h, tasks[i], "finalize_approval")["amount"] == amount);
    auto created = h->api().transitions(tasks[i], branches.front());
    REQUIRE_FALSE(created.empty());
    CHECK(created.front().from_state.empty());
    CHECK(created.front().reason == "created by decision step `routing_decision`");
    check_dependency_order(*h, tasks[i]);
  }
}

TEST_CASE("dynamic: a decision with no branches creates nothing, and the task completes") {
  auto h = make_harness();
  auto task = h->submit(approval(*h, {{"amount", 0}}));
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.total == 2);
  CHECK(step_names(*h, task.uuid) == std::set<std::string>{"validate_request", "routing_decision"});
}

TEST_CASE("dynamic: an invalid decision outcome fails the decision permanently, naming the bad step") {
  auto h = make_harness();
  auto task = h->submit(approval(*h, {{"amount", 3000}, {"invalid_branch", "budget_committee"}}));
  auto failed = h->wait_for_task_failure(task.uuid);
  CHECK(failed.state == TaskState::error);
  auto decision = h->api().get_step(task.uuid, "routing_decision");
  CHECK(decision.state == StepState::error);
  CHECK(decision.attempts == 1);
  REQUIRE(decision.error);
  CHECK(decision.error->error_type == "invalid_decision_outcome");
  CHECK(decision.error->message.find("`budget_committee`") != std::string::npos);
  CHECK_FALSE(decision.error->retryable);
  CHECK(step_names(*h, task.uuid) == std::set<std::string>{"validate_request", "routing_decision"});

  SUBCASE("an operator completing the decision with a valid outcome creates its branches") {
    h->api().complete_step_manually(
        task.uuid, "routing_decision",
        {{"decision_point_outcome", {{"type", "create_steps"}, {"step_names", {"auto_approve"}}}}});
    h->wait_for_task_completion(task.uuid);
    CHECK(step_names(*h, task.uuid) ==
          std::set<std::string>{"validate_request", "routing_decision", "auto_approve", "finalize_approval"});
  }
}

TEST_CASE("dynamic: a CSV of 1,000 products in batches of 200, three at a time, aggregated exactly") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("dynamic_e2e", "csv_inventory", {{"csv", "products.csv"}}));
  auto done = h->wait_for_task_completion(task.uuid, std::chrono::seconds{120});
  CHECK(done.counts.total == 7);
  std::vector<std::string> instances;
  for (const auto& s : h->api().list_steps(task.uuid)) {
    if (s.type != StepType::batch_worker) continue;
    instances.push_back(s.name);
    CHECK(s.template_step == "process_csv_batch");
  }
  CHECK(instances == std::vector<std::string>{"process_csv_batch_001", "process_csv_batch_002", "process_csv_batch_003",
                                              "process_csv_batch_004", "process_csv_batch_005"});
  CHECK(as_set(h->api().get_step(task.uuid, "aggregate_csv_results").dependencies) == as_set(instances));
  const CsvTotals expected = csv_totals();
  json totals = result_of(*h, task.uuid, "aggregate_csv_results");
  CHECK(totals["count"] == expected.count);
  CHECK(totals["value_cents"] == expected.value_cents);
  CHECK(totals["quantity"] == expected.quantity);
  CHECK(totals["batches"] == 5);
  CHECK(totals["no_batches"] == false);
  CHECK(result_of(*h, task.uuid, "process_csv_batch_005")["count"] == 200);
  // parallelism 3: from the recorded order of transitions, never more than three instances ran at once
  int running = 0, most = 0;
  for (const auto& t : h->api().transitions(task.uuid)) {
    if (t.step_name.rfind("process_csv_batch_", 0) != 0) continue;
    if (t.to_state == "in_progress") most = std::max(most, ++running);
    if (t.from_state == "in_progress") --running;
  }
  CHECK(most >= 1);
  CHECK(most <= 3);
  check_dependency_order(*h, task.uuid);
}

TEST_CASE("dynamic: no batches makes one no-op placeholder when the batchable step names its worker") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("dynamic_e2e", "csv_inventory", {{"row_limit", 0}}));
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.total == 3);
  CHECK(step_names(*h, task.uuid) ==
        std::set<std::string>{"analyze_csv", "process_csv_batch_000", "aggregate_csv_results"});
  json totals = result_of(*h, task.uuid, "aggregate_csv_results");
  CHECK(totals["no_batches"] == true);
  CHECK(totals["count"] == 0);
  CHECK(totals["batches"] == 1);
}

TEST_CASE("dynamic: no batches creates nothing when the batchable step does not name its worker") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("dynamic_e2e", "csv_inventory_unnamed", {{"row_limit", 0}}));
  auto done = h->wait_for_task_completion(task.uuid);
  CHECK(done.counts.total == 1);
  CHECK(step_names(*h, task.uuid) == std::set<std::string>{"analyze_csv"});
}

TEST_CASE(
    "dynamic: after a retryable failure a batch worker resumes from its checkpoint and sees the failure's "
    "progress") {
  auto h = make_harness();
  auto task = h->submit(h->create_task_request("dynamic_e2e", "checkpointed_batch",
                                               {{"items", 100}, {"checkpoint_every", 25}, {"fail_after", 50}}));
  h->wait_for_task_completion(task.uuid, std::chrono::seconds{120});
  auto worker = h->api().get_step(task.uuid, "process_items_001");
  CHECK(worker.attempts == 2);
  json result = *worker.results;
  CHECK(result["resumed_from"] == 50);
  CHECK(result["previous_checkpoint_progress"] == 50);  // tasker-core's failure checkpoint, in the error context
  CHECK(result["sum"] == 4950);                         // 0 + 1 + ... + 99
  REQUIRE(worker.checkpoint);
  CHECK(worker.checkpoint->at("cursor") == 100);
  CHECK(result_of(*h, task.uuid, "sum_items")["total"] == 4950);
  auto seen = processed_items(task.uuid, "process_items_001");
  CHECK(seen.size() == 100u);
  for (const auto& item_times : seen) {
    const long long item = item_times.first;  // not a structured binding: clang 14 cannot CAPTURE one
    CAPTURE(item);
    CHECK(item_times.second == 1);  // nothing before the checkpoint ran twice
  }
}

TEST_CASE("dynamic: diamond, decision and batches: each analyzer creates its batches and its own convergence") {
  auto h = make_harness();
  auto both = h->submit(h->create_task_request("dynamic_e2e", "diamond_decision_batch",
                                               {{"numbers", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, {"batch_size", 2}}));
  auto evens_only = h->submit(
      h->create_task_request("dynamic_e2e", "diamond_decision_batch", {{"numbers", {2, 4, 6, 1}}, {"batch_size", 2}}));
  h->wait_for_task_completion(both.uuid, std::chrono::seconds{120});
  CHECK(result_of(*h, both.uuid, "aggregate_even_results") == json{{"sum", 30}, {"batches", 3}});
  CHECK(result_of(*h, both.uuid, "aggregate_odd_results") == json{{"sum", 25}, {"batches", 3}});
  CHECK(h->api().get_task(both.uuid).counts.total == 4 + 2 * (1 + 3 + 1));
  check_dependency_order(*h, both.uuid);

  h->wait_for_task_completion(evens_only.uuid, std::chrono::seconds{120});
  auto names = step_names(*h, evens_only.uuid);
  CHECK(names.count("aggregate_even_results") == 1);
  CHECK(names.count("process_even_batch_002") == 1);
  CHECK(names.count("odd_batch_analyzer") == 0);
  CHECK(result_of(*h, evens_only.uuid, "aggregate_even_results") == json{{"sum", 12}, {"batches", 2}});
}
