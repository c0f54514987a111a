// The engine on SQLite (docs/performance.md, "Engine on SQLite"; issue 3's
// benchmark). One run prints every figure:
//
//   1. SQLite's own single-row commit rate (BEGIN IMMEDIATE; INSERT; COMMIT in
//      a tight loop through SQLiteCpp, WAL) on the file system the engine's
//      databases live on, for synchronous=FULL and NORMAL: the ceiling;
//   2. no-op steps per second and steps per committed transaction
//      (WorkerStats::transactions) for 1,000 tasks of a 4-step linear workflow,
//      one 10,000-step fan-out/fan-in task, and one 10,000-step chain, for
//      several worker shapes (handler threads x batch size), both synchronous
//      modes;
//   3. submit-to-complete latency of one 4-step task on a warm store (a worker
//      running in the background), median and p95;
//   4. per-step cost at 100 and at 10,000 steps in one DAG (fan-out/fan-in and
//      chain), and the ratio, which must stay near 1 (readiness is incremental).
//
// Every database is a fresh file in DIR (default: a new folder under /tmp);
// synchronous=FULL is the engine's default and nothing here weakens
// durability beyond the NORMAL rows, which are labelled.
//
//   bench_engine [--quick] [--latency] [--dir DIR] [--reps N]
//       --latency: only the latency table (3.)
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/events.hpp"
#include "tasker/store.hpp"
#include "tasker/worker.hpp"

namespace fs = std::filesystem;
using namespace bench;

namespace {

struct Options {
  bool quick{false};
  std::string one;      ///< --one: a single drain, for profiling
  bool latency{false};  ///< --latency: only the latency table
  fs::path dir;
  int reps{3};
};

enum class Sync { full, normal };
const char* sync_name(Sync s) { return s == Sync::full ? "FULL" : "NORMAL"; }

/// How long the ceiling is measured right before and right after each drain.
constexpr double kInterleavedCeilingS = 0.3;

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}

  fs::path fresh_db(std::string_view label) {
    fs::path p = o_.dir / fmt::format("{:03}-{}.db", ++files_, label);
    remove_db(p);
    return p;
  }
  static void remove_db(const fs::path& p) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(p.string() + suffix);
  }
  static std::string url(const fs::path& p, Sync s) {
    return "sqlite://" + p.string() + (s == Sync::normal ? "?synchronous=normal" : "");
  }

  // -------------------------------------------------------------------------
  // 1. The ceiling

  /// Single-row commits per second: BEGIN IMMEDIATE; INSERT one row; COMMIT.
  double sqlite_commit_rate(Sync sync, double seconds) {
    fs::path p = fresh_db(fmt::format("ceiling-{}", sync_name(sync)));
    double rate = 0;
    {
      SQLite::Database db(p.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("PRAGMA journal_mode=WAL");
      db.exec(fmt::format("PRAGMA synchronous={}", sync_name(sync)));
      db.exec("CREATE TABLE ceiling (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, at INTEGER NOT NULL)");
      SQLite::Statement insert(db, "INSERT INTO ceiling (v, at) VALUES (?1, ?2)");
      auto one = [&](std::int64_t i) {
        db.exec("BEGIN IMMEDIATE");
        insert.bind(1, i);
        insert.bind(2, i * 7);
        insert.exec();
        insert.reset();
        db.exec("COMMIT");
      };
      for (int i = 0; i < 20; ++i) one(i);  // warm: the WAL file exists, pages are cached
      std::int64_t n = 0;
      auto start = SteadyClock::now();
      double elapsed = 0;
      while ((elapsed = seconds_since(start)) < seconds) one(++n);
      rate = static_cast<double>(n) / elapsed;
    }
    remove_db(p);
    return rate;
  }

  // -------------------------------------------------------------------------
  // 2. Throughput

  /// Submit every task, then drain them with one worker (run_until_idle); the
  /// drain is timed. Checks that every step succeeded and every task completed.
  Run run(const Workload& w, WorkerShape ws, Sync sync) {
    auto templates = make_templates({{w.shape, w.steps_per_task}});
    fs::path p = fresh_db(
        fmt::format("{}-{}-c{}b{}-{}", shape_slug(w.shape), w.steps(), ws.concurrency, ws.batch, sync_name(sync)));
    Run r;
    {
      tasker::StoreOptions so;
      so.pool_size = 2;
      auto store = tasker::open_store(url(p, sync), so);
      tasker::Client client(store, templates);
      tasker::TaskRequest req;
      req.namespace_name = kNamespace;
      req.name = template_name(w.shape, w.steps_per_task);
      std::vector<std::string> uuids;
      auto start = SteadyClock::now();
      for (std::size_t i = 0; i < w.tasks; ++i) {
        req.context = {{"i", i}};
        uuids.push_back(client.submit(req).uuid);
      }
      r.submit_s = seconds_since(start);

      tasker::WorkerOptions wo;
      wo.concurrency = ws.concurrency;
      wo.batch_size = ws.batch;
      tasker::Worker worker(store, noop_registry(), wo);
      r.ceiling_before = sqlite_commit_rate(sync, kInterleavedCeilingS);
      start = SteadyClock::now();
      worker.run_until_idle();
      r.drain_s = seconds_since(start);
      r.ceiling_after = sqlite_commit_rate(sync, kInterleavedCeilingS);
      auto st = worker.stats();
      r.steps = st.succeeded;
      r.transactions = st.transactions;
      if (st.succeeded != w.steps() || st.failed != 0)
        throw std::runtime_error(fmt::format("{}: {} steps succeeded and {} failed, expected {} successes", w.label,
                                             st.succeeded, st.failed, w.steps()));
      for (const auto& u : uuids)
        if (auto t = client.get_task(u); t.state != tasker::TaskState::complete)
          throw std::runtime_error(fmt::format("{}: task {} ended {}", w.label, u, tasker::to_string(t.state)));
    }
    remove_db(p);
    return r;
  }

  // -------------------------------------------------------------------------
  // 3. Latency

  /// Submit-to-complete of one 4-step task, `runs` times, on a store with a
  /// worker already running (after a few untimed warm-up tasks).
  std::vector<double> latency(Sync sync, int runs, WorkerShape ws) {
    auto templates = make_templates({{Shape::linear, 4}});
    fs::path p = fresh_db(fmt::format("latency-{}", sync_name(sync)));
    std::vector<double> ms;
    {
      auto store = tasker::open_store(url(p, sync));
      auto events = std::make_shared<tasker::EventBus>();
      std::mutex m;
      std::condition_variable cv;
      std::set<std::string> done;
      events->subscribe(tasker::events::kTaskCompleted, [&](const tasker::LifecycleEvent& e) {
        {
          std::lock_guard lock(m);
          done.insert(e.task_uuid);
        }
        cv.notify_all();
      });
      tasker::WorkerOptions wo;
      wo.concurrency = ws.concurrency;
      wo.batch_size = ws.batch;
      tasker::Worker worker(store, noop_registry(), wo, events);
      worker.start();
      tasker::Client client(store, templates);
      tasker::TaskRequest req;
      req.namespace_name = kNamespace;
      req.name = template_name(Shape::linear, 4);
      const int warm = 5;
      for (int i = 0; i < warm + runs; ++i) {
        req.context = {{"run", i}};
        auto start = SteadyClock::now();
        std::string uuid = client.submit(req).uuid;
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, std::chrono::seconds{30}, [&] { return done.count(uuid) > 0; }))
          throw std::runtime_error(fmt::format("latency: task {} did not complete within 30 s", uuid));
        if (i >= warm) ms.push_back(seconds_since(start) * 1000);
      }
      worker.stop();
    }
    remove_db(p);
    return ms;
  }

  const Options& options() const { return o_; }

 private:
  Options o_;
  int files_{0};
};

/// --one linear|fan|chain:STEPS:TASKS:CONCURRENCY:BATCH:full|normal runs one
/// drain and prints it (to profile the engine under perf or callgrind).
int run_one(const Options& o) {
  std::vector<std::string> f;
  for (std::size_t start = 0;;) {
    auto end = o.one.find(':', start);
    f.push_back(o.one.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (f.size() != 6) throw std::runtime_error("--one needs SHAPE:STEPS:TASKS:CONCURRENCY:BATCH:SYNC");
  Shape shape = f[0] == "fan" ? Shape::fan : f[0] == "chain" ? Shape::chain : Shape::linear;
  Bench b(o);
  Workload w{o.one, shape, std::stoul(f[1]), std::stoul(f[2])};
  Sync sync = f[5] == "normal" ? Sync::normal : Sync::full;
  Run r = b.run(w, {std::stoi(f[3]), std::stoi(f[4])}, sync);
  fmt::print(
      "{}: {} steps in {:.3f} s: {} steps/s, {:.0f} µs/step, {} transactions ({:.2f} steps/txn); ceiling {} / {} "
      "commits/s; submit {:.3f} s\n",
      o.one, r.steps, r.drain_s, rate(r.steps_per_s()), r.us_per_step(), r.transactions, r.steps_per_txn(),
      rate(r.ceiling_before), rate(r.ceiling_after), r.submit_s);
  return 0;
}

/// Submit-to-complete latency of a 4-step task, with the commits it costs
/// at SQLite's own rate measured just before and after as its floor.
void print_latency(Bench& b, int runs, const std::vector<Sync>& syncs) {
  const WorkerShape shape{4, 16};
  fmt::print("\n## Submit-to-complete latency of one 4-step task (warm store, worker c{} b{} running; {} runs)\n\n",
             shape.concurrency, shape.batch, runs);
  fmt::print(
      "| sync | median ms | p95 ms | min ms | max ms | ceiling commits/s before/after | 6 ceiling commits, ms |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|\n");
  for (Sync s : syncs) {
    // A task costs 6 commits: the submit, the first step's claim, then one
    // exchange per step (each records a step and claims the next; the last
    // claims nothing).
    const int commits = 6;
    double before = b.sqlite_commit_rate(s, kInterleavedCeilingS);
    auto v = b.latency(s, runs, shape);
    double after = b.sqlite_commit_rate(s, kInterleavedCeilingS);
    print_latency_row(sync_name(s), v, before, after, commits);
  }
}

int run(const Options& o) {
  Bench b(o);
  const double ceiling_s = o.quick ? 0.5 : 2.0;
  const std::size_t big = o.quick ? 1'000 : 10'000;
  const std::size_t tasks = o.quick ? 100 : 1'000;
  const int latency_runs = o.quick ? 10 : 50;
  const std::vector<Sync> syncs{Sync::full, Sync::normal};

  fmt::print("# bench_engine{}: SQLite {}, databases in {}\n\n", o.quick ? " --quick" : "", sqlite3_libversion(),
             o.dir.string());

  // 1. Ceiling: median of `reps` runs.
  std::map<Sync, double> ceiling;
  fmt::print(
      "## SQLite single-row commit rate (ceiling; BEGIN IMMEDIATE; INSERT; COMMIT; WAL; median of {} x {:.1f} s)\n\n",
      o.reps, ceiling_s);
  fmt::print("| synchronous | commits/s | µs/commit |\n|---|---:|---:|\n");
  for (Sync s : syncs) {
    std::vector<double> rates;
    rates.reserve(static_cast<std::size_t>(o.reps));
    for (int i = 0; i < o.reps; ++i) rates.push_back(b.sqlite_commit_rate(s, ceiling_s));
    ceiling[s] = median(rates);
    fmt::print("| {} | {} | {:.0f} |\n", sync_name(s), rate(ceiling[s]), 1e6 / ceiling[s]);
    std::fflush(stdout);
  }

  // 2. Throughput.
  using W = Workload;
  using WS = WorkerShape;
  const std::vector<W> workloads{
      {fmt::format("{} x linear-4", tasks), Shape::linear, 4, tasks},
      {fmt::format("fan-out/in {}", big), Shape::fan, big, 1},
      {fmt::format("chain {}", big), Shape::chain, big, 1},
  };
  const std::vector<WS> shapes{{1, 1}, {4, 4}, {16, 1}, {16, 16}, {64, 64}};
  fmt::print("\n## Throughput: no-op steps, one worker (handler threads c, batch b); drain timed after submitting\n\n");
  fmt::print(
      "| workload | sync | worker | steps/s | µs/step | transactions | steps/txn | ceiling commits/s before/after | "
      "steps/s ÷ ceiling | submit s |\n");
  fmt::print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  std::map<std::tuple<int, int, int, int>, Run> results;  // workload, sync, c, b
  for (std::size_t wi = 0; wi < workloads.size(); ++wi)
    for (Sync s : syncs)
      for (auto ws : shapes) {
        const W& w = workloads[wi];
        Run r = b.run(w, ws, s);
        results[{static_cast<int>(wi), static_cast<int>(s), ws.concurrency, ws.batch}] = r;
        fmt::print("| {} | {} | c{} b{} | {} | {:.0f} | {} | {:.2f} | {} / {}{} | {:.2f} | {:.2f} |\n", w.label,
                   sync_name(s), ws.concurrency, ws.batch, rate(r.steps_per_s()), r.us_per_step(), r.transactions,
                   r.steps_per_txn(), rate(r.ceiling_before), rate(r.ceiling_after), r.ceiling_moved() ? " †" : "",
                   r.steps_per_s() / r.ceiling(), r.submit_s);
        std::fflush(stdout);
      }

  // 3. Latency.
  print_latency(b, latency_runs, syncs);

  // 4. Flat per-step cost: the same shapes at 100 steps (median of reps) and
  // at `big` steps (the throughput run above), same worker.
  const WS flat_shape{16, 16};
  const std::size_t small = 100;
  fmt::print(
      "\n## Per-step cost at {} and {} steps in one DAG (worker c{} b{}; {}-step figures: median of {} runs)\n\n",
      small, big, flat_shape.concurrency, flat_shape.batch, small, o.reps);
  fmt::print(
      "| shape | sync | µs/step at {0} | µs/step at {1} | ratio | commits' worth per step at {0} | at {1} | ratio | "
      "steps/txn at {0} | at {1} |\n",
      small, big);
  fmt::print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (std::size_t wi = 1; wi < workloads.size(); ++wi)
    for (Sync s : syncs) {
      const W& w = workloads[wi];
      W few{w.label, w.shape, small, 1};
      std::vector<double> us, commits, spt;
      for (int i = 0; i < o.reps; ++i) {
        Run r = b.run(few, flat_shape, s);
        us.push_back(r.us_per_step());
        commits.push_back(r.ceiling() / r.steps_per_s());
        spt.push_back(r.steps_per_txn());
      }
      const Run& large =
          results.at({static_cast<int>(wi), static_cast<int>(s), flat_shape.concurrency, flat_shape.batch});
      const double large_commits = large.ceiling() / large.steps_per_s();
      fmt::print("| {} | {} | {:.0f} | {:.0f} | {:.2f} | {:.3f} | {:.3f} | {:.2f} | {:.2f} | {:.2f} |\n",
                 shape_slug(w.shape), sync_name(s), median(us), large.us_per_step(), large.us_per_step() / median(us),
                 median(commits), large_commits, large_commits / median(commits), median(spt), large.steps_per_txn());
      std::fflush(stdout);
    }
  fmt::print(
      "\n† the file system's flush rate changed by more than 2x between the ceiling measured just before and "
      "just after that drain\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool own_dir = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--one" && i + 1 < argc) {
      o.one = argv[++i];
    } else if (a == "--latency") {
      o.latency = true;
    } else if (a == "--dir" && i + 1 < argc) {
      o.dir = argv[++i];
      own_dir = false;
    } else if (a == "--reps" && i + 1 < argc) {
      o.reps = std::atoi(argv[++i]);
      if (o.reps < 1) {
        fmt::print(stderr, "--reps needs a positive number\n");
        return 2;
      }
    } else if (a == "-h" || a == "--help") {
      fmt::print("usage: bench_engine [--quick] [--latency] [--dir DIR] [--reps N]\n");
      return 0;
    } else {
      fmt::print(stderr, "unknown argument `{}`; usage: bench_engine [--quick] [--latency] [--dir DIR] [--reps N]\n",
                 a);
      return 2;
    }
  }
  if (own_dir) {
    std::string tmpl = (fs::temp_directory_path() / "tasker-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      fmt::print(stderr, "cannot create a folder under {}\n", fs::temp_directory_path().string());
      return 1;
    }
    o.dir = tmpl;
  } else {
    fs::create_directories(o.dir);
  }
  o.dir = fs::absolute(o.dir);
  int rc = 1;
  try {
    if (o.latency) {
      Bench b(o);
      print_latency(b, o.quick ? 10 : 50, {Sync::full, Sync::normal});
      rc = 0;
    } else {
      rc = o.one.empty() ? run(o) : run_one(o);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_engine: {}\n", e.what());
  }
  if (own_dir) {
    std::error_code ec;
    fs::remove_all(o.dir, ec);
  }
  return rc;
}
