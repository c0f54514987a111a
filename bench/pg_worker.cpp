// One worker process of bench_postgres (bench/postgres.cpp). Runs a Worker
// with the no-op handler `bench.noop` against its own store (its own
// connections), driven through stdin/stdout:
//
//   bench_pg_worker --db URL --id ID [--concurrency N] [--batch N] [--report-completions]
//
//   prints `ready`          once the store is open and the worker built;
//   reads `go`              then starts the worker;
//   reads `stop` (or EOF)   then stops it gracefully, prints one JSON line
//                           {"id":..,"claimed":..,"succeeded":..,"failed":..,
//                            "discarded":..,"transactions":..} and exits 0.
//
// With --report-completions it prints `done TASK_UUID EPOCH_MICROSECONDS` as
// soon as a transaction that completed a task has committed (the
// task.completed event), for the driver's latency figures. EOF on stdin (the
// driver died) also stops the worker, so no process outlives the driver.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>

#include "bench_common.hpp"
#include "tasker/events.hpp"
#include "tasker/store.hpp"
#include "tasker/worker.hpp"

namespace {

std::mutex out_mutex;

void say(const std::string& line) {
  std::lock_guard lock(out_mutex);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::int64_t epoch_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  bool report = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--report-completions") {
      report = true;
    } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
      flags[a.substr(2)] = argv[++i];
    } else {
      fmt::print(stderr, "bench_pg_worker: unexpected argument `{}`\n", a);
      return 2;
    }
  }
  if (!flags.count("db") || !flags.count("id")) {
    fmt::print(stderr,
               "usage: bench_pg_worker --db URL --id ID [--concurrency N] [--batch N] [--report-completions]\n");
    return 2;
  }
  tasker::WorkerOptions options;
  options.worker_id = flags["id"];
  if (flags.count("concurrency")) options.concurrency = std::stoi(flags["concurrency"]);
  if (flags.count("batch")) options.batch_size = std::stoi(flags["batch"]);

  auto events = std::make_shared<tasker::EventBus>();
  if (report)
    events->subscribe(tasker::events::kTaskCompleted,
                      [](const tasker::LifecycleEvent& e) { say(fmt::format("done {} {}", e.task_uuid, epoch_us())); });
  tasker::StoreOptions store_options;
  store_options.pool_size = 2;  // the coordinator's transactions; heartbeats
  auto store = tasker::open_store(flags["db"], store_options);
  tasker::Worker worker(store, bench::noop_registry(), options, events);
  say("ready");

  std::string line;
  bool started = false;
  while (std::getline(std::cin, line)) {
    if (line == "go" && !started) {
      worker.start();
      started = true;
    } else if (line == "stop") {
      break;
    }
  }
  worker.stop();
  auto s = worker.stats();
  say(fmt::format(R"({{"id":"{}","claimed":{},"succeeded":{},"failed":{},"discarded":{},"transactions":{}}})",
                  options.worker_id, s.claimed, s.succeeded, s.failed, s.discarded, s.transactions));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_pg_worker: {}\n", e.what());
    return 1;
  }
}
