// What a command prints cannot kill its worker: output that is not UTF-8, nested
// 100,000 levels or beyond the limits fails the attempt as invalid_output
// naming what was wrong, and every message and context built from the
// command's bytes is storable JSON. Real child processes (/bin/sh), no database.
#include <doctest/doctest.h>

#include <string>

#include "tasker/command_handler.hpp"
#include "tasker/errors.hpp"
#include "tasker/limits.hpp"
#include "tasker/retry.hpp"

using namespace tasker;
using std::chrono::milliseconds;

namespace {

StepContext context() {
  return StepContext("11111111-2222-4333-8444-555555555555", "step_a", {{"n", 21}}, json::object(), json::object(), 1,
                     SystemClock::instance().now() + milliseconds{30'000}, SystemClock::instance());
}

json run_sh(const std::string& script, const JsonLimits& limits = {}) {
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.limits = limits;
  StepContext ctx = context();
  return make_command_handler(spec)(ctx);
}

template <typename E>
E failure_of(const std::string& script, const JsonLimits& limits = {}) {
  try {
    run_sh(script, limits);
  } catch (const E& e) {
    return e;
  }
  FAIL("the command did not fail as expected: " << script);
  throw std::logic_error("unreachable");
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// What the store would do with the failure: serialise message and context strictly.
void check_storable(const StepError& e) {
  INFO(std::string(e.what()));
  CHECK(invalid_utf8_offset(e.what()) == std::string::npos);
  CHECK(invalid_utf8_offset(e.error_type()) == std::string::npos);
  CHECK_NOTHROW(check_json(e.context(), JsonLimits{}, "the context"));
  CHECK_NOTHROW((void)e.context().dump());
}

/// A shell command that prints `n` copies of `text` (no trailing newline).
std::string repeat(const std::string& text, int n) {
  return "i=0; while [ $i -lt " + std::to_string(n) + " ]; do printf '%s' '" + text + "'; i=$((i+1)); done";
}

}  // namespace

TEST_CASE("command output: invalid UTF-8 inside a JSON string fails the attempt as invalid_output") {
  auto e = failure_of<RetryableError>(R"(printf '{"name": "caf\351", "ok": true}')");
  CHECK(e.error_type() == "invalid_output");
  CHECK(contains(e.what(), "its stdout is not JSON (parse error at line 1, column 15"));
  CHECK(contains(e.what(), "ill-formed UTF-8 byte"));
  CHECK(contains(e.what(), "print exactly one JSON document"));
  CHECK(e.context().at("stdout") == "{\"name\": \"caf\xef\xbf\xbd\", \"ok\": true}");  // repaired, not dropped
  check_storable(e);
}

TEST_CASE("command output: JSON nested 100,000 levels fails as invalid_output naming the limit") {
  auto e =
      failure_of<RetryableError>("head -c 100000 /dev/zero | tr '\\0' '['; head -c 100000 /dev/zero | tr '\\0' ']'");
  CHECK(e.error_type() == "invalid_output");
  CHECK(contains(e.what(),
                 "exited 0 but its stdout is nested 100000 levels deep, more than limits.json_max_depth "
                 "allows (128)"));
  CHECK(contains(e.what(), "TASKER_LIMITS_JSON_MAX_DEPTH"));
  check_storable(e);
}

TEST_CASE("command output: a result beyond the handler's limits fails as invalid_output") {
  JsonLimits limits;
  limits.max_bytes = 100;
  limits.max_depth = 3;
  CHECK(run_sh(R"(printf '[[[1]]]')", limits) == json::parse("[[[1]]]"));
  auto deep = failure_of<RetryableError>(R"(printf '[[[[1]]]]')", limits);
  CHECK(contains(deep.what(), "nested 4 levels deep, more than limits.json_max_depth allows (3)"));
  auto large = failure_of<RetryableError>("printf '['; " + repeat("1234567890,", 10) + "; printf '0]'", limits);
  CHECK(large.error_type() == "invalid_output");
  CHECK(contains(large.what(), "its stdout is 113 bytes, more than limits.json_max_bytes allows (100)"));
}

TEST_CASE("command output: stderr that is not UTF-8 is repaired in the message and the context") {
  auto e = failure_of<RetryableError>(R"(printf 'Traceback: \377\376 bad bytes\n' >&2; exit 3)");
  CHECK(e.error_type() == "command_failed");
  CHECK(contains(e.what(), "stderr: Traceback: \xef\xbf\xbd\xef\xbf\xbd bad bytes"));
  CHECK(e.context().at("stderr") == "Traceback: \xef\xbf\xbd\xef\xbf\xbd bad bytes");
  check_storable(e);
  // A tail cut inside a multi-byte character: 2000 bytes of stderr end mid-way through "é".
  auto cut = failure_of<RetryableError>(repeat("\xc3\xa9", 1500) + " >&2; exit 3");
  check_storable(cut);
}

TEST_CASE("command output: a failure document beyond the limits is ignored, and the failure says why") {
  auto e = failure_of<PermanentError>(
      "printf '{\"message\": \"x\", \"context\": '; head -c 5000 /dev/zero | tr '\\0' '['; exit 10");
  CHECK(contains(e.what(),
                 "failed (exit 10) (its stdout was ignored: the failure document is nested 5001 levels "
                 "deep, more than limits.json_max_depth allows (128)"));
  check_storable(e);
  // Not JSON at all, or not UTF-8: ignored as before (a failing command may print anything).
  auto text = failure_of<RetryableError>(R"(printf '{"message": "caf\351"}'; exit 11)");
  CHECK(contains(text.what(), "failed (exit 11)"));
  check_storable(text);
}

TEST_CASE("command output: a number beyond a double is invalid output, or an ignored failure document (fuzzing)") {
  // fuzz_command_output: nlohmann's out_of_range.406 escaped the output parser.
  auto result = failure_of<RetryableError>("printf '[1e3085]'");
  CHECK(result.error_type() == "invalid_output");
  CHECK(contains(result.what(), "its stdout is not JSON (number overflow parsing '1e3085'"));
  check_storable(result);
  auto failure = failure_of<RetryableError>(R"(printf '{"message": "m", "retry_after_ms": 1e999}'; exit 11)");
  CHECK(contains(failure.what(), "failed (exit 11)"));
  check_storable(failure);
}

TEST_CASE("command output: message and retry_after_ms of the wrong type or size do not break the failure") {
  auto not_text = failure_of<RetryableError>(R"(echo '{"message": 5, "retry_after_ms": "soon"}'; exit 11)");
  CHECK(contains(not_text.what(), "failed (exit 11)"));
  CHECK_FALSE(not_text.retry_after());
  auto huge = failure_of<RetryableError>(R"(echo '{"message": "later", "retry_after_ms": 1e300}'; exit 11)");
  CHECK(std::string(huge.what()) == "later");
  CHECK(huge.retry_after() == milliseconds{kMaxBackoffLimitMs});
  auto negative = failure_of<RetryableError>(R"(echo '{"retry_after_ms": -5}'; exit 11)");
  CHECK(negative.retry_after() == milliseconds{0});
  auto fraction = failure_of<RetryableError>(R"(echo '{"retry_after_ms": 2.9}'; exit 11)");
  CHECK(fraction.retry_after() == milliseconds{2});
}
