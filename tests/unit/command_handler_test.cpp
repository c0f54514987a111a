// Command handlers run real child processes (/bin/sh), no database.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/processes.hpp"
#include "helpers.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"
#include "tasker/testing.hpp"

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

RetryableError failure_of_spec(const CommandSpec& spec) {
  StepContext ctx = context();
  try {
    (void)make_command_handler(spec)(ctx);
  } catch (const RetryableError& e) {
    return e;
  }
  FAIL("the command did not fail as expected");
  throw std::logic_error("unreachable");
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
  std::string script = "sleep 600 & echo $! > " + pid_file.string() + "; wait";
  auto start = std::chrono::steady_clock::now();
  StepContext ctx = context(milliseconds{300});
  const std::string deadline = format_time(ctx.deadline());
  auto timeout = failure_of<RetryableError>(script, std::move(ctx));
  CHECK(timeout.error_type() == "timeout");
  // The worker's own message for the same event (worker.cpp enforce_deadlines).
  CHECK(std::string(timeout.what())
            .rfind("the step did not finish within its timeout_seconds (its deadline was " + deadline + ")", 0) == 0);
  // Killed, not waited for: a limit far below the command's natural end.
  CHECK(std::chrono::steady_clock::now() - start < tasker::testing::scaled(std::chrono::seconds{120}));
  std::ifstream in(pid_file);
  pid_t grandchild = 0;
  in >> grandchild;
  REQUIRE(grandchild > 0);
  // The grandchild got SIGTERM with its group (then SIGKILL); a zombie counts as gone.
  const auto limit = std::chrono::steady_clock::now() + tasker::testing::scaled(std::chrono::seconds{10});
  while (test_support::find_process(grandchild) && std::chrono::steady_clock::now() < limit)
    std::this_thread::sleep_for(milliseconds{10});
  CHECK_FALSE(test_support::find_process(grandchild));
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
  try {
    (void)make_command_handler(spec)(ctx);
    FAIL("a missing program ran");
  } catch (const RetryableError& e) {
    CHECK(e.error_type() == "command_not_started");
    CHECK(std::string(e.what()) ==
          "cannot start `/nonexistent/handler-xyz`: No such file or directory; check handler.command and PATH");
  }
  spec.argv = {"no-such-program-tasker"};  // looked up on PATH
  auto missing = failure_of_spec(spec);
  CHECK(missing.error_type() == "command_not_started");
  CHECK(std::string(missing.what()).find("No such file or directory") != std::string::npos);
  CHECK(command_exists("sh"));
  CHECK(command_exists("/bin/sh"));
  CHECK_FALSE(command_exists("no-such-program-tasker"));
  CHECK_FALSE(command_exists("/nonexistent/handler-xyz"));
}

TEST_CASE("command handler: a program found on PATH runs in the working directory") {
  test::TempDir dir;
  CommandSpec spec;
  spec.argv = {"sh", "-c", "pwd"};
  spec.working_directory = dir.path();
  StepContext ctx = context();
  // pwd prints a path, not JSON: the message quotes it.
  auto printed = failure_of_spec(spec);
  CHECK(printed.error_type() == "invalid_output");
  CHECK(printed.context()["stdout"] == std::filesystem::canonical(dir.path()).string());

  spec.working_directory = dir.path() / "gone";
  auto no_folder = failure_of_spec(spec);
  CHECK(no_folder.error_type() == "command_not_started");
  CHECK(std::string(no_folder.what())
            .find("its working directory " + (dir.path() / "gone").string() +
                  " cannot be entered: No such file or directory") != std::string::npos);
}

TEST_CASE("command handler: the command sees the exit and signals of a process of its own") {
  // A signal that ends the command is seen as that signal, through its supervisor.
  auto terminated = failure_of<RetryableError>("kill -TERM $$");
  CHECK(terminated.error_type() == "command_crashed");
  CHECK(std::string(terminated.what()).find("killed by signal 15") != std::string::npos);
  CHECK(failure_of<RetryableError>("exit 3").error_type() == "command_failed");
  // Default signal dispositions and no descriptor but stdin, stdout, stderr and
  // the request channel (3: requests, 4: replies; docs/handlers.md). (ls lists
  // its own descriptors; 5 is the folder it reads. Not JSON: the output is quoted in the error.)
  CHECK(failure_of<RetryableError>("exec ls /proc/self/fd").context()["stdout"] == "0\n1\n2\n3\n4\n5");
  CHECK(run_sh("readlink /proc/self/fd/3 /proc/self/fd/4 | sed 's/:.*//' | sort -u | sed 's/.*/\"&\"/'") == "pipe");
  CHECK(run_sh("grep -E '^Sig(Blk|Ign)' /proc/$$/status | awk '{print $2}' | sort -u | sed 's/.*/\"&\"/'") ==
        "0000000000000000");
}

TEST_CASE("command handler: supervisors of concurrent attempts hold no descriptor of one another") {
  // Each supervisor must hold its own lifeline (a pipe) and its signalfd,
  // nothing else: another attempt's lifeline kept open there would hide that
  // worker's death.
  std::vector<std::thread> threads;
  std::vector<json> seen(8);
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] {
      seen[i] = run_sh(
          "sleep 0.2; for f in /proc/$PPID/fd/*; do readlink $f; done | sed 's/:.*//' | sort | "
          "tr '\\n' ' ' | sed 's/ $//; s/.*/\"&\"/'");
    });
  for (auto& t : threads) t.join();
  for (const auto& fds : seen) CHECK(fds == "anon_inode pipe");
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
