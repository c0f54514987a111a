#pragma once
// The Store contract's fixture: a harness on a ManualClock, and shorthands for
// driving the Store directly (claims, outcomes). Shared by the contract's files.
#include "e2e.hpp"  // the harness set-up the e2e suite uses
#include "tasker/clock.hpp"

namespace store_test {
using namespace e2e;
using std::chrono::milliseconds;
using tasker::ClaimRequest;
using tasker::StepOutcome;

struct Fixture {
  tasker::ManualClock clock;
  std::unique_ptr<Harness> h;
  std::shared_ptr<tasker::Store> store;

  Fixture() : Fixture(tasker::ManualClock{}.now()) {}
  explicit Fixture(tasker::TimePoint start) : clock(start) {
    tasker::testing::HarnessOptions options;
    options.clock = &clock;
    h = make_harness(false, options);
    store = h->store();
  }
  // After every test: the counters and the claim's columns agree with the steps' states.
  ~Fixture() {
    const auto violations = store->check_consistency();
    for (const auto& v : violations) FAIL_CHECK(v);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  ClaimRequest claim(std::vector<std::string> callables, int limit = 10, milliseconds lease = milliseconds{1000},
                     std::string worker = "w1") {
    ClaimRequest r;
    r.worker_id = std::move(worker);
    r.filter.callables = std::move(callables);
    r.limit = limit;
    r.lease = lease;
    return r;
  }

  std::vector<tasker::ClaimedStep> claim_now(const ClaimRequest& r) {
    return store->exchange({}, &r, clock.now()).claimed;
  }

  tasker::ExchangeResult report(const tasker::ClaimedStep& s, StepOutcome::Kind kind, tasker::json result = nullptr,
                                bool retryable = true, std::optional<milliseconds> retry_after = std::nullopt) {
    StepOutcome o;
    o.step_id = s.step_id;
    o.claim_token = s.claim_token;
    o.kind = kind;
    o.result = std::move(result);
    o.failure = {"boom", retryable ? "retryable_error" : "permanent_error", retryable, tasker::json::object()};
    o.retry_after = retry_after;
    return store->exchange({o}, nullptr, clock.now());
  }
};

}  // namespace store_test
