#pragma once
// Cron expressions and the instants they name in a time zone (docs/schedules.md).
// Five fields (minute hour day-of-month month day-of-week) or six (second
// first); each a `*`, a value, a range `a-b`, a step `*/n` or `a-b/n` or `a/n`,
// or a comma-separated list of those; months JAN-DEC and days SUN-SAT by name
// (any case), day-of-week 0-7 with both 0 and 7 Sunday, `?` as `*` in the two
// day fields, and the shorthands @yearly @annually @monthly @weekly @daily
// @midnight @hourly. When both day fields are restricted a day matches when
// either does (the usual cron rule). Times are civil times in an IANA zone
// read from the system's time-zone database (tzdata): a civil time that does
// not exist (skipped by a daylight-saving change) fires once, at the end of
// the gap; a civil time that occurs twice fires once, at its first occurrence.
#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "tasker/clock.hpp"

namespace tasker {

/// The longest expression parse() reads.
inline constexpr std::size_t kMaxCronExpressionLength = 256;

/// A parsed cron expression: immutable, cheap to copy, thread-safe.
class CronExpression {
 public:
  /// Throws InvalidRequestError naming the field and the text at fault, for
  /// an expression of neither 5 nor 6 fields, a value out of its field's range,
  /// an unknown name, a step of 0, a reversed range, a day that never occurs
  /// in the months chosen (`0 0 30 2 *`), or text longer than kMaxCronExpressionLength.
  [[nodiscard]] static CronExpression parse(std::string_view text);

  /// The first instant strictly after `after` that the expression names in
  /// `time_zone` (an IANA name such as Europe/Berlin, or UTC), or nullopt when
  /// there is none within the next 8 years. Throws InvalidRequestError for an
  /// unknown zone (check_time_zone).
  [[nodiscard]] std::optional<TimePoint> next_after(TimePoint after, std::string_view time_zone) const;

  /// The text as given (trimmed).
  [[nodiscard]] const std::string& text() const { return text_; }
  /// True for six fields (a seconds field first).
  [[nodiscard]] bool has_seconds() const { return has_seconds_; }

 private:
  CronExpression() = default;
  [[nodiscard]] bool day_matches(int day_of_month, int month, int weekday) const;

  std::string text_;
  bool has_seconds_{false};
  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  ///< 1..31
  std::bitset<13> months_;         ///< 1..12
  std::bitset<7> days_of_week_;    ///< 0..6, Sunday 0
  bool any_day_of_month_{true};    ///< `*` or `?`: the OR rule applies only when both day fields are restricted
  bool any_day_of_week_{true};
};

/// Throws InvalidRequestError when `name` is not a zone of the system's
/// time-zone database (naming it, with a close match when there is one).
void check_time_zone(std::string_view name);

}  // namespace tasker
