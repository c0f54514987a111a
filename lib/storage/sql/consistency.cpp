#include "storage/sql/consistency.hpp"

#include <fmt/format.h>

#include "model/state_machine.hpp"
#include "storage/sql/state_sql.hpp"

namespace tasker::detail::sql {

namespace {

/// Column of tasker_tasks that keeps counter `c`.
std::string counter_column(TaskCounter c) { return fmt::format("{}_steps", to_string(c)); }

std::string counters_query() {
  std::string recounted = "COUNT(s.id) AS total";
  std::string differs = "t.total_steps <> COUNT(s.id)";
  std::string stored = "t.total_steps";
  for (TaskCounter c : kTaskCounters) {
    const std::string count = fmt::format("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", in_states("s.state", counted_in(c)));
    recounted += fmt::format(", COALESCE({}, 0)", count);
    differs += fmt::format(" OR t.{} <> COALESCE({}, 0)", counter_column(c), count);
    stored += fmt::format(", t.{}", counter_column(c));
  }
  return fmt::format(
      "SELECT t.uuid, {}, {} FROM tasker_tasks t LEFT JOIN tasker_steps s ON s.task_id = t.id "
      "GROUP BY t.id, t.uuid, {} HAVING {} ORDER BY t.id",
      stored, recounted, stored, differs);
}

/// Steps whose `column` is set where their state is not in `set`, or (when
/// `always`) unset where it is.
std::string column_query(const char* column, StepStates set, bool always = true) {
  const std::string in = in_states("s.state", set);
  return fmt::format(
      "SELECT t.uuid, s.name, s.state FROM tasker_steps s JOIN tasker_tasks t ON t.id = s.task_id "
      "WHERE (s.{0} IS NOT NULL AND NOT ({1})) OR (s.{0} IS NULL AND {1} AND {2}) ORDER BY s.id",
      column, in, always ? "1 = 1" : "1 = 0");
}

}  // namespace

std::vector<std::string> consistency_violations(Connection& c) {
  std::vector<std::string> out;
  static const std::string counters = counters_query();
  Rows r = c.query(counters);
  const std::size_t n = kTaskCounters.size() + 1;
  for (std::size_t i = 0; i < r.size(); ++i) {
    std::string line = fmt::format("task {}: counters (total", r.text(i, 0));
    for (TaskCounter k : kTaskCounters) line += fmt::format(", {}", to_string(k));
    line += ") are";
    for (std::size_t k = 0; k < n; ++k) line += fmt::format(" {}", r.integer(i, 1 + k));
    line += " but its steps count";
    for (std::size_t k = 0; k < n; ++k) line += fmt::format(" {}", r.integer(i, 1 + n + k));
    out.push_back(std::move(line));
  }
  static const std::string claimable = column_query("claimable_at", step_sets::kClaimable);
  static const std::string leased = column_query("lease_expires_at", step_sets::kHoldsWorker);
  static const std::string wakes = column_query("wake_at", step_sets::kWaits, /*always=*/false);
  for (const auto& [sql, what] : {std::pair{&claimable, "claimable_at is set exactly while a step is claimable"},
                                  std::pair{&leased, "lease_expires_at is set exactly while a worker holds the step"},
                                  std::pair{&wakes, "wake_at is set only while a step waits"}}) {
    Rows s = c.query(*sql);
    for (std::size_t i = 0; i < s.size(); ++i)
      out.push_back(fmt::format("task {}: step `{}` is {}, against the rule: {}", s.text(i, 0), s.text(i, 1),
                                s.text(i, 2), what));
  }
  return out;
}

}  // namespace tasker::detail::sql
