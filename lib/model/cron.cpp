// Cron expressions over civil time in an IANA zone. The zone arithmetic is
// Howard Hinnant's date library (Debian's libhowardhinnant-date-dev, built
// with USE_OS_TZDB: it reads /usr/share/zoneinfo from tzdata); this file only
// walks civil days and times and asks the zone how each maps to an instant.
#include "tasker/cron.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/errors.hpp"

namespace tasker {

namespace {

struct Field {
  const char* name;
  int low;
  int high;
  const std::array<std::string_view, 13>* names;  ///< index = value; nullptr: numbers only
};

constexpr std::array<std::string_view, 13> kMonthNames{"",    "jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 13> kDayNames{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr Field kSecond{"second", 0, 59, nullptr};
constexpr Field kMinute{"minute", 0, 59, nullptr};
constexpr Field kHour{"hour", 0, 23, nullptr};
constexpr Field kDayOfMonth{"day-of-month", 1, 31, nullptr};
constexpr Field kMonth{"month", 1, 12, &kMonthNames};
constexpr Field kDayOfWeek{"day-of-week", 0, 7, &kDayNames};  // 7 is Sunday too

[[noreturn]] void fail(std::string_view expression, const std::string& what) {
  throw InvalidRequestError(fmt::format("cron expression `{}`: {}", expression, what));
}

/// One number or name of `field`.
int value_of(std::string_view expression, const Field& field, std::string_view text, std::string_view item) {
  if (text.empty()) fail(expression, fmt::format("the {} field `{}` has an empty value", field.name, item));
  if (field.names && std::isalpha(static_cast<unsigned char>(text[0]))) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::size_t i = 0; i < field.names->size(); ++i)
      if (!(*field.names)[i].empty() && (*field.names)[i] == lower) return static_cast<int>(i);
    fail(expression, fmt::format("the {} field has an unknown name `{}` (use {})", field.name, text,
                                 field.names == &kMonthNames ? "JAN..DEC" : "SUN..SAT"));
  }
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size())
    fail(expression, fmt::format("the {} field `{}` has `{}`, which is not a number", field.name, item, text));
  if (v < field.low || v > field.high)
    fail(expression,
         fmt::format("the {} field `{}` has {}, outside {}..{}", field.name, item, v, field.low, field.high));
  return v;
}

/// Parses one field into the values it selects; `star` says whether it was `*` (or `?`).
std::vector<bool> parse_field(std::string_view expression, const Field& field, std::string_view text, bool& star) {
  std::vector<bool> selected(static_cast<std::size_t>(field.high) + 1, false);
  star = text == "*" || (text == "?" && (&field == &kDayOfMonth || &field == &kDayOfWeek));
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (item.empty()) fail(expression, fmt::format("the {} field `{}` has an empty list item", field.name, text));
    std::string_view range = item;
    int step = 1;
    if (const auto slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (ec != std::errc{} || end != step_text.data() + step_text.size() || step < 1 ||
          step > field.high - field.low + 1)
        fail(expression, fmt::format("the {} field `{}` has step `{}`; a step is a whole number in 1..{}", field.name,
                                     item, step_text, field.high - field.low + 1));
    }
    int low = field.low;
    int high = field.high;
    if (range != "*" && !(range == "?" && star)) {
      const auto dash = range.find('-');
      low = value_of(expression, field, range.substr(0, dash), item);
      if (dash != std::string_view::npos) {
        high = value_of(expression, field, range.substr(dash + 1), item);
        if (high < low)
          fail(expression,
               fmt::format("the {} field `{}` is a reversed range (write {}-{})", field.name, item, high, low));
      } else if (item.find('/') == std::string_view::npos) {
        high = low;  // `a/n` runs from a to the field's end
      }
    }
    for (int v = low; v <= high; v += step) selected[static_cast<std::size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return selected;
}

template <std::size_t N>
std::bitset<N> to_bits(const std::vector<bool>& selected, int offset = 0) {
  std::bitset<N> bits;
  for (std::size_t v = 0; v < selected.size(); ++v)
    if (selected[v]) bits.set((v + static_cast<std::size_t>(offset)) % N);
  return bits;
}

std::string_view shorthand(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kShorthands{{
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  }};
  for (const auto& [name, fields] : kShorthands)
    if (name == text) return fields;
  return {};
}

const date::time_zone* zone_of(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::runtime_error&) {
    std::vector<std::string> names;
    for (const auto& z : date::get_tzdb().zones) names.emplace_back(z.name());
    const std::string suggestion = closest_match(std::string(name), names);
    throw InvalidRequestError(fmt::format(
        "`{}` is not a time zone of the system's time-zone database (/usr/share/zoneinfo, package tzdata){}", name,
        suggestion.empty() ? "; use an IANA name such as UTC or Europe/Berlin"
                           : fmt::format(" (did you mean `{}`?)", suggestion)));
  }
}

}  // namespace

CronExpression CronExpression::parse(std::string_view text) {
  if (text.size() > kMaxCronExpressionLength)
    throw InvalidRequestError(fmt::format("a cron expression is {} characters here, more than the {} allowed",
                                          text.size(), kMaxCronExpressionLength));
  const auto first = text.find_first_not_of(" \t");
  const auto last = text.find_last_not_of(" \t");
  const std::string_view trimmed = first == text.npos ? std::string_view{} : text.substr(first, last - first + 1);
  CronExpression e;
  e.text_ = std::string(trimmed);
  std::string_view fields_text = trimmed;
  if (!trimmed.empty() && trimmed[0] == '@') {
    fields_text = shorthand(trimmed);
    if (fields_text.empty())
      fail(trimmed, "unknown shorthand (there are @yearly @annually @monthly @weekly @daily @midnight @hourly)");
  }
  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < fields_text.size();) {
    if (fields_text[i] == ' ' || fields_text[i] == '\t') {
      ++i;
      continue;
    }
    const std::size_t end = std::min(fields_text.find_first_of(" \t", i), fields_text.size());
    fields.push_back(fields_text.substr(i, end - i));
    i = end;
  }
  if (fields.size() != 5 && fields.size() != 6)
    fail(trimmed, fmt::format("has {} fields; write 5 (minute hour day-of-month month day-of-week) or 6 (a second "
                              "first), e.g. `*/5 * * * *`",
                              fields.size()));
  e.has_seconds_ = fields.size() == 6;
  std::size_t i = 0;
  bool star = false;
  e.seconds_ = e.has_seconds_ ? to_bits<60>(parse_field(trimmed, kSecond, fields[i++], star)) : std::bitset<60>{1};
  e.minutes_ = to_bits<60>(parse_field(trimmed, kMinute, fields[i++], star));
  e.hours_ = to_bits<24>(parse_field(trimmed, kHour, fields[i++], star));
  e.days_of_month_ = to_bits<32>(parse_field(trimmed, kDayOfMonth, fields[i++], e.any_day_of_month_));
  e.months_ = to_bits<13>(parse_field(trimmed, kMonth, fields[i++], star));
  e.days_of_week_ = to_bits<7>(parse_field(trimmed, kDayOfWeek, fields[i++], e.any_day_of_week_));
  if (e.any_day_of_week_) {
    // With the day of week unrestricted a day of month must occur in a chosen
    // month (with both restricted either may match: cron's OR rule).
    static constexpr std::array<int, 13> kLongest{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m)
      for (int d = 1; d <= kLongest[static_cast<std::size_t>(m)] && !possible; ++d)
        possible = e.months_[static_cast<std::size_t>(m)] && e.days_of_month_[static_cast<std::size_t>(d)];
    if (!possible) fail(trimmed, "names a day of the month that never occurs in its months");
  }
  return e;
}

bool CronExpression::day_matches(int day_of_month, int month, int weekday) const {
  if (!months_[static_cast<std::size_t>(month)]) return false;
  const bool dom = days_of_month_[static_cast<std::size_t>(day_of_month)];
  const bool dow = days_of_week_[static_cast<std::size_t>(weekday)];
  if (!any_day_of_month_ && !any_day_of_week_) return dom || dow;
  return dom && dow;
}

std::optional<TimePoint> CronExpression::next_after(TimePoint after, std::string_view time_zone) const {
  using std::chrono::seconds;
  const date::time_zone* zone = zone_of(time_zone);
  const auto after_s = std::chrono::floor<seconds>(after);
  const auto start = zone->to_local(after_s);  // the civil time at `after`, whole seconds
  const auto start_day = date::floor<date::days>(start);
  const seconds start_in_day = start - start_day;
  constexpr int kDaysSearched = 8 * 366;  // Feb 29 recurs within 8 years (2096 to 2104)
  for (int d = 0; d < kDaysSearched; ++d) {
    const date::local_days day = start_day + date::days{d};
    const date::year_month_day ymd{day};
    const int weekday = static_cast<int>(date::weekday{day}.c_encoding());
    if (!day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())),
                     static_cast<int>(static_cast<unsigned>(ymd.month())), weekday))
      continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_[static_cast<std::size_t>(h)]) continue;
      if (d == 0 && seconds{(h + 1) * 3600} <= start_in_day) continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_[static_cast<std::size_t>(m)]) continue;
        if (d == 0 && seconds{h * 3600 + (m + 1) * 60} <= start_in_day) continue;
        for (int s = 0; s < 60; ++s) {
          if (!seconds_[static_cast<std::size_t>(s)]) continue;
          const seconds in_day{h * 3600 + m * 60 + s};
          if (d == 0 && in_day <= start_in_day) continue;
          const auto local = day + in_day;
          const date::local_info info = zone->get_info(local);
          // A civil time in a gap fires at the gap's end (the first instant after
          // it); one that occurs twice, at its first occurrence only.
          const auto instant = info.result == date::local_info::nonexistent
                                   ? info.first.end
                                   : zone->to_sys(local, date::choose::earliest);
          if (instant > after_s) return std::chrono::time_point_cast<std::chrono::milliseconds>(instant);
        }
      }
    }
  }
  return std::nullopt;
}

void check_time_zone(std::string_view name) { (void)zone_of(name); }

}  // namespace tasker
