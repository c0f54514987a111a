// The persistent protocol's conformance suite (docs/handlers.md, "Persistent
// handler processes"): the worker's side of the protocol (make_command_handler
// with CommandSpec::persistent, exactly as `tasker worker` runs it) drives the
// implementation under test, which serves the conformance callables the page
// lists, and every case checks what the step would record. Run it against any
// implementation:
//
//   TASKER_CONFORMANCE_COMMAND='["node", "conformance.js"]' TASKER_CONFORMANCE_DIR=DIR tasker_conformance
//
// No database: each attempt gets a StepContext whose controls record what the
// process asked for. Times are limits against hangs, except the restart pause,
// which is checked as a lower bound.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/processes.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/errors.hpp"
#include "tasker/testing.hpp"

using namespace tasker;
using std::chrono::milliseconds;

namespace {

CommandSpec spec_under_test() {
  const char* command = std::getenv("TASKER_CONFORMANCE_COMMAND");
  REQUIRE_MESSAGE(command != nullptr, "set TASKER_CONFORMANCE_COMMAND to the implementation's argv as a JSON array");
  CommandSpec spec;
  spec.argv = json::parse(command).get<std::vector<std::string>>();
  if (const char* dir = std::getenv("TASKER_CONFORMANCE_DIR")) spec.working_directory = dir;
  spec.persistent = true;
  spec.callable = "conformance.echo";
  spec.kill_grace = milliseconds{500};
  return spec;
}

/// What the implementation asked the worker for during an attempt.
struct Asked {
  std::vector<json> checkpoints;
  std::atomic<int> heartbeats{0};
  std::vector<std::string> lookups;
  bool keep_checkpoints{true};
};

/// One handler per test (a fresh spec key each time, so no process is shared
/// between tests: the environment carries the test's name).
class Implementation {
 public:
  explicit Implementation(const std::string& test, const std::function<void(CommandSpec&)>& adjust = {}) {
    spec_ = spec_under_test();
    spec_.environment["TASKER_CONFORMANCE_TEST"] = test;
    if (adjust) adjust(spec_);
  }

  /// Run `callable` once; its result, or throws what fails the attempt.
  json run(const std::string& callable, json context = json::object(), milliseconds timeout = milliseconds{20'000},
           int attempt = 1) {
    StepControls controls;
    controls.heartbeat = [this] { ++asked.heartbeats; };
    controls.save_checkpoint = [this](const json& c) {
      asked.checkpoints.push_back(c);
      return asked.keep_checkpoints;
    };
    controls.step_result = [this](const std::string& name) -> std::optional<json> {
      asked.lookups.push_back(name);
      if (name == "root") return json{{"root", true}};
      return std::nullopt;
    };
    StepContext ctx("11111111-2222-4333-8444-555555555555", "step_a", std::move(context), {{"mode", "test"}},
                    {{"parent", 1}}, attempt, SystemClock::instance().now() + testing::scaled(timeout),
                    SystemClock::instance(), std::move(controls));
    return handler(callable)(ctx);
  }

  template <typename E>
  E failure(const std::string& callable, json context = json::object(), milliseconds timeout = milliseconds{20'000},
            int attempt = 1) {
    try {
      (void)run(callable, std::move(context), timeout, attempt);
    } catch (const E& e) {
      return e;
    }
    FAIL("`" << callable << "` did not fail as expected");
    throw std::logic_error("unreachable");
  }

  /// The pid of the process that serves the next attempt.
  pid_t pid() { return run("conformance.echo").at("pid").get<pid_t>(); }

  void reset() { handlers_.clear(); }  ///< the processes are asked to exit, then killed

  Asked asked;
  CommandSpec spec_;

 private:
  StepHandler& handler(const std::string& callable) {
    auto it = handlers_.find(callable);
    if (it != handlers_.end()) return it->second;
    CommandSpec s = spec_;
    s.callable = callable;
    return handlers_.emplace(callable, make_command_handler(s)).first->second;
  }
  std::map<std::string, StepHandler> handlers_;
};

bool gone(pid_t pid) {
  // A zombie counts as gone: its parent (the supervisor) may not have reaped it yet.
  for (int i = 0; i < 2000; ++i) {
    auto p = test_support::find_process(pid);
    if (!p || !test_support::alive(*p)) return true;
    std::this_thread::sleep_for(milliseconds{10});
  }
  return false;
}

std::string marker_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / fmt::format("tasker-conformance-{}-{}", ::getpid(), name)).string();
}

}  // namespace

TEST_CASE("conformance: a result carries back the attempt's input, and one process serves attempt after attempt") {
  Implementation impl("echo");
  const json out = impl.run("conformance.echo", {{"n", 21}});
  const json& input = out.at("input");
  CHECK(input["task_uuid"] == "11111111-2222-4333-8444-555555555555");
  CHECK(input["step_name"] == "step_a");
  CHECK(input["context"] == json{{"n", 21}});
  CHECK(input["initialization"] == json{{"mode", "test"}});
  CHECK(input["dependency_results"] == json{{"parent", 1}});
  CHECK(input["attempt"] == 1);
  CHECK(input["deadline"].is_string());
  CHECK(out.at("callable") == "conformance.echo");
  const pid_t first = out.at("pid").get<pid_t>();
  for (int i = 0; i < 20; ++i) CHECK(impl.pid() == first);
}

TEST_CASE("conformance: a long input line (1 MiB of context) arrives whole") {
  Implementation impl("long input");
  const std::string text(std::size_t{1} << 20, 'x');
  CHECK(impl.run("conformance.echo", {{"text", text}}).at("input").at("context").at("text") == text);
}

TEST_CASE("conformance: permanent and retryable failures keep their message, context and retry_after") {
  Implementation impl("failures");
  const pid_t pid = impl.pid();
  auto p = impl.failure<PermanentError>("conformance.permanent", {{"n", 7}});
  CHECK(std::string(p.what()) == "permanent failure");
  CHECK(p.context()["n"] == 7);
  auto r = impl.failure<RetryableError>("conformance.retryable");
  CHECK(std::string(r.what()) == "try later");
  CHECK(r.retry_after() == milliseconds{1500});
  CHECK(impl.pid() == pid);  // a failure is an answer: the process stays
}

TEST_CASE("conformance: checkpoints, ancestors' results and heartbeats go through the worker") {
  Implementation impl("requests");
  CHECK(impl.run("conformance.checkpoint") == json{{"saved", true}});
  REQUIRE(impl.asked.checkpoints.size() == 1);
  CHECK(impl.asked.checkpoints[0]["cursor"] == 10);
  CHECK(impl.asked.checkpoints[0]["items_processed"] == 10);
  CHECK(impl.asked.checkpoints[0]["accumulated_results"] == json{{"sum", 55}});
  impl.asked.keep_checkpoints = false;  // the claim was lost
  CHECK(impl.run("conformance.checkpoint") == json{{"saved", false}});
  CHECK(impl.run("conformance.ancestor") == json{{"root", true}});
  CHECK(impl.asked.lookups == std::vector<std::string>{"root"});
  CHECK(impl.run("conformance.heartbeat") == json{{"ok", true}});
  CHECK(impl.asked.heartbeats == 2);
}

TEST_CASE("conformance: stderr is kept per attempt") {
  Implementation impl("stderr");
  auto first = impl.failure<RetryableError>("conformance.stderr", json::object(), milliseconds{20'000}, 1);
  CHECK(std::string(first.what()) == "see stderr");  // a failure the handler reports keeps its own message
  CHECK(first.context()["stderr"].get<std::string>().find("conformance stderr 1") != std::string::npos);
  auto second = impl.failure<RetryableError>("conformance.stderr", json::object(), milliseconds{20'000}, 2);
  CHECK(second.context()["stderr"].get<std::string>().find("conformance stderr 2") != std::string::npos);
  CHECK(second.context()["stderr"].get<std::string>().find("conformance stderr 1") == std::string::npos);
}

TEST_CASE("conformance: garbage on stdout fails the attempt and replaces the process") {
  Implementation impl("garbage");
  const pid_t pid = impl.pid();
  auto e = impl.failure<RetryableError>("conformance.garbage");
  CHECK(e.error_type() == "invalid_output");
  CHECK(std::string(e.what()).find("not JSON") != std::string::npos);
  CHECK(gone(pid));
  CHECK(impl.pid() != pid);
}

TEST_CASE("conformance: an attempt that never answers times out, and its process is killed and replaced") {
  Implementation impl("silent");
  const pid_t pid = impl.pid();
  auto e = impl.failure<RetryableError>("conformance.silent", json::object(), milliseconds{300});
  CHECK(e.error_type() == "timeout");
  CHECK(gone(pid));
  CHECK(impl.pid() != pid);
}

TEST_CASE("conformance: a second answer to one attempt is ignored and its process replaced") {
  Implementation impl("twice");
  const pid_t pid = impl.pid();
  CHECK(impl.run("conformance.twice") == json{{"answer", 1}});
  CHECK(gone(pid));
  CHECK(impl.pid() != pid);
}

TEST_CASE("conformance: a process killed mid-attempt fails only that attempt, retryably, the next runs in a new one") {
  Implementation impl("crash");
  const pid_t pid = impl.pid();
  auto e = impl.failure<RetryableError>("conformance.crash");
  CHECK(e.error_type() == "command_crashed");
  CHECK(std::string(e.what()).find("signal 9") != std::string::npos);
  CHECK(impl.pid() != pid);
}

TEST_CASE("conformance: processes that keep dying are restarted after a growing pause") {
  Implementation impl("backoff");
  using Clock = std::chrono::steady_clock;
  std::vector<milliseconds> took;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    CHECK(impl.failure<RetryableError>("conformance.crash").error_type() == "command_crashed");
    took.push_back(std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
  }
  const auto t0 = Clock::now();
  (void)impl.pid();
  const auto last = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  // After 2 deaths in a row the next start waits 200 ms, after 3 deaths 400 ms (lower bounds).
  CHECK(took[2] >= milliseconds{200});
  CHECK(last >= milliseconds{400});
}

TEST_CASE("conformance: a line beyond the output limit stops the process, a result beyond the JSON limits fails") {
  Implementation impl("limits", [](CommandSpec& s) {
    s.max_output_bytes = std::size_t{64} * 1024;
    s.limits.max_bytes = 1000;
  });
  const pid_t pid = impl.pid();
  auto big = impl.failure<PermanentError>("conformance.big", {{"bytes", 200'000}});
  CHECK(big.error_type() == "output_too_large");
  CHECK(gone(pid));
  const pid_t next = impl.pid();
  auto over = impl.failure<RetryableError>("conformance.big", {{"bytes", 2000}});
  CHECK(over.error_type() == "invalid_output");
  CHECK(impl.pid() == next);  // it answered within the protocol: it stays
}

TEST_CASE("conformance: closing stdin ends the processes, the worker's death kills them") {
  Implementation impl("shutdown");
  const pid_t pid = impl.pid();
  impl.reset();
  CHECK(gone(pid));

  // A worker killed with SIGKILL mid-attempt: its persistent process dies with it (the supervisor's lifeline).
  const std::string pid_file = marker_path("silent-pid");
  std::filesystem::remove(pid_file);
  const pid_t worker = ::fork();
  REQUIRE(worker >= 0);
  if (worker == 0) {
    Implementation child("lifeline");
    try {
      (void)child.run("conformance.silent", {{"pid_file", pid_file}}, milliseconds{60'000});
    } catch (...) {
    }
    ::_exit(0);
  }
  pid_t served = 0;
  for (int i = 0; i < 3000 && served == 0; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> served)) served = 0;
    if (served == 0) std::this_thread::sleep_for(milliseconds{10});
  }
  REQUIRE_MESSAGE(served > 0, "conformance.silent did not write its pid to " << pid_file);
  ::kill(worker, SIGKILL);
  int status = 0;
  ::waitpid(worker, &status, 0);
  CHECK(gone(served));
  std::filesystem::remove(pid_file);
}

namespace {
/// Resident memory of `pid` in KiB (VmRSS), 0 when unreadable.
long rss_kib(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}
}  // namespace

TEST_CASE("conformance: 100,000 attempts in one process grow neither the worker's memory nor the process's") {
  Implementation impl("memory");
  const pid_t pid = impl.pid();
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) REQUIRE(impl.run("conformance.echo", {{"i", i}}).at("pid") == pid);
  };
  run(10'000);  // allocators and caches settle
  const long worker_before = rss_kib(::getpid()), process_before = rss_kib(pid);
  run(90'000);
  const long worker_after = rss_kib(::getpid()), process_after = rss_kib(pid);
  INFO("worker " << worker_before << " -> " << worker_after << " KiB, process " << process_before << " -> "
                 << process_after << " KiB");
  CHECK(worker_after - worker_before < 2048);
  CHECK(process_after - process_before < 4096);
}
