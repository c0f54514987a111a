// Several worker processes on one database (a SQLite file shared between
// processes, or PostgreSQL), checked through the public API only.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <thread>

#include "common/child.hpp"
#include "e2e.hpp"

using namespace e2e;
using tasker::TaskState;

namespace {
/// A worker process (tests/e2e/worker_process.cpp), running once it said so:
/// a SIGTERM sent earlier would find it without its signal handling. Stopped
/// with SIGTERM; killed and reaped on destruction.
class WorkerProcess {
 public:
  WorkerProcess(Harness& h, const std::string& id)
      : child_(id, {TASKER_E2E_WORKER_PATH, "--db", h.database_url(), "--handlers",
                    std::string(tasker::testing::to_string(h.handler_kind())), "--id", id, "--lease-ms", "10000"}) {
    REQUIRE(child_.read_line(std::chrono::seconds{60}) == "ready " + id);
  }
  /// SIGTERM, then the exit status (0 when it stopped cleanly).
  int stop() {
    child_.signal(SIGTERM);
    auto status = child_.wait(std::chrono::seconds{60});
    REQUIRE_MESSAGE(status, child_.name() << " did not stop");
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  }

 private:
  test_support::Child child_;
};
}  // namespace

TEST_CASE("processes: three worker processes share one database, and each step completes exactly once") {
  auto h = make_harness(false);
  // Steps that run until the test releases them, and more roots (8) than one
  // process has handler threads (4): once all 8 run at once, at least two
  // processes claimed from the same database while another worked, whatever
  // the machine's speed.
  constexpr int kTasks = 8;
  const std::vector<std::string> steps{"slow_1", "slow_2", "slow_3"};
  std::vector<std::string> tasks;
  for (int i = 0; i < kTasks; ++i)
    tasks.push_back(
        h->submit(h->create_task_request("e2e_support", "slow_chain", {{"sleep_ms", 600'000}, {"batch_index", i}}))
            .uuid);
  struct RemoveMarkers {
    const std::vector<std::string>& tasks;
    const std::vector<std::string>& steps;
    ~RemoveMarkers() {
      std::error_code ec;
      for (const auto& uuid : tasks)
        for (const auto& step : steps)
          for (const char* what : {"started", "release"}) std::filesystem::remove(marker(uuid, step, what), ec);
    }
  } remove_markers{tasks, steps};
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* id : {"proc-1", "proc-2", "proc-3"}) workers.push_back(std::make_unique<WorkerProcess>(*h, id));

  std::set<std::string> holders;
  wait_until(
      [&] {
        holders.clear();
        int running = 0;
        for (const auto& uuid : tasks) {
          auto first = h->client().get_step(uuid, "slow_1");
          if (first.state == tasker::StepState::in_progress) ++running, holders.insert(first.worker_id);
        }
        return running == kTasks;
      },
      "the 8 first steps to run at once");
  CHECK(holders.size() >= 2);
  for (const auto& uuid : tasks)
    for (const auto& step : steps) std::ofstream(marker(uuid, step, "release")) << "1";

  std::set<std::string> completed_by;
  for (const auto& uuid : tasks) {
    auto done = h->wait_for_task_completion(uuid);
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
  auto done = h->client().wait_for_task(task.uuid, tasker::testing::scaled(std::chrono::seconds{90}),
                                        std::chrono::milliseconds{200});
  CHECK(done.state == TaskState::complete);
  CHECK(worker.stop() == 0);
}
