// Planning steps created at run time: the initial step set, decision
// expansions (tasker-core's conditional approval and its boundaries), batch
// instances with convergence, and every invalid outcome failing with its type.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "helpers.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"

using tasker::Expansion;
using tasker::json;
using tasker::StepType;
using tasker::TaskTemplate;
using tasker::test::contains;

namespace {

TaskTemplate load(const std::string& yaml) {
  auto result = tasker::load_templates_from_string(yaml, "dynamic.yaml");
  std::string problems;
  for (const auto& d : result.diagnostics) problems += d.to_string() + "\n";
  REQUIRE_MESSAGE(result.ok(), problems);
  REQUIRE(result.templates.size() == 1);
  return result.templates.front();
}

const char* kApproval = R"(
name: approval_routing
namespace_name: conditional_approval
version: 1.0.0
steps:
  - {name: validate_request, handler: {callable: c.validate}}
  - {name: routing_decision, type: decision, dependencies: [validate_request], handler: {callable: c.route}}
  - name: finalize_approval
    type: deferred_convergence
    dependencies: [auto_approve, manager_approval, finance_review]
    handler: {callable: c.finalize}
  - {name: auto_approve, dependencies: [routing_decision], handler: {callable: c.auto}}
  - {name: manager_approval, dependencies: [routing_decision], handler: {callable: c.manager}}
  - {name: finance_review, dependencies: [routing_decision], handler: {callable: c.finance}}
)";

const char* kBatch = R"(
name: csv
namespace_name: batches
version: 1.0.0
steps:
  - {name: analyze, type: batchable, handler: {callable: b.analyze, initialization: {worker_template_name: process}}}
  - name: process
    type: batch_worker
    dependencies: [analyze]
    handler: {callable: b.process, initialization: {operation: sum}}
    batch_config: {batch_size: 100, parallelism: 2, worker_template: process, failure_strategy: fail_fast}
  - {name: aggregate, type: deferred_convergence, dependencies: [process], handler: {callable: b.aggregate}}
)";

std::set<std::string> names(const Expansion& e) {
  std::set<std::string> out;
  for (const auto& s : e.steps) out.insert(s.name);
  return out;
}

std::set<std::pair<std::string, std::string>> edges(const Expansion& e) { return {e.edges.begin(), e.edges.end()}; }

json decision(std::vector<std::string> steps) {
  return {{"decision_point_outcome", {{"type", "create_steps"}, {"step_names", steps}}}, {"routing", "x"}};
}

tasker::StepExists existing(std::set<std::string> present) {
  return [present = std::move(present)](std::string_view n) { return present.count(std::string(n)) > 0; };
}

std::string error_type_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tasker::PermanentError& e) {
    return e.error_type() + ": " + e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("dynamic: a task starts without decision branches, batch workers and convergence steps") {
  auto approval = load(kApproval);
  auto created = tasker::initially_created(approval);
  std::vector<std::string> initial;
  for (std::size_t i = 0; i < created.size(); ++i)
    if (created[i]) initial.push_back(approval.steps[i].name);
  CHECK(initial == std::vector<std::string>{"validate_request", "routing_decision"});
  auto batch = tasker::initially_created(load(kBatch));
  CHECK(batch == std::vector<bool>{true, false, false});
}

TEST_CASE("dynamic: conditional approval creates the chosen branches and a convergence waiting for them") {
  auto t = load(kApproval);
  auto exists = existing({"validate_request", "routing_decision"});
  SUBCASE("small amount: auto_approve") {
    auto e = tasker::plan_decision(t, "routing_decision", decision({"auto_approve"}), exists);
    CHECK(names(e) == std::set<std::string>{"auto_approve", "finalize_approval"});
    CHECK(edges(e) == std::set<std::pair<std::string, std::string>>{{"routing_decision", "auto_approve"},
                                                                    {"auto_approve", "finalize_approval"}});
  }
  SUBCASE("large amount: both reviews, the convergence waits for the two") {
    auto e = tasker::plan_decision(t, "routing_decision", decision({"manager_approval", "finance_review"}), exists);
    CHECK(names(e) == std::set<std::string>{"manager_approval", "finance_review", "finalize_approval"});
    CHECK(edges(e) == std::set<std::pair<std::string, std::string>>{{"routing_decision", "manager_approval"},
                                                                    {"routing_decision", "finance_review"},
                                                                    {"manager_approval", "finalize_approval"},
                                                                    {"finance_review", "finalize_approval"}});
  }
  SUBCASE("no_branches creates nothing") {
    json none = {{"decision_point_outcome", {{"type", "no_branches"}}}};
    CHECK(tasker::plan_decision(t, "routing_decision", none, exists).steps.empty());
  }
}

TEST_CASE("dynamic: an invalid decision outcome names the problem") {
  auto t = load(kApproval);
  auto exists = existing({"validate_request", "routing_decision"});
  auto plan = [&](const json& result) {
    return error_type_of([&] { (void)tasker::plan_decision(t, "routing_decision", result, exists); });
  };
  CHECK(contains(plan(json{{"approved", true}}),
                 "invalid_decision_outcome: the result of step `routing_decision` "
                 "has no `decision_point_outcome`"));
  CHECK(contains(plan(decision({"auto_aprove"})), "`auto_aprove`"));
  CHECK(contains(plan(decision({"auto_aprove"})), "did you mean `auto_approve`?"));
  CHECK(contains(plan(decision({"validate_request"})), "does not depend on it"));
  CHECK(contains(plan(json{{"decision_point_outcome", {{"type", "maybe"}}}}), "outcome type `maybe`"));
  CHECK(contains(plan(json{{"decision_point_outcome", {{"type", "create_steps"}, {"step_names", {1}}}}}),
                 "not a string"));
  tasker::ExpansionLimits one{.max_steps_per_decision = 1};
  CHECK(contains(error_type_of([&] {
                   (void)tasker::plan_decision(t, "routing_decision", decision({"manager_approval"}), exists, one);
                 }),
                 "more than the limit of 1"));
}

TEST_CASE("dynamic: a batch makes one instance per cursor, fed to the convergence step, parallelism enforced") {
  auto t = load(kBatch);
  json outcome = {{"batch_processing_outcome",
                   {{"type", "create_batches"},
                    {"worker_template_name", "process"},
                    {"worker_count", 3},
                    {"total_items", 250},
                    {"cursor_configs",
                     {{{"batch_id", "001"}, {"start_cursor", 0}, {"end_cursor", 100}, {"batch_size", 100}},
                      {{"batch_id", "002"}, {"start_cursor", 100}, {"end_cursor", 200}, {"batch_size", 100}},
                      {{"batch_id", "003"}, {"start_cursor", 200}, {"end_cursor", 250}, {"batch_size", 50}}}}}}};
  auto e = tasker::plan_batches(t, "analyze", outcome, existing({"analyze"}));
  CHECK(names(e) == std::set<std::string>{"process_001", "process_002", "process_003", "aggregate"});
  CHECK(edges(e) == std::set<std::pair<std::string, std::string>>{{"analyze", "process_001"},
                                                                  {"analyze", "process_002"},
                                                                  {"analyze", "process_003"},
                                                                  {"process_001", "aggregate"},
                                                                  {"process_002", "aggregate"},
                                                                  {"process_003", "aggregate"}});
  const auto& third = e.steps[2];
  CHECK(third.name == "process_003");
  CHECK(third.initialization["operation"] == "sum");
  CHECK(third.initialization["cursor"] ==
        json{{"batch_id", "003"}, {"start_cursor", 200}, {"end_cursor", 250}, {"batch_size", 50}});
  CHECK(third.initialization["batch_metadata"] == json{{"cursor_field", "id"}, {"failure_strategy", "fail_fast"}});
  CHECK(third.initialization["is_no_op"] == false);
  CHECK(third.initialization["__template_step_name"] == "process");
  CHECK(e.waiting_for_slot == std::vector<std::size_t>{2});  // parallelism 2: the third waits
}

TEST_CASE("dynamic: no_batches makes a no-op placeholder when the batchable names its worker, else nothing") {
  json none = {{"batch_processing_outcome", {{"type", "no_batches"}}}};
  auto with_name = tasker::plan_batches(load(kBatch), "analyze", none, existing({"analyze"}));
  CHECK(names(with_name) == std::set<std::string>{"process_000", "aggregate"});
  CHECK(with_name.steps[0].initialization["is_no_op"] == true);
  std::string unnamed = kBatch;
  unnamed.replace(unnamed.find(", initialization: {worker_template_name: process}"),
                  std::string(", initialization: {worker_template_name: process}").size(), "");
  CHECK(tasker::plan_batches(load(unnamed), "analyze", none, existing({"analyze"})).steps.empty());
}

TEST_CASE("dynamic: an invalid batch outcome names the problem") {
  auto t = load(kBatch);
  auto plan = [&](const json& outcome) {
    return error_type_of([&] { (void)tasker::plan_batches(t, "analyze", outcome, existing({"analyze"})); });
  };
  auto batches = [](json fields) {
    fields["type"] = "create_batches";
    return json{{"batch_processing_outcome", fields}};
  };
  CHECK(contains(plan(json::object()), "invalid_batch_outcome"));
  CHECK(contains(plan(batches({{"worker_template_name", "aggregate"}, {"cursor_configs", json::array()}})),
                 "not a batch_worker step"));
  CHECK(contains(plan(batches({{"worker_template_name", "process"}})), "no `cursor_configs`"));
  CHECK(contains(plan(batches({{"worker_template_name", "process"},
                               {"cursor_configs", {{{"batch_id", "1"}}, {{"batch_id", "1"}}}}})),
                 "batch_id `1` twice"));
  CHECK(contains(plan(batches({{"worker_template_name", "process"}, {"cursor_configs", {{{"start_cursor", 0}}}}})),
                 "no `batch_id`"));
}

TEST_CASE("dynamic: a template's definition round-trips through JSON") {
  auto t = load(kBatch);
  auto back = tasker::template_from_definition(tasker::template_definition(t));
  REQUIRE(back.steps.size() == 3);
  CHECK(back.qualified_name() == t.qualified_name());
  CHECK(back.steps[1].type == StepType::batch_worker);
  REQUIRE(back.steps[1].batch_config);
  CHECK(back.steps[1].batch_config->parallelism == 2);
  CHECK(back.steps[1].batch_config->failure_strategy == tasker::FailureStrategy::fail_fast);
  CHECK(back.steps[2].dependencies == std::vector<std::string>{"process"});
  CHECK(back.steps[0].handler.initialization == t.steps[0].handler.initialization);
}
