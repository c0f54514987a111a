// The loader on dynamic step types: batch_config read and checked, and each
// structural mistake reported at file:line:col with the name at fault and a hint.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "tasker/loader.hpp"

using namespace tasker::test;
using tasker::Diagnostic;

namespace {
const std::string kHead = "name: t\nnamespace_name: ns\nversion: 1.0.0\nsteps:\n";

tasker::LoadResult load_steps(const std::string& steps) {
  return tasker::load_templates_from_string(kHead + steps, "t.yaml");
}

/// The one error of `steps`, checked to be at `line`:`column`.
Diagnostic error_at(const std::string& steps, int line, int column) {
  auto result = load_steps(steps);
  INFO(dump(result));
  auto errors = errors_of(result);
  REQUIRE(errors.size() == 1u);
  check_at(errors[0], line, column);
  return errors[0];
}

const char* kWorker =
    R"(  - {name: analyze, type: batchable, handler: {callable: b.a, initialization: {worker_template_name: process}}}
  - name: process
    type: batch_worker
    dependencies: [analyze]
    handler: {callable: b.p}
)";
}  // namespace

TEST_CASE("loader: batch_config is read with tasker-core's defaults") {
  auto result = load_steps(std::string(kWorker) + "    batch_config: {worker_template: process, parallelism: 3}\n");
  INFO(dump(result));
  REQUIRE(result.ok());
  const auto& worker = result.templates.at(0).steps.at(1);
  CHECK(worker.type == tasker::StepType::batch_worker);
  REQUIRE(worker.batch_config);
  CHECK(worker.batch_config->parallelism == 3);
  CHECK(worker.batch_config->batch_size == 1000);
  CHECK(worker.batch_config->cursor_field == "id");
  CHECK(worker.batch_config->failure_strategy == tasker::FailureStrategy::continue_on_failure);
}

TEST_CASE("loader: mistakes in dynamic steps are located and named") {
  SUBCASE("a decision without dependencies") {
    auto d = error_at("  - {name: route, type: decision, handler: {callable: d}}\n", 5, 12);
    CHECK(d.key == "route");
    CHECK(contains(d.message, "decision step `route` has no dependencies"));
    CHECK(contains(d.hint, "dependencies:"));
  }
  SUBCASE("a worker_template_name that names no batch_worker") {
    std::string steps = kWorker;
    steps.replace(steps.find("worker_template_name: process"), 29, "worker_template_name: proces");
    auto d = error_at(steps + "    batch_config: {worker_template: process}\n", 5, 102);
    CHECK(d.key == "analyze");
    CHECK(contains(d.message, "`worker_template_name: proces`"));
    CHECK(contains(d.hint, "did you mean `process`?"));
  }
  SUBCASE("a batch_worker without batch_config") {
    auto d = error_at(kWorker, 6, 11);
    CHECK(d.key == "process");
    CHECK(contains(d.message, "has no `batch_config`"));
    CHECK(contains(d.hint, "worker_template: process"));
  }
  SUBCASE("batch_config values out of range") {
    auto size =
        error_at(std::string(kWorker) + "    batch_config: {worker_template: process, batch_size: 0}\n", 10, 58);
    CHECK(contains(size.message, "outside 1..100000"));
    auto parallel =
        error_at(std::string(kWorker) + "    batch_config: {worker_template: process, parallelism: 1001}\n", 10, 59);
    CHECK(contains(parallel.message, "outside 1..1000"));
    auto strategy = error_at(
        std::string(kWorker) + "    batch_config: {worker_template: process, failure_strategy: retry}\n", 10, 64);
    CHECK(contains(strategy.message, "unknown failure_strategy `retry`"));
    CHECK(contains(strategy.hint, "fail_fast"));
  }
  SUBCASE("a batch_config.worker_template that names no batch_worker") {
    auto d = error_at(std::string(kWorker) + "    batch_config: {worker_template: analyze}\n", 10, 5);
    CHECK(contains(d.message, "`batch_config.worker_template: analyze`"));
  }
  SUBCASE("a deferred_convergence step nothing can ever create") {
    auto d = error_at(
        "  - {name: a, handler: {callable: h}}\n  - {name: join, type: deferred_convergence, dependencies: [a], "
        "handler: {callable: j}}\n",
        6, 12);
    CHECK(d.key == "join");
    CHECK(contains(d.message, "can never be created"));
    CHECK(contains(d.hint, "batch_worker"));
  }
}
