// Public names kept, deprecated, after a rename or a move (CHANGELOG.md): they
// still compile and still do what they did. This file alone is compiled with
// -Wno-deprecated-declarations (tests/CMakeLists.txt); the test "compat:
// deprecated names warn" checks that a program naming them is warned.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>

#include "helpers.hpp"
#include "storage/store_jitter.hpp"
#include "tasker/client.hpp"
#include "tasker/config.hpp"
#include "tasker/store.hpp"

using namespace tasker;
using std::chrono::milliseconds;

namespace {

/// One step that may be retried, 1 s before its second attempt (no cap in the way).
std::shared_ptr<TemplateSet> one_retryable_step() {
  LoadResult loaded = load_templates_from_string(
      "name: retried\nnamespace_name: unit\nversion: 1.0.0\nsteps:\n"
      "  - name: flaky\n    handler: {callable: unit.flaky}\n"
      "    retry: {max_attempts: 3, backoff: exponential, backoff_base_ms: 1000}\n",
      "retried.yaml", test::env("test"));
  REQUIRE_MESSAGE(loaded.ok(), test::dump(loaded));
  auto set = std::make_shared<TemplateSet>();
  set->add_all(loaded);
  return set;
}

/// How long after a failure the store schedules the next attempt when the
/// worker asks for the smallest jitter (unit 0: half the policy's delay).
milliseconds retry_delay_with_jitter_asked(const StoreOptions& options) {
  auto store = open_store("sqlite::memory:", options);
  Client client(store, one_retryable_step());
  TaskRequest request;
  request.namespace_name = "unit";
  request.name = "retried";
  const TaskView task = client.submit(request);
  const TimePoint now = SystemClock::instance().now();  // after the submit: the step is due
  ClaimRequest claim;
  claim.worker_id = "w";
  claim.filter.callables = {"unit.flaky"};
  auto claimed = store->exchange({}, &claim, now).claimed;
  REQUIRE(claimed.size() == 1);
  StepOutcome failed;
  failed.step_id = claimed[0].step_id;
  failed.claim_token = claimed[0].claim_token;
  failed.kind = StepOutcome::Kind::failure;
  failed.failure = {"boom", "retryable_error", true, json::object()};
  failed.jitter_unit = 0.0;
  (void)store->exchange({failed}, nullptr, now);
  const StepView step = client.get_step(task.uuid, "flaky");
  REQUIRE(step.next_retry_at);
  return std::chrono::duration_cast<milliseconds>(*step.next_retry_at - now);
}

}  // namespace

TEST_CASE(
    "deprecated StoreOptions::jitter: false keeps a store's retry delays free of jitter, true leaves it to the "
    "worker") {
  CHECK(StoreOptions{}.jitter);
  CHECK(retry_delay_with_jitter_asked(StoreOptions{}) == milliseconds{500});
  StoreOptions without_jitter;
  without_jitter.jitter = false;
  CHECK(retry_delay_with_jitter_asked(without_jitter) == milliseconds{1000});

  // Reclaims of expired leases, the store's other jittered delay, lose it the same way.
  ClaimRequest claim;
  claim.reclaim_expired = true;
  StepOutcome outcome;
  outcome.jitter_unit = 0.25;
  const detail::Unjittered plain({outcome}, &claim);
  CHECK_FALSE(plain.outcomes().at(0).jitter_unit);
  REQUIRE(plain.claim());
  CHECK_FALSE(plain.claim()->jitter);
  CHECK(plain.claim()->reclaim_expired);
  CHECK(detail::Unjittered({}, nullptr).claim() == nullptr);
}

TEST_CASE("deprecated StoreOptions::from(Config): Config::store_options(), with jitter from worker.jitter") {
  const Config config =
      Config::from_yaml("database:\n  pool_size: 7\nevent_system:\n  mode: polling_only\n", "c.yaml", "test");
  const StoreOptions options = StoreOptions::from(config);
  const StoreOptions current = config.store_options();
  CHECK(options.pool_size == 7);
  CHECK(options.pool_size == current.pool_size);
  CHECK(options.busy_timeout_ms == current.busy_timeout_ms);
  CHECK_FALSE(options.listen);  // polling_only needs no LISTEN connection
  CHECK(options.listen == current.listen);
  CHECK(options.migrate == current.migrate);
  CHECK(options.create_if_missing == current.create_if_missing);
  CHECK_FALSE(options.jitter);  // worker.jitter is off in the test environment
  CHECK(StoreOptions::from(Config::from_yaml("", "c.yaml", "production")).jitter);
}
