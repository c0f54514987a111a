// Retry semantics of docs/design.md: delays, cap, jitter, and the single decision rule.
#include <doctest/doctest.h>

#include <chrono>
#include <climits>
#include <vector>

#include "tasker/retry.hpp"

using std::chrono::milliseconds;
using tasker::BackoffKind;
using tasker::RetryPolicy;

namespace {

RetryPolicy policy(BackoffKind kind, std::int64_t base = 1000, std::int64_t cap = 1'000'000) {
  RetryPolicy p;
  p.backoff = kind;
  p.backoff_base_ms = base;
  p.max_backoff_ms = cap;
  return p;
}

std::vector<long long> delays(const RetryPolicy& p, int up_to = 6) {
  std::vector<long long> out;
  for (int n = 1; n <= up_to; ++n) out.push_back(p.delay_before_retry(n).count());
  return out;
}

using Ms = std::vector<long long>;

}  // namespace

TEST_CASE("retry: defaults are 3 attempts, exponential, 1000 ms base, 30000 ms cap") {
  RetryPolicy p;
  CHECK(p.retryable);
  CHECK(p.max_attempts == 3);
  CHECK(p.backoff == BackoffKind::exponential);
  CHECK(p.backoff_base_ms == 1000);
  CHECK(p.max_backoff_ms == 30000);
}

TEST_CASE("retry: delay before retry n for each backoff kind") {
  CHECK(delays(policy(BackoffKind::none)) == Ms{0, 0, 0, 0, 0, 0});
  CHECK(delays(policy(BackoffKind::linear)) == Ms{1000, 2000, 3000, 4000, 5000, 6000});
  CHECK(delays(policy(BackoffKind::exponential)) == Ms{1000, 2000, 4000, 8000, 16000, 32000});
  CHECK(delays(policy(BackoffKind::fibonacci)) == Ms{1000, 1000, 2000, 3000, 5000, 8000});
  CHECK(delays(policy(BackoffKind::linear, 250)) == Ms{250, 500, 750, 1000, 1250, 1500});
  CHECK(delays(policy(BackoffKind::exponential, 100)) == Ms{100, 200, 400, 800, 1600, 3200});
  CHECK(delays(policy(BackoffKind::fibonacci, 10), 10) == Ms{10, 10, 20, 30, 50, 80, 130, 210, 340, 550});
}

TEST_CASE("retry: delays are capped at max_backoff_ms") {
  CHECK(delays(RetryPolicy{}) == Ms{1000, 2000, 4000, 8000, 16000, 30000});
  CHECK(delays(policy(BackoffKind::linear, 1000, 3500)) == Ms{1000, 2000, 3000, 3500, 3500, 3500});
  CHECK(delays(policy(BackoffKind::fibonacci, 1000, 2500)) == Ms{1000, 1000, 2000, 2500, 2500, 2500});
  CHECK(delays(policy(BackoffKind::exponential, 1000, 0)) == Ms{0, 0, 0, 0, 0, 0});
  CHECK(policy(BackoffKind::none, 1000, 0).delay_before_retry(3).count() == 0);
}

TEST_CASE("retry: huge retry numbers do not overflow") {
  const int huge[] = {63, 64, 100, 1000, 100000, INT_MAX};
  for (int n : huge) {
    CAPTURE(n);
    CHECK(RetryPolicy{}.delay_before_retry(n).count() == 30000);
    CHECK(policy(BackoffKind::linear, 1000, 30000).delay_before_retry(n).count() == 30000);
    CHECK(policy(BackoffKind::fibonacci, 1000, 30000).delay_before_retry(n).count() == 30000);
    CHECK(policy(BackoffKind::none, 1000, 30000).delay_before_retry(n).count() == 0);
    // The largest cap the loader allows, and a large base.
    auto big = policy(BackoffKind::exponential, tasker::kMaxBackoffLimitMs, tasker::kMaxBackoffLimitMs);
    CHECK(big.delay_before_retry(n).count() == tasker::kMaxBackoffLimitMs);
  }
}

TEST_CASE("retry: n below 1 is treated as the first retry") {
  CHECK(RetryPolicy{}.delay_before_retry(0).count() == 1000);
  CHECK(RetryPolicy{}.delay_before_retry(-5).count() == 1000);
}

TEST_CASE("retry: jitter keeps a delay within [delay/2, delay]") {
  for (long long d : {0LL, 1LL, 2LL, 999LL, 1000LL, 1001LL, 30000LL}) {
    for (double unit : {0.0, 0.001, 0.25, 0.5, 0.75, 0.999, 0.9999999}) {
      CAPTURE(d);
      CAPTURE(unit);
      auto j = tasker::apply_jitter(milliseconds{d}, unit).count();
      CHECK(2 * j >= d);
      CHECK(j <= d);
    }
  }
  // The ends of the range are reached.
  CHECK(tasker::apply_jitter(milliseconds{1000}, 0.0).count() == 500);
  CHECK(tasker::apply_jitter(milliseconds{1000}, 0.999).count() == 999);
  // Out-of-range units are clamped, never leave the range.
  CHECK(tasker::apply_jitter(milliseconds{1000}, -3.0).count() == 500);
  CHECK(tasker::apply_jitter(milliseconds{1000}, 7.0).count() == 1000);
  // Larger units never give shorter delays.
  CHECK(tasker::apply_jitter(milliseconds{1000}, 0.2) <= tasker::apply_jitter(milliseconds{1000}, 0.8));
}

TEST_CASE("retry: decide_after_failure") {
  const RetryPolicy p;  // 3 attempts, exponential 1000 ms

  SUBCASE("a retryable error within the policy is retried with the policy's delay") {
    auto first = tasker::decide_after_failure(p, 1, true, std::nullopt, std::nullopt);
    CHECK(first.retry);
    CHECK(first.delay == milliseconds{1000});
    auto second = tasker::decide_after_failure(p, 2, true, std::nullopt, std::nullopt);
    CHECK(second.retry);
    CHECK(second.delay == milliseconds{2000});
  }
  SUBCASE("a non-retryable error is not retried") {
    auto d = tasker::decide_after_failure(p, 1, false, std::nullopt, std::nullopt);
    CHECK_FALSE(d.retry);
    auto with_after = tasker::decide_after_failure(p, 1, false, milliseconds{5}, 0.5);
    CHECK_FALSE(with_after.retry);
  }
  SUBCASE("a policy with retryable false is not retried") {
    RetryPolicy no = p;
    no.retryable = false;
    CHECK_FALSE(tasker::decide_after_failure(no, 1, true, std::nullopt, std::nullopt).retry);
    CHECK_FALSE(tasker::decide_after_failure(no, 1, true, milliseconds{10}, std::nullopt).retry);
    CHECK_FALSE(no.allows_retry_after(1));
  }
  SUBCASE("attempts == max_attempts is not retried") {
    CHECK_FALSE(tasker::decide_after_failure(p, 3, true, std::nullopt, std::nullopt).retry);
    CHECK_FALSE(tasker::decide_after_failure(p, 4, true, std::nullopt, std::nullopt).retry);
    CHECK_FALSE(tasker::decide_after_failure(p, 3, true, milliseconds{10}, std::nullopt).retry);
    CHECK(p.allows_retry_after(2));
    CHECK_FALSE(p.allows_retry_after(3));
  }
  SUBCASE("max_attempts 0 and 1 allow no retry after the first attempt") {
    for (int max : {0, 1}) {
      CAPTURE(max);
      RetryPolicy once = p;
      once.max_attempts = max;
      CHECK_FALSE(tasker::decide_after_failure(once, 1, true, std::nullopt, std::nullopt).retry);
      CHECK_FALSE(tasker::decide_after_failure(once, 1, true, milliseconds{1}, 0.5).retry);
    }
  }
  SUBCASE("retry_after wins over the policy delay and is not jittered") {
    auto d = tasker::decide_after_failure(p, 1, true, milliseconds{7000}, 0.0);
    CHECK(d.retry);
    CHECK(d.delay == milliseconds{7000});
    // Even above the cap, and for later attempts.
    auto above = tasker::decide_after_failure(p, 2, true, milliseconds{45000}, 0.3);
    CHECK(above.retry);
    CHECK(above.delay == milliseconds{45000});
    auto zero = tasker::decide_after_failure(p, 1, true, milliseconds{0}, 0.0);
    CHECK(zero.retry);
    CHECK(zero.delay == milliseconds{0});
  }
  SUBCASE("jitter applies to the policy delay") {
    auto d = tasker::decide_after_failure(p, 2, true, std::nullopt, 0.0);
    CHECK(d.retry);
    CHECK(d.delay == milliseconds{1000});  // half of 2000
    auto top = tasker::decide_after_failure(p, 2, true, std::nullopt, 0.9999);
    CHECK(top.delay >= milliseconds{1999});
    CHECK(top.delay <= milliseconds{2000});
  }
  SUBCASE("the retry number is the number of attempts so far") {
    RetryPolicy many = policy(BackoffKind::linear, 100, 1'000'000);
    many.max_attempts = 10;
    for (int attempts = 1; attempts < 10; ++attempts) {
      CAPTURE(attempts);
      auto d = tasker::decide_after_failure(many, attempts, true, std::nullopt, std::nullopt);
      CHECK(d.retry);
      CHECK(d.delay == milliseconds{100 * attempts});
    }
    CHECK_FALSE(tasker::decide_after_failure(many, 10, true, std::nullopt, std::nullopt).retry);
  }
}

TEST_CASE("retry: backoff kind names round-trip") {
  for (auto kind : {BackoffKind::none, BackoffKind::linear, BackoffKind::exponential, BackoffKind::fibonacci}) {
    CAPTURE(tasker::to_string(kind));
    CHECK(tasker::parse_backoff_kind(tasker::to_string(kind)) == kind);
  }
  CHECK(tasker::to_string(BackoffKind::exponential) == "exponential");
  CHECK_FALSE(tasker::parse_backoff_kind("Exponential").has_value());
  CHECK_FALSE(tasker::parse_backoff_kind("").has_value());
}
