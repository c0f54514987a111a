// Command handlers run real child processes (/bin/sh), no database.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "helpers.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/errors.hpp"

using namespace tasker;
using std::chrono::milliseconds;

namespace {
StepContext context(milliseconds timeout = milliseconds{10'000}, StepControls controls = {}) {
  return StepContext("11111111-2222-4333-8444-555555555555", "step_a", {{"n", 21}}, {{"mode", "double"}},
                     {{"parent", 1}}, 1, SystemClock::instance().now() + timeout, SystemClock::instance(),
                     std::move(controls));
}

json run_sh(const std::string& script, StepContext ctx = context()) {
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return make_command_handler(spec)(ctx);
}

template <typename E>
E failure_of(const std::string& script, StepContext ctx = context()) {
  try {
    run_sh(script, std::move(ctx));
  } catch (const E& e) {
    return e;
  }
  FAIL("the command did not fail as expected");
  throw std::logic_error("unreachable");
}
}  // namespace

TEST_CASE("command handler: stdin carries the step input, stdout the result") {
  json out = run_sh("read input; echo \"$input\"");
  CHECK(out["context"]["n"] == 21);
  CHECK(out["initialization"]["mode"] == "double");
  CHECK(out["dependency_results"]["parent"] == 1);
  CHECK(out["step_name"] == "step_a");
  CHECK(out["attempt"] == 1);
  CHECK(run_sh("echo \"{\\\"step\\\": \\\"$TASKER_STEP_NAME\\\", \\\"attempt\\\": $TASKER_ATTEMPT}\"") ==
        json{{"step", "step_a"}, {"attempt", 1}});
  CHECK(run_sh("true").is_null());  // no output: a null result
}

TEST_CASE("command handler: exit 10 is permanent, 11 retryable with retry_after and context") {
  auto p = failure_of<PermanentError>(R"(echo '{"message": "card declined", "context": {"code": 51}}'; exit 10)");
  CHECK(std::string(p.what()) == "card declined");
  CHECK(p.context()["code"] == 51);
  auto r = failure_of<RetryableError>(R"(echo '{"message": "rate limited", "retry_after_ms": 2500}'; exit 11)");
  CHECK(std::string(r.what()) == "rate limited");
  CHECK(r.retry_after() == milliseconds{2500});
}

TEST_CASE("command handler: a crash, bad JSON or an unknown exit code is retryable with stderr in the message") {
  auto crash = failure_of<RetryableError>("echo 'Traceback: boom' >&2; exit 3");
  CHECK(crash.error_type() == "command_failed");
  CHECK(std::string(crash.what()).find("Traceback: boom") != std::string::npos);
  CHECK(crash.context()["stderr"] == "Traceback: boom");
  auto bad = failure_of<RetryableError>("echo 'not json'");
  CHECK(bad.error_type() == "invalid_output");
  CHECK(std::string(bad.what()).find("not JSON") != std::string::npos);
  auto killed = failure_of<RetryableError>("kill -9 $$");
  CHECK(killed.error_type() == "command_crashed");
}

TEST_CASE("command handler: a timeout kills the whole process group") {
  test::TempDir dir;
  auto pid_file = dir.path() / "grandchild.pid";
  // The command starts a grandchild that would outlive a plain kill of its parent.
  std::string script = "sleep 30 & echo $! > " + pid_file.string() + "; wait";
  auto start = std::chrono::steady_clock::now();
  auto timeout = failure_of<RetryableError>(script, context(milliseconds{300}));
  CHECK(timeout.error_type() == "timeout");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{10});  // killed, not waited for
  std::ifstream in(pid_file);
  pid_t grandchild = 0;
  in >> grandchild;
  REQUIRE(grandchild > 0);
  // The grandchild got SIGTERM with its group; give the kernel a moment to reap it.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(grandchild, 0) != 0;
    if (!gone) std::this_thread::sleep_for(milliseconds{10});
  }
  CHECK(gone);
}

TEST_CASE("command handler: cancellation stops the command") {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  StepContext ctx = context(milliseconds{10'000}, StepControls{.cancelled = flag});
  std::thread canceller([flag] {
    std::this_thread::sleep_for(milliseconds{100});
    flag->store(true);
  });
  auto cancelled = failure_of<RetryableError>("sleep 30", std::move(ctx));
  canceller.join();
  CHECK(cancelled.error_type() == "cancelled");
}

TEST_CASE("command handler: a missing program, and command_exists") {
  CommandSpec spec;
  spec.argv = {"/nonexistent/handler-xyz"};
  StepContext ctx = context();
  CHECK_THROWS_AS(make_command_handler(spec)(ctx), RetryableError);
  CHECK(command_exists("sh"));
  CHECK(command_exists("/bin/sh"));
  CHECK_FALSE(command_exists("no-such-program-tasker"));
  CHECK_FALSE(command_exists("/nonexistent/handler-xyz"));
}

TEST_CASE("command handler: register_command_handlers resolves relative programs against the template folder") {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "handlers");
  {
    std::ofstream script(dir.path() / "handlers" / "hello.sh");
    script << "#!/bin/sh\necho '{\"hello\": \"world\"}'\n";
  }
  std::filesystem::permissions(dir.path() / "handlers" / "hello.sh", std::filesystem::perms::owner_all);
  {
    std::ofstream t(dir.path() / "hello.yaml");
    t << "name: hello\nnamespace_name: cmd\nversion: 1.0.0\nsteps:\n"
         "  - name: greet\n    handler: {callable: cmd.greet, command: [./handlers/hello.sh]}\n"
         "  - name: missing\n    handler: {callable: cmd.missing}\n";
  }
  TemplateSet set = TemplateSet::load({dir.path()});
  HandlerRegistry registry;
  CHECK(register_command_handlers(registry, set) == std::vector<std::string>{"cmd.greet"});
  StepContext ctx = context();
  CHECK(registry.resolve("cmd.greet")(ctx) == json{{"hello", "world"}});

  std::ofstream(dir.path() / "broken.yaml")
      << "name: broken\nnamespace_name: cmd\nversion: 1.0.0\nsteps:\n"
         "  - name: s\n    handler: {callable: cmd.other, command: [./nope.sh]}\n";
  TemplateSet with_missing = TemplateSet::load({dir.path()});
  HandlerRegistry other;
  try {
    register_command_handlers(other, with_missing);
    FAIL("a missing program was accepted");
  } catch (const TemplateError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].message.find("nope.sh") != std::string::npos);
  }
}
