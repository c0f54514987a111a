// The loader on waiting steps (signal, sleep): their blocks read into the
// model and the claim's initialization, and each mistake reported at
// file:line:col; and the times and durations waiting steps and run_at read.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "tasker/loader.hpp"
#include "tasker/task.hpp"

using namespace tasker::test;
using tasker::Diagnostic;
using tasker::json;

namespace {
const std::string kHead = "name: t\nnamespace_name: ns\nversion: 1.0.0\nsteps:\n";

tasker::LoadResult load_steps(const std::string& steps) {
  return tasker::load_templates_from_string(kHead + steps, "t.yaml");
}

/// The one error of `steps`, whose message contains `text`.
Diagnostic one_error(const std::string& steps, const std::string& text) {
  auto result = load_steps(steps);
  INFO(dump(result));
  auto errors = errors_of(result);
  REQUIRE(errors.size() == 1u);
  CHECK(errors[0].message.find(text) != std::string::npos);
  return errors[0];
}
}  // namespace

TEST_CASE("loader: a signal step has no handler, its spec becomes the reserved callable's initialization") {
  auto result = load_steps(
      "  - {name: prepare, handler: {callable: p}}\n"
      "  - name: approve\n    type: signal\n    dependencies: [prepare]\n"
      "    signal: {name: approval, timeout_seconds: 60, on_timeout: complete, on_timeout_result: {ok: false}}\n"
      "  - {name: wait, type: signal, dependencies: [approve]}\n");
  INFO(dump(result));
  REQUIRE(result.ok());
  const auto& steps = result.templates.at(0).steps;
  CHECK(steps[1].type == tasker::StepType::signal);
  CHECK(steps[1].handler.callable == tasker::kSignalCallable);
  CHECK(steps[1].handler.initialization == json{{"name", "approval"},
                                                {"timeout_seconds", 60},
                                                {"on_timeout", "complete"},
                                                {"on_timeout_result", {{"ok", false}}}});
  CHECK(steps[2].handler.initialization == json{{"name", "wait"}, {"on_timeout", "fail"}});
  CHECK_FALSE(result.templates.at(0).has_dynamic_steps());
}

TEST_CASE("loader: a sleep step takes exactly one of seconds and until, and until names a dependency") {
  auto ok = load_steps(
      "  - {name: p, handler: {callable: p}}\n"
      "  - {name: a, type: sleep, sleep: {seconds: 5}}\n"
      "  - {name: b, type: sleep, dependencies: [p], sleep: {until: p.deadline.at}}\n"
      "  - {name: c, type: sleep, sleep: {until: context.remind_at}}\n");
  INFO(dump(ok));
  REQUIRE(ok.ok());
  CHECK(ok.templates[0].steps[1].handler.callable == tasker::kSleepCallable);
  CHECK(ok.templates[0].steps[2].handler.initialization == json{{"until", "p.deadline.at"}});
  one_error("  - {name: a, type: sleep, sleep: {seconds: 5, until: context.x}}\n", "both `seconds` and `until`");
  one_error("  - {name: a, type: sleep, sleep: {}}\n", "neither `seconds` nor `until`");
  one_error("  - {name: a, type: sleep}\n", "has no `sleep:`");
  one_error("  - {name: p, handler: {callable: p}}\n  - {name: a, type: sleep, sleep: {until: p.x}}\n",
            "not a dependency of `a`");
  one_error("  - {name: a, type: sleep, sleep: {until: remind_at}}\n", "is not a path to a time");
  one_error("  - {name: a, type: sleep, sleep: {seconds: 5, minutes: 3}}\n", "unknown key `minutes`");
}

TEST_CASE("loader: a waiting step's mistakes are errors naming the key") {
  one_error("  - {name: a, type: signal, handler: {callable: x}}\n", "has a `handler`");
  one_error("  - {name: a, type: signal, signal: {name: x, retries: 3}}\n", "unknown key `retries`");
  one_error("  - {name: a, type: signal, signal: {on_timeout: explode}}\n", "unknown on_timeout `explode`");
  one_error("  - {name: a, type: signal, signal: {on_timeout: complete}}\n", "without `timeout_seconds`");
  one_error("  - {name: a, type: signal, signal: {timeout_seconds: 5, on_timeout_result: {x: 1}}}\n",
            "`on_timeout` is not `complete`");
  one_error("  - {name: a, handler: {callable: x}, signal: {name: y}}\n", "is not a signal step");
  one_error("  - {name: a, handler: {callable: tasker.sleep}}\n", "is reserved");
}

TEST_CASE("times: RFC 3339 with an offset or Z, to the millisecond, anything else is refused") {
  using std::chrono::milliseconds;
  const auto z = tasker::parse_time("2026-12-07T18:00:00Z");
  REQUIRE(z.has_value());
  CHECK(tasker::format_time(*z) == "2026-12-07T18:00:00.000Z");
  CHECK(tasker::parse_time("2026-12-07T19:00:00.250+01:00") == *z + milliseconds{250});
  CHECK(tasker::parse_time("2026-12-07t17:30:00-00:30") == z);
  CHECK(tasker::parse_time("2024-02-29T00:00:00Z").has_value());
  for (const char* bad : {"2026-12-07", "2026-12-07T18:00:00", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-12-07T24:00:00Z", "2026-12-07T18:00:00.Z", "2026-12-07T18:00:00+1:00", "soon", ""})
    CHECK_FALSE(tasker::parse_time(bad).has_value());
}

TEST_CASE("durations: a whole number and s, m, h or d, up to 3650 days, or 0") {
  using namespace std::chrono_literals;
  CHECK(tasker::parse_duration("90s") == 90s);
  CHECK(tasker::parse_duration("15m") == 15min);
  CHECK(tasker::parse_duration("2h") == 2h);
  CHECK(tasker::parse_duration("3d") == 72h);
  CHECK(tasker::parse_duration("0") == 0s);
  for (const char* bad : {"", "s", "5", "00", "-0", "1.5h", "-3d", "3w", "3651d", "99999999999s", " 3d"})
    CHECK_FALSE(tasker::parse_duration(bad).has_value());
}

TEST_CASE(
    "loader: environment overrides leave signal and sleep steps' specs alone, and naming their handler is an error") {
  const std::string steps =
      "  - {name: prepare, handler: {callable: p, initialization: {a: 1}}}\n"
      "  - {name: approve, type: signal, dependencies: [prepare], signal: {timeout_seconds: 60}}\n"
      "  - {name: pause, type: sleep, dependencies: [approve], sleep: {seconds: 5}}\n";
  tasker::LoadOptions options;
  options.environment = "test";
  auto all = tasker::load_templates_from_string(
      kHead + steps +
          "environments:\n  test:\n    steps:\n"
          "      - {name: ALL, handler: {initialization: {timeout_seconds: 1, seconds: 1}}}\n",
      "t.yaml", options);
  INFO(dump(all));
  REQUIRE(all.ok());
  const auto& s = all.templates.at(0).steps;
  CHECK(s[0].handler.initialization == json{{"a", 1}, {"timeout_seconds", 1}, {"seconds", 1}});
  CHECK(s[1].handler.callable == tasker::kSignalCallable);
  CHECK(s[1].handler.initialization.at("timeout_seconds") == 60);
  CHECK(s[2].handler.initialization == json{{"seconds", 5}});

  auto named = tasker::load_templates_from_string(
      kHead + steps + "environments:\n  test:\n    steps:\n      - {name: approve, handler: {callable: x}}\n", "t.yaml",
      options);
  INFO(dump(named));
  auto errors = errors_of(named);
  REQUIRE(errors.size() == 1u);
  CHECK(errors[0].message.find("overrides the handler of step `approve`, a signal step") != std::string::npos);
  CHECK(errors[0].hint.find("`signal:`") != std::string::npos);
}
