#pragma once
// The task-state rule as SQL (state_sql.hpp's task_state_case, which the
// server functions are written with) against the rule in C++
// (model/state_machine.hpp's decide_task_state), on a real database: every
// combination of a task's previous state, whether it started, and counters in
// 0..2, as one query. Shared by the unit suite (SQLite) and the differential
// test (PostgreSQL).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "model/state_machine.hpp"
#include "storage/sql/connection.hpp"
#include "storage/sql/state_sql.hpp"

namespace tasker::test {

/// How many combinations were compared; fails the test at the first that differs.
inline std::size_t check_task_state_rule(detail::sql::Connection& c) {
  using detail::TaskCounters;
  std::vector<detail::TaskFacts> facts;
  std::string values;
  for (TaskState state : task_states())
    for (bool started : {false, true})
      for (int total = 0; total <= 2; ++total)
        for (int completed = 0; completed <= 2; ++completed)
          for (int resolved = 0; resolved <= 2; ++resolved)
            for (int failed = 0; failed <= 2; ++failed)
              for (int active = 0; active <= 2; ++active) {
                values += fmt::format("{}({}, '{}', {}, {}, {}, {}, {}, {})", values.empty() ? "" : ", ", facts.size(),
                                      to_string(state), started ? "TRUE" : "FALSE", total, completed, resolved, failed,
                                      active);
                facts.push_back({state, started, TaskCounters{total, completed, resolved, failed, active}});
              }
  const detail::sql::TaskFactsSql f{"f.state",    "f.started", "f.total", "f.completed",
                                    "f.resolved", "f.failed",  "f.active"};
  const std::string sql = fmt::format(
      "WITH f(n, state, started, total, completed, resolved, failed, active) AS (VALUES {}) "
      "SELECT f.n, {}, {} FROM f ORDER BY f.n",
      values, detail::sql::task_state_case(f), detail::sql::task_reason_case(f));
  const detail::sql::Rows rows = c.query(sql);
  REQUIRE(rows.size() == facts.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const detail::TaskFacts& x = facts[static_cast<std::size_t>(rows.integer(i, 0))];
    const detail::TaskStateRule& rule = detail::decide_task_state(x);
    INFO("state ", to_string(x.state), " started ", x.started, " total ", x.counters.total, " completed ",
         x.counters.completed, " resolved ", x.counters.resolved, " failed ", x.counters.failed, " active ",
         x.counters.active);
    REQUIRE(rows.text(i, 1) == to_string(rule.then));
    REQUIRE(rows.text(i, 2) == rule.reason);
  }
  return rows.size();
}

}  // namespace tasker::test
