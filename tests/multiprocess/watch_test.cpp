// Announcing the end of a task (docs/architecture.md, "Wake-ups"): on
// PostgreSQL a commit NOTIFYs a task's end only while another process watches
// it (Store::watch_task, which Client::wait_for_task uses), because every
// notifying commit waits for the one before it. A second store on the same
// database stands for the other process: what it hears came by NOTIFY, in
// commit order, so an end it did not hear before one it did was not announced.
#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "tasker/client.hpp"
#include "tasker/store.hpp"
#include "tasker/testing.hpp"

using namespace mp;
using tasker::testing::Harness;

namespace {

std::unique_ptr<Harness> postgres_harness() {
  tasker::testing::HarnessOptions options;
  options.backend = tasker::testing::Backend::postgres;
  options.template_paths = {templates_dir()};
  return std::make_unique<Harness>(std::move(options));
}

/// The task ends another store heard of, in order.
class Heard {
 public:
  explicit Heard(tasker::Store& store)
      : subscription_(store.on_tasks_finished([this](const std::vector<std::string>& uuids) {
          std::lock_guard lock(mutex_);
          for (const auto& u : uuids) uuids_.push_back(u);
          cv_.notify_all();
        })) {}

  /// Everything heard once `uuid` has been (the test fails if it never is).
  std::vector<std::string> through(const std::string& uuid) {
    std::unique_lock lock(mutex_);
    const bool heard = cv_.wait_for(lock, tasker::testing::scaled(std::chrono::seconds{60}),
                                    [&] { return std::find(uuids_.begin(), uuids_.end(), uuid) != uuids_.end(); });
    REQUIRE_MESSAGE(heard, "the end of task " << uuid << " was never announced");
    return uuids_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> uuids_;
  std::shared_ptr<void> subscription_;
};

tasker::TimePoint now() { return tasker::SystemClock::instance().now(); }

/// Run every step of `task_uuid` through `store`, as a worker would.
void finish(tasker::Store& store, const std::string& task_uuid) {
  tasker::ClaimRequest claim;
  claim.worker_id = "watch-test";
  claim.filter.callables = {"mp.work"};
  claim.filter.task_uuids = {task_uuid};
  std::vector<tasker::StepOutcome> outcomes;
  for (int i = 0; i < 10; ++i) {
    auto r = store.exchange(outcomes, &claim, now());
    outcomes.clear();
    if (r.claimed.empty()) return;
    for (const auto& s : r.claimed) {
      tasker::StepOutcome o;
      o.step_id = s.step_id;
      o.claim_token = s.claim_token;
      o.result = tasker::json::object();
      outcomes.push_back(o);
    }
  }
  FAIL("task " << task_uuid << " did not finish in 10 exchanges");
}

}  // namespace

TEST_CASE("watchers: on PostgreSQL a task's end is announced to other processes only while it is watched") {
  auto h = postgres_harness();
  tasker::StoreOptions options;
  options.pool_size = 1;
  auto other = tasker::open_store(h->database_url(), options);
  Heard heard(*other);
  Heard here(*h->store());
  auto submit = [&](int n) { return h->submit(h->create_task_request("multiprocess", "chain", {{"n", n}})).uuid; };
  const auto later = now() + std::chrono::minutes{10};

  // Ends recorded by a worker transaction (tasker_exchange).
  const std::string unwatched = submit(1), watched = submit(2), dropped = submit(3), last = submit(4);
  finish(*h->store(), unwatched);
  auto watch = other->watch_task(watched, later, now());
  REQUIRE(watch);
  finish(*h->store(), watched);
  CHECK(heard.through(watched) == std::vector<std::string>{watched});
  // A watch ends with its handle.
  (void)other->watch_task(dropped, later, now());
  finish(*h->store(), dropped);
  auto watch_last = other->watch_task(last, later, now());
  finish(*h->store(), last);
  CHECK(heard.through(last) == std::vector<std::string>{watched, last});
  // In the committing process every end is heard, watched or not.
  CHECK(here.through(last) == std::vector<std::string>{unwatched, watched, dropped, last});

  // Ends recorded by an operator action (the multi-statement path).
  const std::string cancelled = submit(5), cancelled_watched = submit(6);
  (void)h->client().cancel(cancelled, "not needed");
  auto watch_cancel = other->watch_task(cancelled_watched, later, now());
  (void)h->client().cancel(cancelled_watched, "not needed");
  CHECK(heard.through(cancelled_watched) == std::vector<std::string>{watched, last, cancelled_watched});

  // A watch past its end announces nothing.
  const std::string expired = submit(7), final_task = submit(8);
  auto stale = other->watch_task(expired, now() - std::chrono::seconds{1}, now());
  finish(*h->store(), expired);
  auto watch_final = other->watch_task(final_task, later, now());
  finish(*h->store(), final_task);
  CHECK(heard.through(final_task) == std::vector<std::string>{watched, last, cancelled_watched, final_task});
}

TEST_CASE("watchers: Client::wait_for_task in another process wakes on the task's end, not on its poll") {
  auto h = postgres_harness();
  auto store = tasker::open_store(h->database_url());
  Heard heard(*store);  // what reached the waiting process by NOTIFY
  tasker::Client waiting(store, h->templates());
  const std::string task = h->submit(h->create_task_request("multiprocess", "chain", {{"n", 1}})).uuid;
  Db db(h->database_url());
  // Finish the task once the waiter watches it, so that only the NOTIFY can
  // tell it the task ended: its next look would come after an hour.
  std::thread worker([&] {
    const auto limit = std::chrono::steady_clock::now() + tasker::testing::scaled(std::chrono::seconds{60});
    while (db.scalar("SELECT COUNT(*) FROM tasker_task_watchers") == 0 && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    finish(*h->store(), task);
  });
  auto seen = waiting.wait_for_task(task, tasker::testing::scaled(std::chrono::seconds{60}), std::chrono::hours{1});
  worker.join();
  CHECK(seen.state == tasker::TaskState::complete);
  // The end reached the waiting process by NOTIFY, which is what woke it: its poll was an hour
  // away. (Had the worker finished before the wait's first look, the wait would have returned at
  // once; the worker's four exchanges after it sees the watch make that unlikely, not impossible.)
  CHECK(heard.through(task) == std::vector<std::string>{task});
  // The watch ended with the wait.
  CHECK(db.scalar("SELECT COUNT(*) FROM tasker_task_watchers") == 0);
}
