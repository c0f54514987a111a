// Step and task states: names, terminal states, what satisfies dependents.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/graph.hpp"
#include "tasker/json.hpp"
#include "tasker/states.hpp"

using tasker::ExecutionStatus;
using tasker::HealthStatus;
using tasker::StepState;
using tasker::TaskState;

namespace {
constexpr StepState kStepStates[] = {StepState::pending, StepState::enqueued,  StepState::in_progress,
                                     StepState::waiting, StepState::complete,  StepState::waiting_for_retry,
                                     StepState::error,   StepState::cancelled, StepState::resolved_manually};
constexpr TaskState kTaskStates[] = {TaskState::pending, TaskState::in_progress, TaskState::complete,
                                     TaskState::error,   TaskState::cancelled,   TaskState::resolved_manually};
}  // namespace

TEST_CASE("states: step state names round-trip") {
  std::set<std::string_view> names;
  for (auto s : kStepStates) {
    auto name = tasker::to_string(s);
    CAPTURE(name);
    CHECK(name != "unknown");
    CHECK(tasker::parse_step_state(name) == s);
    names.insert(name);
  }
  CHECK(names.size() == 9u);  // all distinct
  CHECK(tasker::to_string(StepState::waiting_for_retry) == "waiting_for_retry");
  CHECK(tasker::to_string(StepState::resolved_manually) == "resolved_manually");
  CHECK(tasker::to_string(StepState::in_progress) == "in_progress");
  CHECK_FALSE(tasker::parse_step_state("done").has_value());
  CHECK_FALSE(tasker::parse_step_state("Complete").has_value());
  CHECK_FALSE(tasker::parse_step_state("").has_value());
}

TEST_CASE("states: task state names round-trip") {
  std::set<std::string_view> names;
  for (auto s : kTaskStates) {
    auto name = tasker::to_string(s);
    CAPTURE(name);
    CHECK(name != "unknown");
    CHECK(tasker::parse_task_state(name) == s);
    names.insert(name);
  }
  CHECK(names.size() == 6u);
  CHECK_FALSE(tasker::parse_task_state("enqueued").has_value());  // a step state only
  CHECK_FALSE(tasker::parse_task_state("waiting_for_retry").has_value());
}

TEST_CASE("states: terminal states") {
  const std::set<StepState> terminal_steps{StepState::complete, StepState::error, StepState::cancelled,
                                           StepState::resolved_manually};
  for (auto s : kStepStates) {
    CAPTURE(tasker::to_string(s));
    CHECK(tasker::is_terminal(s) == (terminal_steps.count(s) == 1));
  }
  const std::set<TaskState> terminal_tasks{TaskState::complete, TaskState::error, TaskState::cancelled,
                                           TaskState::resolved_manually};
  for (auto s : kTaskStates) {
    CAPTURE(tasker::to_string(s));
    CHECK(tasker::is_terminal(s) == (terminal_tasks.count(s) == 1));
  }
}

TEST_CASE("states: only complete and resolved_manually satisfy dependents") {
  for (auto s : kStepStates) {
    CAPTURE(tasker::to_string(s));
    CHECK(tasker::satisfies_dependents(s) == (s == StepState::complete || s == StepState::resolved_manually));
  }
}

TEST_CASE("states: derived status names") {
  CHECK(tasker::to_string(ExecutionStatus::blocked_by_failures) == "blocked_by_failures");
  CHECK(tasker::to_string(ExecutionStatus::has_ready_steps) == "has_ready_steps");
  CHECK(tasker::to_string(ExecutionStatus::processing) == "processing");
  CHECK(tasker::to_string(ExecutionStatus::all_complete) == "all_complete");
  CHECK(tasker::to_string(ExecutionStatus::waiting_for_dependencies) == "waiting_for_dependencies");
  CHECK(tasker::to_string(HealthStatus::healthy) == "healthy");
  CHECK(tasker::to_string(HealthStatus::recovering) == "recovering");
  CHECK(tasker::to_string(HealthStatus::blocked) == "blocked");
  CHECK(tasker::to_string(HealthStatus::unknown) == "unknown");
}

TEST_CASE("states: the surfaces list the model's states (step_states, task_states)") {
  // The lists every surface reads: what the hand-written list above names, in that order.
  CHECK(std::vector<StepState>(tasker::step_states().begin(), tasker::step_states().end()) ==
        std::vector<StepState>(std::begin(kStepStates), std::end(kStepStates)));
  CHECK(std::vector<TaskState>(tasker::task_states().begin(), tasker::task_states().end()) ==
        std::vector<TaskState>(std::begin(kTaskStates), std::end(kTaskStates)));
  // Every state has a colour in the graphs, the web view and its states.css.
  for (StepState s : tasker::step_states()) CHECK_FALSE(tasker::state_colour(tasker::to_string(s)).empty());
  for (TaskState s : tasker::task_states()) CHECK_FALSE(tasker::state_colour(tasker::to_string(s)).empty());
}

TEST_CASE("states: the OpenAPI document's state enums are the model's") {
  std::ifstream in(std::string(TASKER_SOURCE_DIR) + "/lib/server/openapi.json");
  REQUIRE(in);
  const auto doc = tasker::json::parse(in);
  std::vector<std::string> steps, tasks;
  for (StepState s : tasker::step_states()) steps.emplace_back(tasker::to_string(s));
  for (TaskState s : tasker::task_states()) tasks.emplace_back(tasker::to_string(s));
  int found = 0;
  // Every enum that lists states lists all of one kind, in the model's order.
  std::function<void(const tasker::json&, const std::string&)> walk = [&](const tasker::json& j,
                                                                          const std::string& at) {
    if (j.is_object()) {
      if (j.contains("enum") && j["enum"].is_array()) {
        auto values = j["enum"].get<std::vector<tasker::json>>();
        std::vector<std::string> names;
        for (const auto& v : values)
          if (v.is_string()) names.push_back(v.get<std::string>());
        if (std::find(names.begin(), names.end(), "in_progress") != names.end()) {
          ++found;
          const bool step = std::find(names.begin(), names.end(), "enqueued") != names.end();
          INFO("the enum at ", at);
          CHECK(names == (step ? steps : tasks));
        }
      }
      for (const auto& [k, v] : j.items()) walk(v, at + "/" + k);
    } else if (j.is_array()) {
      for (std::size_t i = 0; i < j.size(); ++i) walk(j[i], at + "/" + std::to_string(i));
    }
  };
  walk(doc, "");
  CHECK(found >= 2);
}
