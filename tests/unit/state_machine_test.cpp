// The state machine written once (tasker/states.hpp, model/state_machine.hpp)
// and its SQL (storage/sql/state_sql.hpp): the moves keep the counters equal
// to a recount of the steps' states, the task-state rule means what
// docs/design.md says, the SQL rendering of the rule agrees with the C++ one
// on a real SQLite database, and a typo in an SQL file's placeholder fails.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>

#include "model/state_machine.hpp"
#include "storage/backends.hpp"
#include "storage/sql/rows.hpp"
#include "storage/sql/schema.hpp"
#include "storage/sql/sql_files.hpp"
#include "storage/sql/state_sql.hpp"
#include "store/task_rule_table.hpp"

namespace {

using tasker::StepState;
using tasker::TaskState;
using tasker::detail::TaskCounter;
using tasker::detail::TaskCounters;
namespace sets = tasker::step_sets;

TaskCounters recount(const std::vector<StepState>& steps) {
  TaskCounters c;
  c.total = static_cast<int>(steps.size());
  for (StepState s : steps)
    for (TaskCounter k : tasker::detail::kTaskCounters)
      if (counted_in(k).contains(s)) c[k] += 1;
  return c;
}

}  // namespace

TEST_CASE("state machine: every state is in the named sets docs/design.md gives it") {
  CHECK(sets::kClaimable.members() == std::vector{StepState::enqueued, StepState::waiting_for_retry});
  CHECK(sets::kUnfinished == tasker::StepStates{StepState::pending, StepState::enqueued, StepState::in_progress,
                                                StepState::waiting_for_retry, StepState::waiting});
  // A waiting step is active (a failed sibling does not end its task) but neither claimable nor held.
  CHECK(sets::kActive.contains(StepState::waiting));
  CHECK_FALSE(sets::kClaimable.contains(StepState::waiting));
  CHECK_FALSE(sets::kHoldsWorker.contains(StepState::waiting));
  CHECK_FALSE(sets::kSatisfiesDependents.contains(StepState::waiting));
  for (StepState s : tasker::step_states()) {
    CAPTURE(tasker::to_string(s));
    CHECK(sets::kTerminal.contains(s) != sets::kUnfinished.contains(s));  // each state is one or the other
    if (sets::kClaimable.contains(s) || sets::kHoldsWorker.contains(s)) CHECK(sets::kActive.contains(s));
    int counters = 0;
    for (TaskCounter k : tasker::detail::kTaskCounters) counters += counted_in(k).contains(s) ? 1 : 0;
    CHECK(counters <= 1);  // a step counts in one counter at most
    CHECK(tasker::parse_step_state(tasker::to_string(s)) == s);
  }
}

TEST_CASE("state machine: counters moved by random allowed moves equal a recount of the steps' states") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<StepState> steps;
    TaskCounters counters;
    for (int i = 0; i < 60; ++i) {
      const auto moves = tasker::detail::step_moves();
      const auto& rule = moves[std::uniform_int_distribution<std::size_t>(0, moves.size() - 1)(rng)];
      if (rule.from_nothing) {
        steps.push_back(rule.to);
        tasker::detail::count_move(counters, std::nullopt, rule.to);
        continue;
      }
      std::vector<std::size_t> movable;
      for (std::size_t k = 0; k < steps.size(); ++k)
        if (tasker::detail::allows(rule.move, steps[k])) movable.push_back(k);
      if (movable.empty()) continue;
      const std::size_t k = movable[std::uniform_int_distribution<std::size_t>(0, movable.size() - 1)(rng)];
      tasker::detail::count_move(counters, steps[k], rule.to);
      steps[k] = rule.to;
    }
    REQUIRE(counters == recount(steps));
  }
}

TEST_CASE("state machine: a task's state follows from its counters as docs/design.md says") {
  using tasker::detail::decide_task_state;
  auto state = [](TaskState old, bool started, TaskCounters c) { return decide_task_state({old, started, c}).then; };
  CHECK(state(TaskState::pending, false, {0, 0, 0, 0, 0}) == TaskState::complete);  // a task without steps
  CHECK(state(TaskState::pending, false, {3, 0, 0, 0, 1}) == TaskState::pending);
  CHECK(state(TaskState::pending, true, {3, 0, 0, 0, 1}) == TaskState::in_progress);
  CHECK(state(TaskState::in_progress, false, {3, 3, 0, 0, 0}) == TaskState::complete);
  CHECK(state(TaskState::in_progress, false, {3, 2, 1, 0, 0}) == TaskState::resolved_manually);
  // A failed step ends the task only once nothing else is runnable.
  CHECK(state(TaskState::in_progress, false, {3, 1, 0, 1, 1}) == TaskState::in_progress);
  CHECK(state(TaskState::in_progress, false, {3, 1, 0, 1, 0}) == TaskState::error);
  CHECK(decide_task_state({TaskState::error, false, {3, 1, 0, 0, 1}}).reason == "resumed");
  CHECK(state(TaskState::cancelled, true, {3, 3, 0, 0, 0}) == TaskState::cancelled);
}

TEST_CASE("state machine: the task-state rule rendered as SQL agrees with the C++ one on SQLite") {
  auto backend = tasker::detail::make_sqlite_backend(*tasker::detail::sqlite::parse_url("sqlite::memory:"), {});
  auto connection = backend->connect();
  CHECK(tasker::test::check_task_state_rule(*connection) == 6 * 2 * 243);
}

TEST_CASE("state machine: SQL files name states, sets, moves and rows that exist, or fail to render") {
  using tasker::detail::sql::render_sql;
  CHECK(render_sql("{{step:in_progress}}") == "'in_progress'");
  CHECK(render_sql("{{steps:claimable,s.state}}") == "s.state IN ('enqueued', 'waiting_for_retry')");
  CHECK(render_sql("{{move_to:claimed}}") == "'in_progress'");
  CHECK_THROWS_AS((void)render_sql("{{step:in_progres}}"), std::invalid_argument);
  CHECK_THROWS_AS((void)render_sql("{{steps:claimables,s.state}}"), std::invalid_argument);
  CHECK_THROWS_AS((void)render_sql("{{move_to:claim}}"), std::invalid_argument);
  CHECK_THROWS_AS((void)render_sql("{{no_such_thing}}"), std::invalid_argument);
  CHECK_THROWS_AS((void)render_sql("{{step:pending"), std::invalid_argument);
  using tasker::detail::sql::row_fragment;
  CHECK(render_sql("{{value:new_step,state,r.v}}", row_fragment) == "(r.v->>6)");
  CHECK_THROWS_AS((void)render_sql("{{value:new_step,stat,r.v}}", row_fragment), std::invalid_argument);
}

TEST_CASE("state machine: every migration and server function renders, and their checksums are the released ones") {
  const auto& list = tasker::detail::sql::migrations();  // renders every file; throws at the first bad one
  REQUIRE(!list.empty());
  std::ifstream in(std::string(TASKER_SOURCE_DIR) + "/lib/storage/sql/migrations/CHECKSUMS");
  REQUIRE_MESSAGE(in, "lib/storage/sql/migrations/CHECKSUMS is missing");
  std::map<int, std::string> released;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    released[std::stoi(line.substr(0, line.find(' ')))] = line.substr(line.find(' ') + 1);
  }
  for (const auto& m : list) {
    CAPTURE(m.version);
    auto it = released.find(m.version);
    if (it == released.end()) {
      FAIL_CHECK("migration ", m.version, " is not in lib/storage/sql/migrations/CHECKSUMS; once it is final, add: ",
                 fmt::format("{:04} {}", m.version, m.checksum));
      continue;
    }
    CHECK_MESSAGE(it->second == m.checksum, "migration ", m.version,
                  " changed after its release (its SQL or what its placeholders render to): write the change as a new "
                  "migration (and a new server function version) instead");
  }
}

TEST_CASE("state machine: server functions name states only through placeholders") {
  // tasker_exchange_v2 keeps the one rendering it was released with (docs/architecture.md, "Waiting steps").
  const std::set<std::string_view> frozen{"functions/tasker_exchange_v2.sql"};
  std::vector<std::string> literals;
  for (StepState s : tasker::step_states()) literals.push_back(fmt::format("'{}'", tasker::to_string(s)));
  for (TaskState s : tasker::task_states()) literals.push_back(fmt::format("'{}'", tasker::to_string(s)));
  int checked = 0;
  for (const auto& f : tasker::detail::sql::sql_files()) {
    if (f.path.rfind("functions/", 0) != 0 || frozen.count(f.path)) continue;
    ++checked;
    for (const auto& l : literals) {
      CAPTURE(f.path);
      CHECK_MESSAGE(f.text.find(l) == std::string_view::npos, "the state literal ", l,
                    " is written by hand: use {{step:NAME}}, {{steps:SET,COLUMN}} or {{move_to:MOVE}}");
    }
  }
  CHECK(checked >= 3);
}
