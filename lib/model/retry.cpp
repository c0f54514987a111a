#include "tasker/retry.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

namespace tasker {

std::string_view to_string(BackoffKind kind) {
  switch (kind) {
    case BackoffKind::none: return "none";
    case BackoffKind::linear: return "linear";
    case BackoffKind::exponential: return "exponential";
    case BackoffKind::fibonacci: return "fibonacci";
  }
  return "unknown";
}

std::optional<BackoffKind> parse_backoff_kind(std::string_view name) {
  for (auto kind : {BackoffKind::none, BackoffKind::linear, BackoffKind::exponential, BackoffKind::fibonacci})
    if (to_string(kind) == name) return kind;
  return std::nullopt;
}

std::chrono::milliseconds RetryPolicy::delay_before_retry(int n) const {
  n = std::max(n, 1);
  // Computed in long double: exponents past ~60 would overflow an integer
  // long before the cap applies.
  long double base = static_cast<long double>(std::max<std::int64_t>(backoff_base_ms, 0));
  long double delay = 0;
  switch (backoff) {
    case BackoffKind::none: delay = 0; break;
    case BackoffKind::linear: delay = base * n; break;
    case BackoffKind::exponential: delay = base * std::pow(2.0L, std::min(n - 1, 1000)); break;
    case BackoffKind::fibonacci: {
      long double previous = 0, current = 1;  // fib(1) = 1, fib(2) = 1, fib(3) = 2, ...
      for (int i = 1; i < n && current < 1e30L; ++i) current = std::exchange(previous, current) + current;
      delay = base * current;
      break;
    }
  }
  long double cap = static_cast<long double>(std::max<std::int64_t>(max_backoff_ms, 0));
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::min(delay, cap))};
}

std::chrono::milliseconds apply_jitter(std::chrono::milliseconds delay, double unit) {
  unit = std::clamp(unit, 0.0, 1.0);
  auto half = delay.count() / 2;
  return std::chrono::milliseconds{delay.count() - half + static_cast<std::int64_t>(std::floor(half * unit))};
}

RetryDecision decide_after_failure(const RetryPolicy& policy, int attempts, bool error_retryable,
                                   std::optional<std::chrono::milliseconds> retry_after,
                                   std::optional<double> jitter_unit) {
  if (!error_retryable || !policy.allows_retry_after(attempts)) return {};
  // A handler's value is clamped like a template's: time arithmetic on an unbounded one would overflow.
  if (retry_after)
    return {true,
            std::clamp(*retry_after, std::chrono::milliseconds{0}, std::chrono::milliseconds{kMaxBackoffLimitMs})};
  auto delay = policy.delay_before_retry(attempts);  // retry number n == attempts so far
  if (jitter_unit) delay = apply_jitter(delay, *jitter_unit);
  return {true, delay};
}

double random_jitter_unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace tasker
