// Purging finished tasks on PostgreSQL while worker processes drain new work
// (docs/performance.md, "Purge"; issue 23).
//
//   1. HISTORY finished 4-step tasks: one is run by the engine and archived
//      (a Client::purge with an in-memory sink), then imported HISTORY times
//      under new uuids (Client::import_archive, 200 a transaction);
//   2. WORKERS bench_pg_worker processes drain DRAIN new 4-step tasks: steps/s;
//   3. the same drain again while this process purges every task finished
//      before it began (Client::purge, 200 tasks a transaction): the purge's
//      rate, its longest transaction, and the drain's steps/s beside it.
//
//   bench_purge URL [HISTORY=100000] [DRAIN=2000] [WORKERS=4] [PAUSE_MS=0]
//
// PAUSE_MS: the purge's pause after each transaction (PurgeRequest::pause).
//
// URL: a PostgreSQL database (scripts/pg-test-server start DIR PORT --durable).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/store.hpp"
#include "tasker/worker.hpp"

using namespace bench;
using std::chrono::milliseconds;

namespace {

long long now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

tasker::TaskRequest linear_request(int i, const std::string& run) {
  tasker::TaskRequest r;
  r.namespace_name = kNamespace;
  r.name = template_name(Shape::linear, 4);
  r.context = {{"i", i}, {"run", run}};
  return r;
}

/// A finished task's archive record with new uuids: a fresh copy of it.
tasker::json copy_of(const tasker::json& record, int n) {
  tasker::json copy = record;
  const std::string suffix = fmt::format("{:012x}", n);
  auto renamed = [&](const std::string& uuid) { return uuid.substr(0, 24) + suffix; };
  copy["task"]["uuid"] = renamed(record["task"]["uuid"].get<std::string>());
  copy["task"]["identity_hash"] = nullptr;
  for (auto& s : copy["steps"]) s["uuid"] = renamed(s["uuid"].get<std::string>());
  return copy;
}

/// Drain `count` new tasks with `workers` bench_pg_worker processes; `beside` runs
/// meanwhile. Returns the drain's steps per second.
double drain(tasker::Client& client, pqxx::connection& db, const std::string& url, const std::string& worker_path,
             int workers, int count, const std::string& run, const std::function<void()>& beside) {
  for (int i = 0; i < count; ++i) client.submit(linear_request(i, run));
  std::vector<FILE*> procs;
  for (int w = 0; w < workers; ++w) {
    const std::string cmd =
        fmt::format("'{}' --db '{}' --id {}-w{} --concurrency 4 > /dev/null", worker_path, url, run, w + 1);
    FILE* p = popen(cmd.c_str(), "w");
    if (!p) throw std::runtime_error("cannot start " + worker_path);
    procs.push_back(p);
  }
  const auto started = SteadyClock::now();
  for (FILE* p : procs) {
    std::fputs("go\n", p);
    std::fflush(p);
  }
  auto side = std::async(std::launch::async, beside);
  const std::string left = fmt::format(
      "SELECT count(*) FROM tasker_tasks WHERE state IN ('pending', 'in_progress') AND context->>'run' = '{}'", run);
  for (;;) {
    pqxx::nontransaction w(db);
    if (w.exec1(left)[0].as<long long>() == 0) break;
    std::this_thread::sleep_for(milliseconds{50});
  }
  const double seconds = seconds_since(started);
  side.get();
  for (FILE* p : procs) {
    std::fputs("stop\n", p);
    std::fflush(p);
  }
  for (FILE* p : procs) pclose(p);
  return 4.0 * count / seconds;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help") {
    fmt::print("usage: bench_purge URL [HISTORY=100000] [DRAIN=2000] [WORKERS=4] [PAUSE_MS=0]\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string url = argv[1];
  const int history = argc > 2 ? std::stoi(argv[2]) : 100'000;
  const int drained = argc > 3 ? std::stoi(argv[3]) : 2000;
  const int workers = argc > 4 ? std::stoi(argv[4]) : 4;
  const milliseconds pause{argc > 5 ? std::stoll(argv[5]) : 0};
  const std::string worker_path = (std::filesystem::path(argv[0]).parent_path() / "bench_pg_worker").string();

  auto store = tasker::open_store(url);
  auto templates = make_templates({{Shape::linear, 4}});
  tasker::Client client(store, templates);
  pqxx::connection db(url.substr(0, url.find('?')));

  // 1. The history: one task run and archived, imported `history` times.
  const auto seed = client.submit(linear_request(-1, "seed"));
  {
    tasker::WorkerOptions o;
    o.fire_schedules = false;
    tasker::Worker worker(store, noop_registry(), o);
    worker.start();
    client.wait_for_task(seed.uuid, std::chrono::seconds{60});
    worker.stop();
  }
  std::vector<tasker::json> archived;
  tasker::PurgeRequest take;
  take.older_than = milliseconds{0};
  take.states = {tasker::TaskState::complete};
  take.archive = [&](const std::vector<tasker::json>& records) {
    archived.insert(archived.end(), records.begin(), records.end());
  };
  client.purge(take);
  if (archived.size() != 1) throw std::runtime_error("the seed task was not archived");
  const auto filling = SteadyClock::now();
  for (int at = 0; at < history; at += 10'000) {
    std::vector<tasker::json> copies;
    for (int n = at; n < std::min(history, at + 10'000); ++n) copies.push_back(copy_of(archived[0], n));
    client.import_archive(copies);
  }
  {
    pqxx::nontransaction w(db);
    w.exec0("ANALYZE");
  }
  fmt::print("history: {} finished 4-step tasks imported in {:.1f} s\n", history, seconds_since(filling));

  // 2. The drain alone.
  const double alone = drain(client, db, url, worker_path, workers, drained, "alone", [] {});
  fmt::print("drain of {} tasks by {} workers alone: {} steps/s\n", drained, workers, rate(alone));

  // 3. The drain with the purge of everything finished before it.
  tasker::PurgeResult purged;
  double purge_seconds = 0;
  const long long cutoff = now_ms();
  const double beside = drain(client, db, url, worker_path, workers, drained, "beside", [&] {
    tasker::PurgeRequest r;
    r.states = {tasker::TaskState::complete};
    r.older_than = milliseconds{std::max(0LL, now_ms() - cutoff)};
    r.pause = pause;
    const auto started = SteadyClock::now();
    purged = client.purge(r);
    purge_seconds = seconds_since(started);
  });
  fmt::print("drain of {} tasks by {} workers beside the purge: {} steps/s ({:.2f}x alone)\n", drained, workers,
             rate(beside), beside / alone);
  fmt::print("purge (pause {} ms): {} tasks in {:.1f} s ({} tasks/s), {} transactions, the longest {:.1f} ms\n",
             pause.count(), purged.tasks, purge_seconds, rate(static_cast<double>(purged.tasks) / purge_seconds),
             purged.transactions, static_cast<double>(purged.longest_transaction.count()) / 1000.0);
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "bench_purge: {}\n", e.what());
  return 1;
}
