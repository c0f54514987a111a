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
  WorkerProcess(Harness& h, const std::string& id, std::chrono::milliseconds lease = std::chrono::seconds{10})
      : child_(id, {TASKER_E2E_WORKER_PATH, "--db", h.database_url(), "--handlers",
                    std::string(tasker::testing::to_string(h.handler_kind())), "--id", id, "--lease-ms",
                    std::to_string(lease.count())}) {
    REQUIRE(child_.read_line(std::chrono::seconds{60}) == "ready " + id);
  }
  /// SIGKILL, reaped: the worker gets no chance to release or record anything.
  void kill() {
    child_.signal(SIGKILL);
    REQUIRE_MESSAGE(child_.wait(std::chrono::seconds{60}), child_.name() << " did not die");
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

TEST_CASE("processes: a batch worker killed mid-batch resumes from its last checkpoint in another process") {
  auto h = make_harness(false);
  // 100 items, a checkpoint every 10; the first attempt stops at item 25 (after
  // its second checkpoint, items 20 to 24 processed since) until it is killed.
  auto task = h->submit(h->create_task_request("dynamic_e2e", "checkpointed_batch",
                                               {{"items", 100}, {"checkpoint_every", 10}, {"hold_at", 25}}));
  const std::string step = "process_items_001";
  auto checkpoint_cursor = [&]() -> long long {
    // The batch worker exists once plan_items completed.
    for (const auto& s : h->api().list_steps(task.uuid))
      if (s.name == step && s.checkpoint) return s.checkpoint->at("cursor").get<long long>();
    return 0;
  };
  long long at_kill = 0;
  {
    WorkerProcess first(*h, "batch-first", std::chrono::milliseconds{2000});
    const auto limit = std::chrono::steady_clock::now() + tasker::testing::scaled(std::chrono::seconds{120});
    while (checkpoint_cursor() < 20 || processed_items(task.uuid, step).size() < 25) {
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < limit,
                      "the batch worker did not reach item 25 after its second checkpoint");
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    first.kill();
    at_kill = checkpoint_cursor();  // durable: nothing of the first worker can save any more
  }
  REQUIRE(at_kill == 20);  // killed mid-batch, held at item 25
  // The first worker's short lease lets the second reclaim the step soon (it
  // looks every half of its own lease); the second's lease is three times the
  // first's, so a loaded machine delaying its renewals by seconds cannot lose
  // its attempt too (once, at load 10, a 2 s lease did: three attempts).
  WorkerProcess second(*h, "batch-second", std::chrono::milliseconds{6'000});
  h->wait_for_task_completion(task.uuid, std::chrono::seconds{120});
  CHECK(second.stop() == 0);

  auto worker = h->api().get_step(task.uuid, step);
  CHECK(worker.attempts == 2);  // the attempt lost with its worker, then the one that resumed
  const json result = *worker.results;
  CHECK(result["resumed_from"] == at_kill);
  CHECK(result["sum"] == 4950);  // 0 + 1 + ... + 99, the part before the checkpoint carried in it
  CHECK(result_of(*h, task.uuid, "sum_items")["total"] == 4950);
  // Every item processed; those before the checkpoint exactly once (only the
  // ones after it, which the killed attempt had started, run again).
  auto seen = processed_items(task.uuid, step);
  CHECK(seen.size() == 100u);
  for (const auto& item_times : seen) {
    // Not structured bindings: CAPTURE captures `item` in a lambda, which clang 14 (clang-tidy) refuses.
    const long long item = item_times.first;
    const int times = item_times.second;
    CAPTURE(item);
    if (item < at_kill)
      CHECK(times == 1);
    else
      CHECK(times <= 2);
  }
}

TEST_CASE("processes: a worker killed with SIGKILL while steps wait loses nothing: another wakes them") {
  using tasker::StepState;
  auto h = make_harness(false);
  auto signalled = h->submit(h->create_task_request("waiting_e2e", "signal_wait"));
  auto sleeper = h->submit(h->create_task_request("waiting_e2e", "sleep_seconds"));
  {
    WorkerProcess first(*h, "waiting-first");
    wait_until(
        [&] {
          const auto nap = h->api().get_step(sleeper.uuid, "nap").state;
          return h->api().get_step(signalled.uuid, "manager_approval").state == StepState::waiting &&
                 (nap == StepState::waiting || nap == StepState::complete);
        },
        "the signal and sleep steps to wait");
    first.kill();
  }
  // No worker runs: the signal completes the step that waits in the database alone.
  CHECK(h->api().signal(signalled.uuid, "approval", {{"approved", true}}) == tasker::SignalStatus::delivered);
  WorkerProcess second(*h, "waiting-second");
  CHECK(h->wait_for_task_completion(signalled.uuid).state == TaskState::complete);
  CHECK(h->wait_for_task_completion(sleeper.uuid).state == TaskState::complete);
  CHECK(result_of(*h, signalled.uuid, "manager_approval") == json{{"approved", true}});
  CHECK(second.stop() == 0);
}
