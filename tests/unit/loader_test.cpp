// The template loader: every problem of a file reported at once, each at its
// file:line:column with the key at fault and a hint; tasker-core's schema
// accepted (aliases, legacy keys, preserved unknown keys, environments).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "helpers.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"
#include "tasker/retry.hpp"
#include "tasker/template.hpp"

using tasker::BackoffKind;
using tasker::Diagnostic;
using tasker::json;
using tasker::LoadResult;
using tasker::Severity;
using tasker::test::check_at;
using tasker::test::contains;
using tasker::test::dump;
using tasker::test::env;
using tasker::test::errors_of;
using tasker::test::load;
using tasker::test::single_error;
using tasker::test::warnings_of;

namespace {

// Lines 1-4 of most inputs below: the steps start at line 5.
constexpr const char* kHead = "name: t\nnamespace_name: ns\nversion: 1.0.0\nsteps:\n";

std::string with_head(const std::string& steps) { return kHead + steps; }

/// A one-step template whose retry block has `max_attempts: <value>` at line 8, column 21.
std::string max_attempts_yaml(const std::string& value) {
  return with_head(
      "  - name: a\n"
      "    handler: {callable: h}\n"
      "    retry:\n"
      "      max_attempts: " +
      value + "\n");
}

const tasker::StepTemplate& step(const tasker::TaskTemplate& tmpl, const std::string& name) {
  const tasker::StepTemplate* s = tmpl.find_step(name);
  REQUIRE_MESSAGE(s != nullptr, "no step " << name);
  return *s;
}

const tasker::TaskTemplate& only_template(const LoadResult& result) {
  INFO(dump(result));
  REQUIRE(result.ok());
  REQUIRE(result.templates.size() == 1u);
  return result.templates.front();
}

}  // namespace

// ---------------------------------------------------------------------------
// Errors: each at its line and column, naming what is at fault.

TEST_CASE("loader: a dependency cycle is an error printed as a -> b -> c -> a") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    dependencies: [c]
  - name: b
    handler: {callable: h}
    dependencies: [a]
  - name: c
    handler: {callable: h}
    dependencies: [b]
)"));
  CHECK_FALSE(result.ok());
  CHECK(result.templates.empty());
  Diagnostic d = single_error(result);
  check_at(d, 5, 11);  // `a`, the first step of the cycle in template order
  CHECK(d.key == "a");
  CHECK(contains(d.message, "a -> b -> c -> a"));
  CHECK_FALSE(d.hint.empty());
}

TEST_CASE("loader: an unknown dependency is an error at the dependency, suggesting the closest step") {
  auto result = load(with_head(R"(  - name: validate_order
    handler: {callable: h.validate}
  - name: process_payment
    handler: {callable: h.pay}
    dependencies: [validate_ordr]
)"));
  CHECK_FALSE(result.ok());
  Diagnostic d = single_error(result);
  check_at(d, 9, 20);
  CHECK(d.key == "process_payment");
  CHECK(contains(d.message, "validate_ordr"));
  CHECK(contains(d.hint, "did you mean `validate_order`?"));
}

TEST_CASE("loader: an unknown dependency with no close match lists the steps") {
  auto result = load(with_head(R"(  - name: validate_order
    handler: {callable: h.validate}
  - name: process_payment
    handler: {callable: h.pay}
    dependencies: [zzz]
)"));
  Diagnostic d = single_error(result);
  check_at(d, 9, 20);
  CHECK(contains(d.message, "zzz"));
  CHECK_FALSE(contains(d.hint, "did you mean"));
  CHECK(contains(d.hint, "validate_order"));
}

TEST_CASE("loader: a self-dependency is an error at the dependency (and not also a cycle)") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    dependencies:
      - a
)"));
  CHECK_FALSE(result.ok());
  Diagnostic d = single_error(result);
  check_at(d, 8, 9);
  CHECK(d.key == "a");
  CHECK(contains(d.message, "`a` depends on itself"));
  CHECK_FALSE(d.hint.empty());
}

TEST_CASE("loader: duplicate step names are an error at the second, the hint names the line of the first") {
  auto result = load(with_head(R"(  - name: fetch
    handler: {callable: h.one}
  - name: fetch
    handler: {callable: h.two}
)"));
  CHECK_FALSE(result.ok());
  Diagnostic d = single_error(result);
  check_at(d, 7, 11);
  CHECK(d.key == "fetch");
  CHECK(contains(d.message, "fetch"));
  CHECK(contains(d.hint, "line 5"));
}

TEST_CASE("loader: `step_templates:` is an error whose hint says `steps:`") {
  auto result = load(R"(name: t
namespace_name: ns
version: 1.0.0
step_templates:
  - name: a
    handler: {callable: h}
)");
  CHECK_FALSE(result.ok());
  Diagnostic d = single_error(result);  // and no second "template has no steps" error
  check_at(d, 4, 1);
  CHECK(d.key == "step_templates");
  CHECK(contains(d.message, "step_templates"));
  CHECK(contains(d.hint, "`steps:`"));
}

TEST_CASE("loader: a handler without `callable` is an error naming the step") {
  SUBCASE("handler mapping without callable") {
    auto result = load(with_head(R"(  - name: a
    handler:
      initialization: {x: 1}
)"));
    CHECK_FALSE(result.ok());
    Diagnostic d = single_error(result);
    check_at(d, 7, 7);  // the handler mapping
    CHECK(d.key == "steps.a.handler");
    CHECK(contains(d.message, "callable"));
    CHECK(contains(d.message, "`a`"));
    CHECK(contains(d.hint, "callable:"));
  }
  SUBCASE("no handler at all") {
    auto result = load(with_head(R"(  - name: a
    description: nothing runs this
)"));
    Diagnostic d = single_error(result);
    check_at(d, 5, 5);  // the step mapping
    CHECK(d.key == "steps.a");
    CHECK(contains(d.message, "handler"));
    CHECK(contains(d.hint, "callable"));
  }
  SUBCASE("empty callable") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: ""}
)"));
    Diagnostic d = single_error(result);
    check_at(d, 6, 25);
    CHECK(d.key == "steps.a.handler.callable");
  }
}

TEST_CASE("loader: max_attempts must be a whole number from 0 to 1000") {
  struct Case {
    const char* value;
    const char* in_message;
    const char* in_hint;
  };
  const Case cases[] = {
      {"-1", "-1", "at least 0"},
      {"100000000", "100000000", "at most 1000"},
      {"1001", "1001", "at most 1000"},
      {"2.5", "got `2.5`", "whole number"},
      {"three", "got `three`", "whole number"},
      {"\"3\"", "got `3`", "remove the quotes"},
      {"99999999999999999999", "99999999999999999999", "whole number"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    auto result = load(max_attempts_yaml(c.value));
    CHECK_FALSE(result.ok());
    CHECK(result.templates.empty());
    Diagnostic d = single_error(result);
    check_at(d, 8, 21);
    CHECK(d.key == "steps.a.retry.max_attempts");
    CHECK(contains(d.message, "max_attempts"));
    CHECK(contains(d.message, c.in_message));
    CHECK(contains(d.hint, c.in_hint));
  }
}

TEST_CASE("loader: an unknown backoff kind is an error naming it") {
  SUBCASE("near miss") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry:
      backoff: expnential
)"));
    CHECK_FALSE(result.ok());
    Diagnostic d = single_error(result);
    check_at(d, 8, 16);
    CHECK(d.key == "steps.a.retry.backoff");
    CHECK(contains(d.message, "expnential"));
    CHECK(contains(d.hint, "did you mean `exponential`?"));
  }
  SUBCASE("nothing close") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry: {backoff: quadratic}
)"));
    Diagnostic d = single_error(result);
    check_at(d, 7, 22);
    CHECK(d.key == "steps.a.retry.backoff");
    CHECK(contains(d.message, "quadratic"));
    for (const char* kind : {"none", "linear", "exponential", "fibonacci"}) CHECK(contains(d.hint, kind));
  }
}

TEST_CASE("loader: timeout_seconds must be positive") {
  for (const char* value : {"-5", "0"}) {
    CAPTURE(value);
    auto result =
        load(with_head(std::string("  - name: a\n    handler: {callable: h}\n    timeout_seconds: ") + value + "\n"));
    CHECK_FALSE(result.ok());
    Diagnostic d = single_error(result);
    check_at(d, 7, 22);
    CHECK(d.key == "steps.a.timeout_seconds");
    CHECK(contains(d.message, value));
    CHECK(contains(d.hint, "at least 1"));
  }
}

TEST_CASE("loader: a template without `name` is an error at the document") {
  auto result = load(R"(namespace_name: ns
version: 1.0.0
steps:
  - name: a
    handler: {callable: h}
)");
  CHECK_FALSE(result.ok());
  Diagnostic d = single_error(result);
  check_at(d, 1, 1);
  CHECK(d.key == "name");
  CHECK(contains(d.message, "`name`"));
  CHECK(contains(d.hint, "name:"));
}

TEST_CASE("loader: an environment override of a step that does not exist is an error") {
  const std::string yaml = with_head(R"(  - name: validate_order
    handler: {callable: h}
environments:
  test:
    steps:
      - name: validate_ordr
        timeout_seconds: 5
)");
  // Validated whether or not the environment is the active one.
  for (const char* active : {"development", "test"}) {
    CAPTURE(active);
    auto result = load(yaml, env(active));
    CHECK_FALSE(result.ok());
    Diagnostic d = single_error(result);
    check_at(d, 10, 15);
    CHECK(d.key == "environments.test.steps.validate_ordr.name");
    CHECK(contains(d.message, "validate_ordr"));
    CHECK(contains(d.message, "test"));
    CHECK(contains(d.hint, "did you mean `validate_order`?"));
  }
}

TEST_CASE("loader: broken YAML is an error at the parser's line and column") {
  auto result = load(R"(name: t
namespace_name: ns
version: 1.0.0
description: broken: here
steps:
  - name: a
    handler: {callable: h}
)");
  CHECK_FALSE(result.ok());
  CHECK(result.templates.empty());
  Diagnostic d = single_error(result);
  check_at(d, 4, 20);  // the second `:` on the line
  CHECK(contains(d.message, "invalid YAML"));
  CHECK_FALSE(d.hint.empty());
}

TEST_CASE("loader: an empty file is an error") {
  for (const char* text : {"", "\n\n", "# only a comment\n", "---\n"}) {
    CAPTURE(text);
    auto result = load(text);
    CHECK_FALSE(result.ok());
    CHECK(result.templates.empty());
    Diagnostic d = single_error(result);
    check_at(d, 1, 1);
    CHECK(contains(d.message, "empty"));
    CHECK_FALSE(d.hint.empty());
  }
}

TEST_CASE("loader: every problem of a file is reported at once") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry:
      max_attempts: -3
  - name: b
    handler: {callable: h}
    dependencies: [a, zzz]
    timeout_seconds: 0
)"));
  CHECK_FALSE(result.ok());
  auto errors = errors_of(result);
  INFO(dump(result));
  REQUIRE(errors.size() == 3u);
  std::set<std::string> keys;
  for (const auto& d : errors) keys.insert(d.key);
  CHECK(keys == std::set<std::string>{"steps.a.retry.max_attempts", "b", "steps.b.timeout_seconds"});
  for (const auto& d : errors) {
    CHECK(d.location.file == "t.yaml");
    if (d.key == "steps.a.retry.max_attempts") check_at(d, 8, 21);
    if (d.key == "b") {
      check_at(d, 11, 23);
      CHECK(contains(d.message, "zzz"));
    }
    if (d.key == "steps.b.timeout_seconds") check_at(d, 12, 22);
  }
}

TEST_CASE("loader: problems in several documents of one file are all reported, and the file gives no template") {
  auto result = load(R"(name: good
namespace_name: ns
version: 1.0.0
steps:
  - name: a
    handler: {callable: h}
---
name: bad
namespace_name: ns
version: 1.0.0
steps:
  - name: a
    handler: {callable: h}
    timeout_seconds: -1
  - name: b
    handler: {}
)");
  CHECK_FALSE(result.ok());
  CHECK(result.templates.empty());
  auto errors = errors_of(result);
  INFO(dump(result));
  REQUIRE(errors.size() == 2u);
  check_at(errors[0], 14, 22);
  CHECK(errors[1].key == "steps.b.handler");
}

TEST_CASE("loader: a key given twice is an error") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    timeout_seconds: 5
    timeout_seconds: 6
)"));
  Diagnostic d = single_error(result);
  check_at(d, 8, 5);
  CHECK(d.key == "steps.a.timeout_seconds");
  CHECK(contains(d.message, "twice"));
}

TEST_CASE("loader: YAML 1.1 booleans are not booleans for retryable") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry: {retryable: yes}
)"));
  Diagnostic d = single_error(result);
  check_at(d, 7, 24);
  CHECK(d.key == "steps.a.retry.retryable");
  CHECK(contains(d.hint, "yes"));
}

// Regression tests for loader bugs found in review.

TEST_CASE("loader: steps without a name are each reported once") {
  // Two unnamed steps must not also be reported as two steps sharing the empty name.
  auto result = load(with_head(R"(  - handler: {callable: h.one}
  - handler: {callable: h.two}
)"));
  CHECK_FALSE(result.ok());
  auto errors = errors_of(result);
  INFO(dump(result));
  REQUIRE(errors.size() == 2u);
  check_at(errors[0], 5, 5);
  check_at(errors[1], 6, 5);
  for (const auto& d : errors) CHECK(contains(d.message, "has no `name`"));
}

TEST_CASE("loader: a number with two signs is not an integer") {
  SUBCASE("max_attempts: --5 is an error") {
    auto result = load(max_attempts_yaml("--5"));
    CHECK_FALSE(result.ok());
    Diagnostic d = single_error(result);
    check_at(d, 8, 21);
    CHECK(d.key == "steps.a.retry.max_attempts");
    CHECK(contains(d.message, "--5"));
  }
  SUBCASE("in initialization such scalars stay strings") {
    auto result = load(with_head(R"(  - name: a
    handler:
      callable: h
      initialization: {x: --5, y: +-5, z: 0x-5}
)"));
    const auto& init = step(only_template(result), "a").handler.initialization;
    INFO(init.dump());
    CHECK(init["x"] == "--5");
    CHECK(init["y"] == "+-5");
    CHECK(init["z"] == "0x-5");
  }
}

TEST_CASE("loader: tasker-core's `step_type:` alias of `type:` is understood") {
  // tasker-core: #[serde(default, rename = "type", alias = "step_type")] pub step_type: StepType
  auto result = load(with_head(R"(  - name: p
    handler: {callable: h}
  - name: a
    step_type: decision
    dependencies: [p]
    handler: {callable: h}
)"));
  INFO(dump(result));
  CHECK(result.diagnostics.empty());
  CHECK(only_template(result).steps.at(1).type == tasker::StepType::decision);
}

TEST_CASE("loader: a null description loads, as in tasker-core") {
  auto result = load(R"(name: t
namespace_name: ns
version: 1.0.0
description:
steps:
  - name: a
    description: ~
    handler: {callable: h}
)");
  INFO(dump(result));
  CHECK(result.ok());
  CHECK(result.diagnostics.empty());
}

// ---------------------------------------------------------------------------
// What loads, and how.

TEST_CASE("loader: defaults of a minimal template") {
  auto result = load(R"(name: t
namespace_name: ns
version: 1.0.0
steps:
  - name: a
    handler:
      callable: h.a
)");
  CHECK(result.diagnostics.empty());
  CHECK(result.files == 1u);
  const auto& tmpl = only_template(result);
  CHECK(tmpl.name == "t");
  CHECK(tmpl.namespace_name == "ns");
  CHECK(tmpl.version == "1.0.0");
  CHECK(tmpl.qualified_name() == "ns/t@1.0.0");
  CHECK(tmpl.identity_strategy == tasker::IdentityStrategy::strict);
  CHECK(tmpl.environment == "development");
  CHECK(tmpl.location.file == "t.yaml");
  CHECK(tmpl.location.line == 1);
  REQUIRE(tmpl.steps.size() == 1u);
  const auto& s = tmpl.steps[0];
  CHECK(s.name == "a");
  CHECK(s.handler.callable == "h.a");
  CHECK(s.handler.initialization == json::object());
  CHECK(s.handler.command.empty());
  CHECK_FALSE(s.handler.shell);
  CHECK_FALSE(s.handler.persistent);
  CHECK(s.dependencies.empty());
  CHECK(s.retry.retryable);
  CHECK(s.retry.max_attempts == 3);
  CHECK(s.retry.backoff == BackoffKind::exponential);
  CHECK(s.retry.backoff_base_ms == 1000);
  CHECK(s.retry.max_backoff_ms == 30000);
  CHECK(s.retry == tasker::RetryPolicy{});
  CHECK(s.timeout_seconds == 30);
  CHECK(s.timeout_seconds == tasker::kDefaultTimeoutSeconds);
  CHECK(s.location.line == 5);
  CHECK(s.location.column == 11);
}

TEST_CASE("loader: every retry field is read") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry:
      retryable: false
      max_attempts: 7
      backoff: fibonacci
      backoff_base_ms: 250
      max_backoff_ms: 9000
    timeout_seconds: 120
)"));
  const auto& s = step(only_template(result), "a");
  CHECK_FALSE(s.retry.retryable);
  CHECK(s.retry.max_attempts == 7);
  CHECK(s.retry.backoff == BackoffKind::fibonacci);
  CHECK(s.retry.backoff_base_ms == 250);
  CHECK(s.retry.max_backoff_ms == 9000);
  CHECK(s.timeout_seconds == 120);
}

TEST_CASE("loader: legacy retry.limit counts retries after the first attempt") {
  SUBCASE("limit 2 means 3 attempts") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry: {limit: 2}
)"));
    CHECK(step(only_template(result), "a").retry.max_attempts == 3);
  }
  SUBCASE("limit 0 means one attempt") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry: {limit: 0}
)"));
    CHECK(step(only_template(result), "a").retry.max_attempts == 1);
  }
  SUBCASE("limit agreeing with max_attempts is fine") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry: {limit: 4, max_attempts: 5}
)"));
    CHECK(step(only_template(result), "a").retry.max_attempts == 5);
  }
  SUBCASE("limit contradicting max_attempts is an error") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry:
      max_attempts: 2
      limit: 2
)"));
    CHECK_FALSE(result.ok());
    Diagnostic d = single_error(result);
    check_at(d, 9, 7);
    CHECK(d.key == "steps.a.retry.limit");
    CHECK(contains(d.message, "limit: 2"));
    CHECK(contains(d.message, "max_attempts: 2"));
    CHECK(contains(d.hint, "max_attempts"));
  }
}

TEST_CASE("loader: depends_on is an alias of dependencies") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
  - name: b
    handler: {callable: h}
    depends_on: [a]
)"));
  const auto& tmpl = only_template(result);
  CHECK(step(tmpl, "b").dependencies == std::vector<std::string>{"a"});
  REQUIRE(step(tmpl, "b").dependency_locations.size() == 1u);
  CHECK(step(tmpl, "b").dependency_locations[0].line == 9);

  SUBCASE("but not both on one step") {
    auto both = load(with_head(R"(  - name: a
    handler: {callable: h}
  - name: b
    handler: {callable: h}
    depends_on: [a]
    dependencies: [a]
)"));
    Diagnostic d = single_error(both);
    check_at(d, 10, 5);
    CHECK(contains(d.message, "depends_on"));
  }
}

TEST_CASE("loader: max_attempts 0 is accepted") {
  auto result = load(max_attempts_yaml("0"));
  CHECK(step(only_template(result), "a").retry.max_attempts == 0);
  CHECK(result.diagnostics.empty());
}

TEST_CASE("loader: unknown top-level and step keys are accepted and preserved in extra") {
  auto result = load(R"(name: t
namespace_name: ns
version: 1.0.0
input_schema:
  type: object
  required: [order_id]
domain_events:
  - name: order.created
lifecycle: {on_complete: notify}
result_schema: {type: object}
system_dependencies: {primary: default}
my_made_up_key: 42
steps:
  - name: a
    handler:
      callable: h.a
      method: call
    publishes_events:
      - name: a.done
        condition: success
    lifecycle: {retain: true}
    result_schema: {type: object}
    input_schema: {type: string}
    another_invented_key: [1, 2]
)");
  INFO(dump(result));
  CHECK(result.diagnostics.empty());
  const auto& tmpl = only_template(result);
  CHECK(tmpl.extra["input_schema"]["type"] == "object");
  CHECK(tmpl.extra["input_schema"]["required"] == json::array({"order_id"}));
  CHECK(tmpl.extra["domain_events"][0]["name"] == "order.created");
  CHECK(tmpl.extra["lifecycle"]["on_complete"] == "notify");
  CHECK(tmpl.extra["result_schema"]["type"] == "object");
  CHECK(tmpl.extra["system_dependencies"]["primary"] == "default");
  CHECK(tmpl.extra["my_made_up_key"] == 42);
  const auto& s = step(tmpl, "a");
  CHECK(s.extra["publishes_events"][0]["condition"] == "success");
  CHECK(s.extra["lifecycle"]["retain"] == true);
  CHECK(s.extra["result_schema"]["type"] == "object");
  CHECK(s.extra["input_schema"]["type"] == "string");
  CHECK(s.extra["another_invented_key"] == json::array({1, 2}));
  CHECK(s.handler.extra["method"] == "call");
}

TEST_CASE("loader: a near-miss key is a warning with a did-you-mean hint, not an error") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
  - name: b
    handler: {callable: h}
    dependncies: [a]
)"));
  CHECK(result.ok());
  CHECK(errors_of(result).empty());
  auto warnings = warnings_of(result);
  INFO(dump(result));
  REQUIRE(warnings.size() == 1u);
  const auto& w = warnings[0];
  CHECK(w.severity == Severity::warning);
  check_at(w, 9, 5);
  CHECK(w.key == "steps.b.dependncies");
  CHECK(contains(w.message, "dependncies"));
  CHECK(contains(w.hint, "did you mean `dependencies`?"));
  const auto& tmpl = only_template(result);
  CHECK(step(tmpl, "b").dependencies.empty());  // the misspelt key is not acted on
  CHECK(step(tmpl, "b").extra["dependncies"] == json::array({"a"}));

  SUBCASE("at top level and in retry too") {
    auto other = load(R"(name: t
namespace_name: ns
version: 1.0.0
descripton: typo
steps:
  - name: a
    handler: {callable: h}
    retry: {max_atempts: 4}
)");
    CHECK(other.ok());
    auto ws = warnings_of(other);
    INFO(dump(other));
    REQUIRE(ws.size() == 2u);
    CHECK(ws[0].key == "descripton");
    CHECK(contains(ws[0].hint, "did you mean `description`?"));
    check_at(ws[0], 4, 1);
    CHECK(ws[1].key == "steps.a.retry.max_atempts");
    CHECK(contains(ws[1].hint, "did you mean `max_attempts`?"));
  }
}

TEST_CASE("loader: step types by name, an unknown one is an error with the known ones in the hint") {
  auto result = load(with_head("  - name: a\n    type: standard\n    handler: {callable: h}\n"));
  CHECK(result.diagnostics.empty());
  CHECK(only_template(result).steps.size() == 1u);
  auto magic = load(with_head("  - name: a\n    type: magic\n    handler: {callable: h}\n"));
  Diagnostic d = single_error(magic);
  check_at(d, 6, 11);
  CHECK(contains(d.message, "magic"));
  CHECK(contains(d.hint, "batch_worker"));
  auto typo = load(with_head("  - name: a\n    type: desicion\n    handler: {callable: h}\n"));
  CHECK(contains(single_error(typo).hint, "did you mean `decision`?"));
}

TEST_CASE("loader: environment overrides") {
  const std::string yaml = with_head(R"(  - name: a
    handler:
      callable: h.a
      initialization:
        db: {host: localhost, port: 5432}
        mode: safe
    retry: {max_attempts: 3, backoff_base_ms: 1000}
  - name: b
    handler: {callable: h.b}
    dependencies: [a]
environments:
  test:
    steps:
      - name: a
        timeout_seconds: 5
        retry: {max_attempts: 7}
        handler:
          initialization:
            db: {host: testdb}
            extra_flag: true
      - name: ALL
        timeout_seconds: 10
        retry: {backoff_base_ms: 10, max_backoff_ms: 50}
  production:
    steps:
      - name: ALL
        timeout_seconds: 600
)");

  SUBCASE("ALL applies to every step, a named override wins over ALL whatever their order") {
    auto result = load(yaml, env("test"));
    const auto& tmpl = only_template(result);
    CHECK(tmpl.environment == "test");
    const auto& a = step(tmpl, "a");
    const auto& b = step(tmpl, "b");
    CHECK(a.timeout_seconds == 5);  // named, although ALL comes after it
    CHECK(b.timeout_seconds == 10);
    CHECK(a.retry.max_attempts == 7);
    CHECK(b.retry.max_attempts == 3);
    CHECK(a.retry.backoff_base_ms == 10);
    CHECK(a.retry.max_backoff_ms == 50);
    CHECK(b.retry.backoff_base_ms == 10);
    CHECK(b.retry.max_backoff_ms == 50);
    CHECK(a.handler.callable == "h.a");  // not overridden
    CHECK(b.dependencies == std::vector<std::string>{"a"});
  }
  SUBCASE("handler.initialization deep-merges") {
    auto result = load(yaml, env("test"));
    const auto& a = step(only_template(result), "a");
    CHECK(a.handler.initialization ==
          json::parse(R"({"db": {"host": "testdb", "port": 5432}, "mode": "safe", "extra_flag": true})"));
  }
  SUBCASE("another environment gets its own overrides") {
    auto result = load(yaml, env("production"));
    const auto& tmpl = only_template(result);
    CHECK(step(tmpl, "a").timeout_seconds == 600);
    CHECK(step(tmpl, "b").timeout_seconds == 600);
    CHECK(step(tmpl, "a").retry.max_attempts == 3);
    CHECK(step(tmpl, "a").retry.backoff_base_ms == 1000);
  }
  SUBCASE("an environment without a section gets none") {
    auto result = load(yaml, env("development"));
    const auto& tmpl = only_template(result);
    CHECK(tmpl.environment == "development");
    const auto& a = step(tmpl, "a");
    CHECK(a.timeout_seconds == 30);
    CHECK(a.retry.max_attempts == 3);
    CHECK(a.retry.backoff_base_ms == 1000);
    CHECK(a.handler.initialization == json::parse(R"({"db": {"host": "localhost", "port": 5432}, "mode": "safe"})"));
  }
}

TEST_CASE("loader: overrides of an inactive environment are validated but not applied") {
  const std::string yaml = with_head(R"(  - name: a
    handler: {callable: h}
environments:
  production:
    steps:
      - name: ALL
        retry:
          max_attempts: -1
)");
  auto result = load(yaml, env("test"));
  CHECK_FALSE(result.ok());
  Diagnostic d = single_error(result);
  check_at(d, 12, 25);
  CHECK(d.key == "environments.production.steps.ALL.retry.max_attempts");

  SUBCASE("a valid inactive override changes nothing") {
    auto ok = load(with_head(R"(  - name: a
    handler: {callable: h}
environments:
  production:
    steps:
      - name: ALL
        retry: {max_attempts: 9}
        timeout_seconds: 99
)"),
                   env("test"));
    const auto& a = step(only_template(ok), "a");
    CHECK(a.retry.max_attempts == 3);
    CHECK(a.timeout_seconds == 30);
  }
  SUBCASE("dependencies cannot be overridden") {
    auto bad = load(with_head(R"(  - name: a
    handler: {callable: h}
environments:
  production:
    steps:
      - name: a
        dependencies: []
)"),
                    env("test"));
    Diagnostic e = single_error(bad);
    check_at(e, 11, 9);
    CHECK(e.key == "environments.production.steps.a.dependencies");
  }
}

TEST_CASE("loader: scalars follow YAML 1.2 (yes stays a string)") {
  auto result = load(with_head(R"(  - name: a
    handler:
      callable: h
      initialization:
        answer: yes
        switch: off
        upper_no: NO
        enabled: true
        capital: True
        disabled: false
        nothing: null
        tilde: ~
        empty:
        count: 42
        negative: -7
        plus: +3
        hex: 0x1F
        octal: 0o17
        leading_zero: 010
        ratio: 2.5
        exp: 1e3
        quoted_number: "123"
        quoted_bool: 'true'
        tagged: !!str 77
        text: hello world
        version_like: 1.2.3
        list: [1, two, 3.5, no, null]
        nested: {deep: {on: on}}
)"));
  const auto& init = step(only_template(result), "a").handler.initialization;
  CHECK(init["answer"] == "yes");
  CHECK(init["switch"] == "off");
  CHECK(init["upper_no"] == "NO");
  CHECK(init["enabled"] == true);
  CHECK(init["capital"] == true);
  CHECK(init["disabled"] == false);
  CHECK(init["nothing"].is_null());
  CHECK(init["tilde"].is_null());
  CHECK(init["empty"].is_null());
  CHECK(init["count"].is_number_integer());
  CHECK(init["count"] == 42);
  CHECK(init["negative"] == -7);
  CHECK(init["plus"] == 3);
  CHECK(init["hex"] == 31);
  CHECK(init["octal"] == 15);
  CHECK(init["leading_zero"] == 10);
  CHECK(init["ratio"].is_number_float());
  CHECK(init["ratio"] == 2.5);
  CHECK(init["exp"].is_number_float());
  CHECK(init["exp"] == 1000.0);
  CHECK(init["quoted_number"] == "123");
  CHECK(init["quoted_bool"] == "true");
  CHECK(init["tagged"] == "77");
  CHECK(init["text"] == "hello world");
  CHECK(init["version_like"] == "1.2.3");
  CHECK(init["list"] == json::parse(R"([1, "two", 3.5, "no", null])"));
  CHECK(init["nested"]["deep"]["on"] == "on");
}

TEST_CASE("loader: YAML 1.2 floats with a sign or without leading digits convert") {
  // Core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  auto result = load(with_head(R"(  - name: a
    handler:
      callable: h
      initialization:
        plus_float: +1.5
        half: .5
        minus_half: -.5
        plus_exp: +2e2
)"));
  const auto& init = step(only_template(result), "a").handler.initialization;
  INFO(init.dump());
  CHECK(init["plus_float"].is_number_float());
  CHECK(init["plus_float"] == 1.5);
  CHECK(init["half"] == 0.5);
  CHECK(init["minus_half"] == -0.5);
  CHECK(init["plus_exp"] == 200.0);
}

TEST_CASE("loader: load_templates on a folder reads *.yaml and *.yml recursively") {
  tasker::test::TempDir dir;
  dir.write("one.yaml", tasker::test::minimal_template("one"));
  dir.write("nested/deeper/two.yml", tasker::test::minimal_template("two"));
  dir.write("nested/three.yaml", tasker::test::minimal_template("three"));
  dir.write("notes.txt", "not: a template");
  dir.write("nested/readme.md", "# not a template");

  auto result = tasker::load_templates(dir.path(), env());
  INFO(dump(result));
  CHECK(result.ok());
  CHECK(result.files == 3u);
  REQUIRE(result.templates.size() == 3u);
  std::set<std::string> names;
  for (const auto& t : result.templates) names.insert(t.name);
  CHECK(names == std::set<std::string>{"one", "two", "three"});
  // Diagnostics and locations name the real file.
  for (const auto& t : result.templates) CHECK(contains(t.location.file, t.name + ".y"));

  SUBCASE("an invalid file in the folder is reported by its path, the others still load") {
    auto bad = dir.write("nested/bad.yaml", "name: bad\nnamespace_name: ns\nversion: 1.0.0\nsteps: []\n");
    auto again = tasker::load_templates(dir.path(), env());
    CHECK_FALSE(again.ok());
    CHECK(again.files == 4u);
    CHECK(again.templates.size() == 3u);
    auto errors = errors_of(again);
    REQUIRE(errors.size() == 1u);
    CHECK(errors[0].location.file == bad.string());
    CHECK(errors[0].location.line == 4);
    CHECK(errors[0].key == "steps");
  }
  SUBCASE("several paths load into one result") {
    tasker::test::TempDir other;
    auto file = other.write("four.yaml", tasker::test::minimal_template("four"));
    auto both = tasker::load_templates(std::vector<std::filesystem::path>{dir.path(), file}, env());
    CHECK(both.ok());
    CHECK(both.files == 4u);
    CHECK(both.templates.size() == 4u);
  }
}

TEST_CASE("loader: a missing path is a diagnostic naming it") {
  tasker::test::TempDir dir;
  auto missing = dir.path() / "does-not-exist";
  LoadResult result;
  CHECK_NOTHROW(result = tasker::load_templates(missing, env()));
  CHECK_FALSE(result.ok());
  CHECK(result.templates.empty());
  const auto errors = errors_of(result);
  REQUIRE(errors.size() == 1u);
  const auto& d = errors[0];
  CHECK(d.location.file == missing.string());
  CHECK(contains(d.message, "no such file"));
  CHECK_FALSE(d.hint.empty());
}

TEST_CASE("loader: load_template_file throws TemplateError carrying the diagnostics") {
  tasker::test::TempDir dir;
  SUBCASE("a valid file loads") {
    auto file = dir.write("ok.yaml", tasker::test::minimal_template("fine"));
    auto tmpl = tasker::load_template_file(file, env());
    CHECK(tmpl.name == "fine");
    CHECK(tmpl.location.file == file.string());
  }
  SUBCASE("an invalid file throws with every diagnostic") {
    auto file = dir.write("bad.yaml", with_head(R"(  - name: a
    handler: {callable: h}
    timeout_seconds: -1
    retry: {backoff: sometimes}
)"));
    try {
      (void)tasker::load_template_file(file, env());
      FAIL("load_template_file did not throw");
    } catch (const tasker::TemplateError& e) {
      REQUIRE(e.diagnostics().size() == 2u);
      for (const auto& d : e.diagnostics()) CHECK(d.location.file == file.string());
      CHECK(contains(e.what(), "timeout_seconds"));
      CHECK(contains(e.what(), "sometimes"));
      CHECK(contains(e.what(), file.string() + ":7:22"));
    }
  }
  SUBCASE("a file with two templates throws") {
    auto file =
        dir.write("two.yaml", tasker::test::minimal_template("x") + "---\n" + tasker::test::minimal_template("y"));
    CHECK_THROWS_AS((void)tasker::load_template_file(file, env()), tasker::TemplateError);
  }
  SUBCASE("a missing file throws") {
    CHECK_THROWS_AS((void)tasker::load_template_file(dir.path() / "nope.yaml", env()), tasker::TemplateError);
  }
}

TEST_CASE("loader: every template of templates/ loads without errors") {
  auto result = tasker::load_templates(tasker::test::source_dir() / "templates", env());
  INFO(dump(result));
  CHECK(result.ok());
  CHECK(errors_of(result).empty());
  CHECK(result.files == 12u);
  CHECK(result.templates.size() == 12u);
  for (const auto& t : result.templates) {
    CAPTURE(t.qualified_name());
    CHECK_FALSE(t.steps.empty());
    for (const auto& s : t.steps) CHECK_FALSE(s.handler.callable.empty());
  }
  SUBCASE("and in the test environment") {
    auto in_test = tasker::load_templates(tasker::test::source_dir() / "templates", env("test"));
    CHECK(in_test.ok());
    CHECK(in_test.templates.size() == 12u);
  }
}

TEST_CASE("loader: reserved and conflicting step keys, and a metadata that is not a mapping") {
  SUBCASE("a step may not be named ALL") {
    auto result = load(with_head(R"(  - name: ALL
    handler: {callable: h}
)"));
    Diagnostic d = single_error(result);
    CHECK(d.message.find("`ALL` is reserved") != std::string::npos);
  }
  SUBCASE("type and its alias step_type together") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    type: standard
    step_type: standard
)"));
    Diagnostic d = single_error(result);
    CHECK(d.message == "both `type` and `step_type` are given");
  }
  SUBCASE("metadata must be a mapping") {
    auto result = load(
        "name: t\nnamespace_name: ns\nversion: 1.0.0\nmetadata: [a, b]\nsteps:\n"
        "  - name: a\n    handler: {callable: h}\n");
    Diagnostic d = single_error(result);
    CHECK(d.key == "metadata");
  }
  SUBCASE("an unknown retry key is ignored, with a did-you-mean warning") {
    auto result = load(with_head(R"(  - name: a
    handler: {callable: h}
    retry: {max_atempts: 2}
)"));
    REQUIRE(result.ok());
    auto warnings = warnings_of(result);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].message == "unknown key `steps.a.retry.max_atempts` is ignored");
    CHECK(warnings[0].hint == "did you mean `max_attempts`?");
    CHECK(result.templates[0].steps[0].retry.max_attempts == 3);
  }
}

TEST_CASE("loader: handler.persistent keeps a command running, without a command it is an error, misspelt a warning") {
  auto result = load(with_head(R"(  - name: a
    handler: {callable: py.a, command: [python3, -m, tasker.worker, handlers], persistent: true}
  - name: b
    handler: {callable: py.b, command: [python3, b.py], persistent: false}
)"));
  CHECK(result.diagnostics.empty());
  CHECK(step(only_template(result), "a").handler.persistent);
  CHECK_FALSE(step(only_template(result), "b").handler.persistent);
  CHECK(step(only_template(result), "a").handler.extra == json::object());  // acted on, not merely kept

  auto alone = single_error(load(with_head(R"(  - name: a
    handler: {callable: h, persistent: true}
)")));
  CHECK(alone.message.find("has no `command`") != std::string::npos);
  CHECK(alone.location.line == 6);
  CHECK(single_error(load(with_head(R"(  - name: a
    handler: {callable: h, command: [x], persistent: yes}
)")))
            .message.find("persistent") != std::string::npos);
  auto typo = warnings_of(load(with_head(R"(  - name: a
    handler: {callable: h, command: [x], persistant: true}
)")));
  REQUIRE(typo.size() == 1u);
  CHECK(typo[0].hint.find("did you mean `persistent`?") != std::string::npos);
}
