#pragma once
// Retry semantics of docs/design.md, in one place. The template's retry block is
// the single source of backoff constants: nothing else defines delays.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tasker {

enum class BackoffKind { none, linear, exponential, fibonacci };

[[nodiscard]] std::string_view to_string(BackoffKind kind);
[[nodiscard]] std::optional<BackoffKind> parse_backoff_kind(std::string_view name);

/// A step's retry policy. `max_attempts` counts every execution including the
/// first; the first attempt always runs whatever the policy says.
struct RetryPolicy {
  bool retryable{true};
  int max_attempts{3};
  BackoffKind backoff{BackoffKind::exponential};
  std::int64_t backoff_base_ms{1000};
  std::int64_t max_backoff_ms{30000};

  /// Delay before retry `n` (n = 1 for the first retry), capped at max_backoff_ms,
  /// without jitter: none 0; linear base*n; exponential base*2^(n-1); fibonacci base*fib(n).
  [[nodiscard]] std::chrono::milliseconds delay_before_retry(int n) const;

  /// Whether a failed attempt number `attempts` (1-based) may be followed by another.
  [[nodiscard]] bool allows_retry_after(int attempts) const { return retryable && attempts < max_attempts; }

  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

/// The limits the loader enforces (an absurd value is almost always a typo).
inline constexpr int kMaxAttemptsLimit = 1000;
inline constexpr std::int64_t kMaxBackoffLimitMs = 7LL * 24 * 3600 * 1000;

/// "Equal jitter": keeps half of the delay and randomises the other half, so a
/// jittered delay is in [delay/2, delay] and never exceeds the cap. `unit` is a
/// uniform random number in [0, 1).
[[nodiscard]] std::chrono::milliseconds apply_jitter(std::chrono::milliseconds delay, double unit);
/// A uniform random number in [0, 1) for apply_jitter (thread-safe).
[[nodiscard]] double random_jitter_unit();

/// What happens after a failed attempt.
struct RetryDecision {
  bool retry{false};
  std::chrono::milliseconds delay{0};  ///< before the next attempt, when retry
};

/// The single decision rule: retried while the error is retryable, the policy
/// is retryable and attempts < max_attempts. A handler's retry_after wins over
/// the policy's delay (clamped to 0..kMaxBackoffLimitMs); jitter applies only to policy delays. `jitter_unit`
/// is nullopt when jitter is off.
[[nodiscard]] RetryDecision decide_after_failure(const RetryPolicy& policy, int attempts, bool error_retryable,
                                                 std::optional<std::chrono::milliseconds> retry_after,
                                                 std::optional<double> jitter_unit);

}  // namespace tasker
