// A worker facing a database error that lasts (a schema this build does not
// know, a revoked grant) tries again less and less often instead of five times
// a second for ever, and goes on as soon as the error ends. Times are read
// from a ManualClock: the gaps between tries are checked, never wall time,
// and the pauses the worker chose are read from its warnings.
#include <doctest/doctest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "base/log.hpp"
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
  // The worker's warnings, kept: each says how long it will wait.
  auto warnings = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  warnings->set_level(spdlog::level::warn);
  warnings->set_pattern("%v");
  const auto level = detail::log().level();
  detail::log().set_level(std::min(level, spdlog::level::warn));
  detail::log().sinks().push_back(warnings);
  struct Restore {
    std::shared_ptr<spdlog::sinks::sink> sink;
    spdlog::level::level_enum level;
    ~Restore() {
      auto& sinks = detail::log().sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
      detail::log().set_level(level);
    }
  } restore{warnings, level};
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
  // Said at the 1st, 2nd, 4th and 8th error in a row, with the pause chosen:
  // doubling from 200 ms, then capped at 10 s.
  std::vector<std::string> said;
  for (const auto& line : warnings->last_formatted())
    if (line.find("database error (") != std::string::npos) said.push_back(line);
  REQUIRE(said.size() >= 4);
  CHECK(said[0].find("(1 in a row; trying again in 200 ms)") != std::string::npos);
  CHECK(said[1].find("(2 in a row; trying again in 400 ms)") != std::string::npos);
  CHECK(said[2].find("(4 in a row; trying again in 1600 ms)") != std::string::npos);
  CHECK(said[3].find("(8 in a row; trying again in 10000 ms)") != std::string::npos);
  CHECK(advance_until([&] { return client.get_task(uuid).state == TaskState::complete; }));
  worker.stop();
  CHECK(worker.stats().succeeded == 1);
}
