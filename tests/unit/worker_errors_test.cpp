// A worker facing a database error that lasts (a schema this build does not
// know, a revoked grant) tries again less and less often instead of five times
// a second for ever, and goes on as soon as the error ends. Times are read
// from a ManualClock: the gaps between tries are checked, never wall time.
#include <doctest/doctest.h>

#include <mutex>
#include <thread>

#include "forwarding_store.hpp"
#include "helpers.hpp"
#include "tasker/client.hpp"
#include "tasker/clock.hpp"
#include "tasker/errors.hpp"
#include "tasker/worker.hpp"

using namespace tasker;
using std::chrono::milliseconds;

TEST_CASE(
    "worker errors: a lasting database error is tried again after 200 ms, doubling up to 10 s, then work goes on") {
  test::TempDir dir;
  ManualClock clock(SystemClock::instance().now());  // the task is submitted on the system clock
  auto inner = open_store("sqlite://" + (dir.path() / "tasker.db").string());
  std::mutex mutex;
  std::vector<TimePoint> tries;
  bool failing = true;
  auto store = std::make_shared<test::ForwardingStore>(
      inner, [&](const std::vector<StepOutcome>&, const ClaimRequest*, TimePoint now) {
        std::lock_guard lock(mutex);
        if (!failing) return;
        tries.push_back(now);
        throw StorageError("the database has schema version 99, newer than this tasker build knows");
      });

  LoadResult loaded = load_templates_from_string(
      "name: one\nnamespace_name: unit\nversion: 1.0.0\nsteps:\n  - name: only\n    handler: {callable: fine}\n",
      "one.yaml", test::env("test"));
  REQUIRE(loaded.ok());
  TemplateSet templates;
  templates.add_all(loaded);
  Client client(inner, std::move(templates));
  TaskRequest request;
  request.namespace_name = "unit";
  request.name = "one";
  const std::string uuid = client.submit(request).uuid;

  auto handlers = std::make_shared<HandlerRegistry>();
  handlers->add("fine", [](StepContext&) { return json(1); });
  WorkerOptions options;
  options.clock = &clock;
  options.lease = milliseconds{60'000};  // a third of it is more than 10 s: the cap is 10 s
  Worker worker(store, handlers, options);
  worker.start();

  const auto count = [&] {
    std::lock_guard lock(mutex);
    return tries.size();
  };
  // Clock time moves on in small steps; the worker tries whenever its pause has passed.
  const auto advance_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 200'000 && !done(); ++i) {
      clock.advance(milliseconds{50});
      std::this_thread::sleep_for(std::chrono::microseconds{200});
    }
    return done();
  };
  REQUIRE(advance_until([&] { return count() >= 9; }));
  {
    std::lock_guard lock(mutex);
    const std::vector<milliseconds> least{milliseconds{200},    milliseconds{400},   milliseconds{800},
                                          milliseconds{1'600},  milliseconds{3'200}, milliseconds{6'400},
                                          milliseconds{10'000}, milliseconds{10'000}};
    for (std::size_t i = 0; i < least.size(); ++i) {
      CAPTURE(i);
      CHECK(tries[i + 1] - tries[i] >= least[i]);
    }
    failing = false;
  }
  CHECK(advance_until([&] { return client.get_task(uuid).state == TaskState::complete; }));
  worker.stop();
  CHECK(worker.stats().succeeded == 1);
}
