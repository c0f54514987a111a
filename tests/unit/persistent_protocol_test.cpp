// The persistent protocol's lines, alone (lib/engine/persistent_protocol.cpp):
// what the worker writes, and every kind of line a command may write back.
#include <doctest/doctest.h>

#include "engine/persistent_protocol.hpp"
#include "engine/process_pool.hpp"
#include "tasker/errors.hpp"

using namespace tasker;
using detail::ProcessMessage;
using detail::ProtocolViolation;

namespace {
const JsonLimits kLimits{};
ProcessMessage parse(std::string_view line) { return detail::parse_process_line(line, kLimits, 1 << 20); }
std::string violation(std::string_view line) {
  try {
    (void)parse(line);
  } catch (const ProtocolViolation& v) {
    return v.what();
  }
  FAIL("the line was accepted: " << line);
  return "";
}
CommandSpec spec() {
  CommandSpec s;
  s.argv = {"python3", "-m", "tasker.worker", "handlers"};
  s.limits = {8, 200};
  return s;
}
}  // namespace

TEST_CASE("persistent protocol: the worker's lines are one JSON object each, newline-terminated") {
  const std::string a = detail::attempt_line(7, "py.square", {{"context", {{"n", 3}}}});
  CHECK(a.back() == '\n');
  CHECK(json::parse(a) ==
        json{{"type", "attempt"}, {"id", 7}, {"callable", "py.square"}, {"input", {{"context", {{"n", 3}}}}}});
  CHECK(json::parse(detail::reply_line(7, 2, {{"ok", true}})) ==
        json{{"type", "reply"}, {"id", 7}, {"request_id", 2}, {"reply", {{"ok", true}}}});
  // Text that is not UTF-8 (a context is checked on submit, but a reply may quote anything) is replaced, never thrown
  // on.
  CHECK_NOTHROW(json::parse(detail::reply_line(1, 1, {{"error", std::string("\xff")}})));
}

TEST_CASE("persistent protocol: ready, request, result and failure are understood") {
  auto ready = parse(R"({"type": "ready", "protocol": 1})");
  CHECK(ready.type == ProcessMessage::Type::ready);
  CHECK(ready.body == 1);
  auto request = parse(R"({"type": "request", "id": 3, "request_id": 9, "request": {"heartbeat": true}})");
  CHECK(request.type == ProcessMessage::Type::request);
  CHECK(request.id == 3);
  CHECK(request.request_id == 9);
  CHECK(request.body == json{{"heartbeat", true}});
  auto result = parse(R"({"type": "result", "id": 3, "result": null})");
  CHECK(result.type == ProcessMessage::Type::result);
  CHECK(result.body.is_null());
  auto failure =
      parse(R"({"type": "failure", "id": 3, "retryable": false, "message": "no", "error_type": "KeyError"})");
  CHECK(failure.type == ProcessMessage::Type::failure);
}

TEST_CASE("persistent protocol: every other line is refused with what was expected") {
  CHECK(violation("hello").find("not JSON") != std::string::npos);
  CHECK(violation("[1]").find("`type`") != std::string::npos);
  CHECK(violation(R"({"type": "hello"})").find("unknown message type `hello`") != std::string::npos);
  CHECK(violation(R"({"type": "result", "result": 1})").find("`id`") != std::string::npos);
  CHECK(violation(R"({"type": "result", "id": 0, "result": 1})").find("positive integer") != std::string::npos);
  CHECK(violation(R"({"type": "result", "id": 1})").find("needs `result`") != std::string::npos);
  CHECK(violation(R"({"type": "failure", "id": 1})").find("`retryable`") != std::string::npos);
  CHECK(violation(R"({"type": "failure", "id": 1, "retryable": true, "context": 3})").find("`context`") !=
        std::string::npos);
  CHECK(violation(R"({"type": "failure", "id": 1, "retryable": true, "error_type": "a b"})").find("error_type") !=
        std::string::npos);
  CHECK(violation(R"({"type": "request", "id": 1, "request_id": 1, "request": 5})").find("`request`") !=
        std::string::npos);
  CHECK(violation(R"({"type": "ready"})").find("`protocol`") != std::string::npos);
  // Deeper than the limits allow (the message's own two levels aside), or longer than a line may be.
  CHECK(violation(R"({"type": "result", "id": 1, "result": )" + std::string(200, '[') + std::string(200, ']') + "}")
            .find("limits.json_max_depth") != std::string::npos);
  CHECK_THROWS_AS((void)detail::parse_process_line(std::string(100, ' ') + "{}", kLimits, 50), ProtocolViolation);
}

TEST_CASE("persistent protocol: a result or failure message becomes the step's result or failure") {
  CHECK(detail::answered_outcome(spec(), parse(R"({"type": "result", "id": 1, "result": {"n": 9}})"), "") ==
        json{{"n", 9}});
  try {
    (void)detail::answered_outcome(
        spec(), parse(R"({"type": "failure", "id": 1, "retryable": true, "message": "later", "retry_after_ms": 1500,
                          "context": {"k": 1}, "error_type": "KeyError"})"),
        "Traceback\n");
    FAIL("no failure");
  } catch (const RetryableError& e) {
    CHECK(std::string(e.what()) == "later");
    CHECK(e.retry_after() == std::chrono::milliseconds{1500});
    CHECK(e.error_type() == "KeyError");
    CHECK(e.context()["k"] == 1);
    CHECK(e.context()["stderr"] == "Traceback");
  }
  CHECK_THROWS_AS(
      (void)detail::answered_outcome(spec(), parse(R"({"type": "failure", "id": 1, "retryable": false})"), ""),
      PermanentError);
  // A result beyond the JSON limits fails the attempt as invalid_output; a failure beyond them keeps only its kind.
  try {
    (void)detail::answered_outcome(
        spec(), parse(R"({"type": "result", "id": 1, "result": ")" + std::string(300, 'x') + "\"}"), "");
    FAIL("no failure");
  } catch (const RetryableError& e) {
    CHECK(e.error_type() == "invalid_output");
  }
  try {
    (void)detail::answered_outcome(
        spec(),
        parse(R"({"type": "failure", "id": 1, "retryable": false, "message": ")" + std::string(300, 'x') + "\"}"), "");
    FAIL("no failure");
  } catch (const PermanentError& e) {
    CHECK(std::string(e.what()).find("was ignored") != std::string::npos);
  }
}

TEST_CASE("persistent processes: restarts pause after repeated deaths, up to 10 s") {
  using std::chrono::milliseconds;
  CHECK(detail::ProcessPool::restart_pause(0) == milliseconds{0});
  CHECK(detail::ProcessPool::restart_pause(1) == milliseconds{0});
  CHECK(detail::ProcessPool::restart_pause(2) == milliseconds{200});
  CHECK(detail::ProcessPool::restart_pause(3) == milliseconds{400});
  CHECK(detail::ProcessPool::restart_pause(7) == milliseconds{6400});
  CHECK(detail::ProcessPool::restart_pause(8) == milliseconds{10'000});
  CHECK(detail::ProcessPool::restart_pause(1000) == milliseconds{10'000});
}

TEST_CASE("persistent command handler: a persistent spec needs its callable") {
  CommandSpec s = spec();
  s.persistent = true;
  CHECK_THROWS_AS((void)make_command_handler(s), InvalidRequestError);
  s.callable = "py.square";
  CHECK_NOTHROW((void)make_command_handler(s));
}
