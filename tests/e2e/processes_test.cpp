// Several worker processes on one database (a SQLite file shared between
// processes, or PostgreSQL), checked through the public API only.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <set>
#include <thread>

#include "e2e.hpp"

extern char** environ;

using namespace e2e;
using tasker::TaskState;

namespace {
/// A worker process (tests/e2e/worker_process.cpp); stopped with SIGTERM, reaped on destruction.
class WorkerProcess {
 public:
  WorkerProcess(Harness& h, const std::string& id) {
    std::vector<std::string> args{TASKER_E2E_WORKER_PATH,
                                  "--db",
                                  h.database_url(),
                                  "--handlers",
                                  std::string(tasker::testing::to_string(h.handler_kind())),
                                  "--id",
                                  id,
                                  "--lease-ms",
                                  "10000"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  }
  /// SIGTERM, then the exit status (0 when it stopped cleanly).
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~WorkerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_{-1};
};
}  // namespace

TEST_CASE("processes: three worker processes share one database, and each step completes exactly once") {
  auto h = make_harness(false);
  // Slow steps, and more runnable at once (8 roots) than one process has
  // handler threads (4): one process cannot take everything, so the others
  // must claim from the same database while it works.
  constexpr int kTasks = 8;
  std::vector<std::string> tasks;
  for (int i = 0; i < kTasks; ++i)
    tasks.push_back(
        h->submit(h->create_task_request("e2e_support", "slow_chain", {{"sleep_ms", 150}, {"batch_index", i}})).uuid);
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* id : {"proc-1", "proc-2", "proc-3"}) workers.push_back(std::make_unique<WorkerProcess>(*h, id));

  std::set<std::string> completed_by;
  for (const auto& uuid : tasks) {
    auto done = h->wait_for_task_completion(uuid, std::chrono::seconds{90});
    CHECK(done.counts.completed == 3);
    check_dependency_order(*h, uuid);
    for (const auto& step : h->api().list_steps(uuid)) {
      INFO(uuid << " " << step.name);
      CHECK(step.attempts == 1);
      int completions = 0;
      for (const auto& t : h->api().transitions(uuid, step.name))
        if (t.to_state == "complete") ++completions, completed_by.insert(t.worker_id);
      CHECK(completions == 1);
    }
  }
  for (auto& w : workers) CHECK(w->stop() == 0);
  INFO("workers that completed steps: " << completed_by.size());
  CHECK(completed_by.size() >= 2);
}

TEST_CASE("processes: Client::wait_for_task sees a task another process finished") {
  auto h = make_harness(false);
  auto task = h->submit(h->create_task_request("linear_workflow", "mathematical_sequence", {{"even_number", 6}}));
  WorkerProcess worker(*h, "proc-wait");
  // On PostgreSQL the worker's commit NOTIFYs this process; on SQLite the
  // wait looks again every poll interval. Either way it returns the ended task.
  auto done = h->client().wait_for_task(task.uuid, std::chrono::seconds{90}, std::chrono::milliseconds{200});
  CHECK(done.state == TaskState::complete);
  CHECK(worker.stop() == 0);
}
