// bench_dynamic: the cost of steps created at run time, measured (never
// asserted). For a batchable step creating N instances (N = 100 and 10,000):
// the time to create them (the one transaction recording the batchable step's
// outcome, timed around Store::exchange), the drain rate of the
// instances, and the convergence step's cost (claimed with N ancestors); and a
// chain of N steps where every step reads the first step's result by name.
// Per-step cost at 10,000 against 100 shows whether anything turns quadratic.
//
//   bench_dynamic [--db URL] [--small 100] [--large 10000] [--concurrency 16] [--batch 16]
//
// Default database: a fresh SQLite file per run under /tmp (synchronous=normal
// unless the URL says otherwise). For PostgreSQL start a durable server with
// scripts/pg-test-server start DIR PORT --durable and pass its URL; each run
// gets its own schema.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "tasker/tasker.hpp"

namespace {

using Steady = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Options {
  std::string db;
  std::size_t small{100};
  std::size_t large{10'000};
  int concurrency{16};
  int batch{16};
  int reps{3};  ///< runs of each size; the median is reported
};

/// The run whose `total_ms` is the median of `reps` runs of `run()`.
template <typename Run, typename F>
Run median_of(int reps, F&& run) {
  std::vector<Run> runs;
  runs.reserve(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i) runs.push_back(run());
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.total_ms < b.total_ms; });
  return runs[runs.size() / 2];
}

std::string batch_yaml() {
  return R"(name: batch
namespace_name: bench_dynamic
version: 1.0.0
steps:
  - {name: plan, type: batchable, handler: {callable: bench.plan}}
  - name: work
    type: batch_worker
    dependencies: [plan]
    handler: {callable: bench.work}
    batch_config: {worker_template: work, parallelism: 1000}
  - {name: collect, type: deferred_convergence, dependencies: [work], handler: {callable: bench.collect}}
)";
}

std::string chain_yaml(std::size_t n) {
  std::string y = fmt::format("name: chain_{}\nnamespace_name: bench_dynamic\nversion: 1.0.0\nsteps:\n", n);
  for (std::size_t i = 0; i < n; ++i) {
    y += fmt::format("  - name: s{:05}\n    handler: {{callable: bench.read_first}}\n", i);
    if (i > 0) y += fmt::format("    dependencies: [s{:05}]\n", i - 1);
  }
  return y;
}

/// The batchable step's result: one cursor (one instance) per item.
tasker::json plan_result(long long n) {
  tasker::json cursors = tasker::json::array();
  for (long long i = 0; i < n; ++i)
    cursors.push_back({{"batch_id", fmt::format("{:05}", i)}, {"start_cursor", i}, {"end_cursor", i + 1}});
  return tasker::json{{"batch_processing_outcome",
                       {{"type", "create_batches"}, {"worker_template_name", "work"}, {"cursor_configs", cursors}}}};
}

std::shared_ptr<tasker::HandlerRegistry> handlers() {
  auto h = std::make_shared<tasker::HandlerRegistry>();
  h->add("bench.plan", [](tasker::StepContext& c) { return plan_result(c.context().at("instances")); });
  h->add("bench.work", [](tasker::StepContext& c) {
    return tasker::json{{"item", c.initialization().at("cursor").at("start_cursor")}};
  });
  h->add("bench.collect", [](tasker::StepContext& c) {
    return tasker::json{{"instances", c.dependency_results().size() - 1}};  // every ancestor but the batchable step
  });
  h->add("bench.read_first", [](tasker::StepContext& c) {
    if (c.step_name() == "s00000") return tasker::json{{"first", true}};
    return tasker::json{{"first_was", c.ancestor_result("s00000").at("first")}};
  });
  return h;
}

tasker::TemplateSet templates_of(const std::string& yaml) {
  auto result = tasker::load_templates_from_string(yaml, "bench.yaml");
  if (!result.ok()) throw tasker::TemplateError(result.diagnostics);
  tasker::TemplateSet set;
  set.add_all(result);
  return set;
}

struct Database {
  std::string url;
  fs::path file;  // SQLite: removed afterwards
  ~Database() {
    std::error_code ec;
    if (!file.empty())
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix, ec);
  }
};

std::unique_ptr<Database> fresh(const Options& o, const std::string& label) {
  auto d = std::make_unique<Database>();
  static int n = 0;
  if (o.db.empty()) {
    d->file = fs::temp_directory_path() / fmt::format("bench-dynamic-{}-{}-{}.db", getpid(), label, n++);
    d->url = "sqlite://" + d->file.string() + "?synchronous=normal";
  } else {
    d->url = o.db + (o.db.find('?') == std::string::npos ? "?" : "&") +
             fmt::format("schema=bench_dynamic_{}_{}_{}", getpid(), label, n++);
  }
  return d;
}

/// When each step of `task` first reached `state` (transition timestamps).
std::map<std::string, tasker::TimePoint> reached(tasker::Client& c, const std::string& task, const std::string& state) {
  std::map<std::string, tasker::TimePoint> at;
  for (const auto& t : c.transitions(task))
    if (!t.step_name.empty() && t.to_state == state) at.emplace(t.step_name, t.at);
  return at;
}

double ms_between(tasker::TimePoint a, tasker::TimePoint b) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

struct BatchRun {
  std::size_t n;
  double create_ms, drain_ms, converge_ms, total_ms;
};

BatchRun run_batch(const Options& o, std::size_t n) {
  auto db = fresh(o, fmt::format("batch{}", n));
  auto store = tasker::open_store(db->url);
  tasker::Client client(store, templates_of(batch_yaml()));
  tasker::WorkerOptions wo;
  wo.concurrency = o.concurrency;
  wo.batch_size = o.batch;
  wo.jitter = false;
  tasker::Worker worker(store, handlers(), wo);
  auto task = client.submit({.namespace_name = "bench_dynamic", .name = "batch", .context = {{"instances", n}}});
  const auto start = Steady::now();
  // The plan step through the store, to time the one transaction that records
  // its outcome and creates the N instances; the worker drains the rest.
  tasker::ClaimRequest claim{"bench-planner", {{"bench.plan"}, {}, {}}, 1, std::chrono::seconds{60}, false, false};
  auto planned = store->exchange({}, &claim, tasker::SystemClock::instance().now());
  if (planned.claimed.size() != 1) throw std::runtime_error("the plan step was not claimed");
  tasker::StepOutcome outcome;
  outcome.step_id = planned.claimed[0].step_id;
  outcome.claim_token = planned.claimed[0].claim_token;
  outcome.result = plan_result(static_cast<long long>(n));
  const auto create_start = Steady::now();
  (void)store->exchange({outcome}, nullptr, tasker::SystemClock::instance().now());
  const double create_ms = std::chrono::duration<double, std::milli>(Steady::now() - create_start).count();
  worker.run_until_idle();
  const double wall = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
  if (client.get_task(task.uuid).state != tasker::TaskState::complete)
    throw std::runtime_error("batch did not complete");
  auto completed = reached(client, task.uuid, "complete");
  auto started = reached(client, task.uuid, "in_progress");
  tasker::TimePoint first_instance = tasker::TimePoint::max(), last_instance = tasker::TimePoint::min();
  for (const auto& [name, at] : started)
    if (name.rfind("work_", 0) == 0) first_instance = std::min(first_instance, at);
  for (const auto& [name, at] : completed)
    if (name.rfind("work_", 0) == 0) last_instance = std::max(last_instance, at);
  return {n, create_ms, ms_between(first_instance, last_instance), ms_between(last_instance, completed.at("collect")),
          wall};
}

struct ChainRun {
  std::size_t n;
  double total_ms;
};

ChainRun run_chain(const Options& o, std::size_t n) {
  auto db = fresh(o, fmt::format("chain{}", n));
  auto store = tasker::open_store(db->url);
  tasker::Client client(store, templates_of(chain_yaml(n)));
  tasker::WorkerOptions wo;
  wo.concurrency = 1;
  wo.batch_size = 1;
  tasker::Worker worker(store, handlers(), wo);
  auto task = client.submit({.namespace_name = "bench_dynamic", .name = fmt::format("chain_{}", n)});
  const auto start = Steady::now();
  worker.run_until_idle();
  const double wall = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
  if (client.get_task(task.uuid).state != tasker::TaskState::complete)
    throw std::runtime_error("chain did not complete");
  return {n, wall};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--db")
      o.db = value;
    else if (flag == "--small")
      o.small = std::stoul(value);
    else if (flag == "--large")
      o.large = std::stoul(value);
    else if (flag == "--concurrency")
      o.concurrency = std::stoi(value);
    else if (flag == "--batch")
      o.batch = std::stoi(value);
    else if (flag == "--reps")
      o.reps = std::max(1, std::stoi(value));
    else {
      fmt::print(stderr,
                 "usage: bench_dynamic [--db URL] [--small N] [--large N] [--concurrency N] [--batch N] [--reps N]\n");
      return 2;
    }
  }
  try {
    fmt::print("## Batch instances created at run time ({}, worker c{} b{}, median of {} runs)\n\n",
               o.db.empty() ? "SQLite, synchronous=normal" : "PostgreSQL", o.concurrency, o.batch, o.reps);
    fmt::print("| instances | create ms | drain ms | instances/s | convergence ms | total ms | µs per instance |\n");
    fmt::print("|---:|---:|---:|---:|---:|---:|---:|\n");
    std::vector<BatchRun> runs{median_of<BatchRun>(o.reps, [&] { return run_batch(o, o.small); }),
                               median_of<BatchRun>(o.reps, [&] { return run_batch(o, o.large); })};
    for (const auto& r : runs)
      fmt::print("| {} | {:.1f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |\n", r.n, r.create_ms, r.drain_ms,
                 r.drain_ms > 0 ? 1000.0 * static_cast<double>(r.n) / r.drain_ms : 0.0, r.converge_ms, r.total_ms,
                 1000.0 * r.total_ms / static_cast<double>(r.n));
    const double ratio =
        (runs[1].total_ms / static_cast<double>(runs[1].n)) / (runs[0].total_ms / static_cast<double>(runs[0].n));
    fmt::print("\nper-instance cost at {} ÷ at {}: {:.2f}\n\n", o.large, o.small, ratio);

    fmt::print(
        "## A chain where every step reads the first step's result by name (worker c1 b1, median of {} runs)\n\n",
        o.reps);
    fmt::print("| steps | total ms | µs per step |\n|---:|---:|---:|\n");
    std::vector<ChainRun> chains{median_of<ChainRun>(o.reps, [&] { return run_chain(o, o.small); }),
                                 median_of<ChainRun>(o.reps, [&] { return run_chain(o, o.large); })};
    for (const auto& r : chains)
      fmt::print("| {} | {:.0f} | {:.0f} |\n", r.n, r.total_ms, 1000.0 * r.total_ms / static_cast<double>(r.n));
    fmt::print("\nper-step cost at {} ÷ at {}: {:.2f}\n", o.large, o.small,
               (chains[1].total_ms / static_cast<double>(chains[1].n)) /
                   (chains[0].total_ms / static_cast<double>(chains[0].n)));
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_dynamic: {}\n", e.what());
    return 1;
  }
  return 0;
}
