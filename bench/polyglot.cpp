// Handlers in other languages against C++ handlers (docs/performance.md,
// "Handlers in other languages"; issue 25). One run prints:
//
//   1. steps/s of one worker process (SQLite, synchronous=FULL) draining
//      201-step fan-out/in tasks whose every step is a trivial handler:
//      C++ in the worker, Python and Node.js in persistent processes
//      (`persistent: true`), and Python started per attempt (the baseline);
//      with the CPU time each step cost: the worker process and every process
//      it started (read from /proc), so a machine busy with other work, which
//      slows the rates, leaves this column about the same;
//   2. what one attempt costs through each kind of handler with no database:
//      the handler called in a loop, median and p99 in microseconds.
//
//   bench_polyglot [--tasks N] [--reps N] [--dir DIR] [--attempts N] [--shapes 2x2,4x4]
//       --tasks: 201-step tasks per drain (default 20; per attempt: 1)
//       --only LABEL: run only this handler kind (e.g. "python persistent"), for a profiler
//       --reps: drains per handler and shape, taken in turns (kind after kind),
//               so a machine busy with something else slows every kind alike;
//               the median is shown (default 3)
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/resource.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/store.hpp"
#include "tasker/worker.hpp"

namespace {

using bench::SteadyClock;

/// CPU seconds (user + system) of this process, of the processes below it that ended (a
/// supervisor counts its command's), and of those below it that still run.
double cpu_seconds() {
  rusage self{}, ended{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &ended);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  double total = secs(self.ru_utime) + secs(self.ru_stime) + secs(ended.ru_utime) + secs(ended.ru_stime);
  std::map<pid_t, std::pair<pid_t, double>> procs;  // pid -> (parent, cpu seconds)
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    const auto close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    unsigned long long skip = 0, utime = 0, stime = 0;
    fields >> state >> ppid;
    for (int f = 0; f < 9; ++f) fields >> skip;  // pgrp .. cmajflt
    fields >> utime >> stime;
    procs[static_cast<pid_t>(std::stol(name))] = {static_cast<pid_t>(ppid), static_cast<double>(utime + stime) / tick};
  }
  const pid_t me = ::getpid();
  for (const auto& [pid, info] : procs) {
    for (pid_t up = info.first; up > 1;) {
      if (up == me) {
        total += info.second;
        break;
      }
      auto it = procs.find(up);
      up = it == procs.end() ? 0 : it->second.first;
    }
  }
  return total;
}

struct Drained {
  double steps_per_s{0};
  double cpu_us_per_step{0};
};
constexpr std::size_t kSteps = 201;

struct Kind {
  std::string label;
  std::function<tasker::StepHandler()> make;
  std::size_t tasks;  ///< per drain
};

tasker::StepHandler cpp_noop() {
  return [](tasker::StepContext&) { return tasker::json::object(); };
}

tasker::StepHandler command(std::vector<std::string> argv, bool persistent) {
  tasker::CommandSpec spec;
  spec.argv = std::move(argv);
  spec.working_directory = std::string(TASKER_SOURCE_DIR) + "/bench/polyglot";
  spec.environment["PYTHONPATH"] = std::string(TASKER_SOURCE_DIR) + "/clients/python/src";
  spec.persistent = persistent;
  spec.callable = bench::kCallable;
  return tasker::make_command_handler(spec);
}

/// One drain: `tasks` tasks submitted, then one worker of `shape` runs them all.
Drained drain(const Kind& kind, bench::WorkerShape shape, const std::filesystem::path& dir) {
  const auto file = dir / fmt::format("{}-{}x{}.db", kind.label, shape.concurrency, shape.batch);
  std::filesystem::remove(file);
  auto store = tasker::open_store("sqlite://" + file.string());
  auto templates = bench::make_templates({{bench::Shape::fan, kSteps}});
  tasker::Client client(store, templates);
  auto registry = std::make_shared<tasker::HandlerRegistry>();
  registry->add(bench::kCallable, kind.make());
  // Warm up: one task, so processes are running before the clock starts (a worker runs for long).
  tasker::WorkerOptions options;
  options.concurrency = shape.concurrency;
  options.batch_size = shape.batch;
  options.jitter = false;
  {
    client.submit({.namespace_name = bench::kNamespace,
                   .name = bench::template_name(bench::Shape::fan, kSteps),
                   .context = {{"warm", true}}});
    tasker::Worker warm(store, registry, options);
    warm.run_until_idle();
  }
  for (std::size_t i = 0; i < kind.tasks; ++i)
    client.submit({.namespace_name = bench::kNamespace,
                   .name = bench::template_name(bench::Shape::fan, kSteps),
                   .context = {{"i", i}}});
  tasker::Worker worker(store, registry, options);
  const double cpu0 = cpu_seconds();
  const auto t0 = SteadyClock::now();
  worker.run_until_idle();
  const double s = bench::seconds_since(t0);
  const double cpu = cpu_seconds() - cpu0;
  if (worker.stats().succeeded != kind.tasks * kSteps)
    throw std::runtime_error(
        fmt::format("{}: {} steps succeeded of {}", kind.label, worker.stats().succeeded, kind.tasks * kSteps));
  const auto steps = static_cast<double>(kind.tasks * kSteps);
  return {steps / s, cpu * 1e6 / steps};
}

/// Microseconds per attempt, `n` attempts of `handler` called directly.
std::vector<double> attempts(const tasker::StepHandler& handler, int n) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  const auto& clock = tasker::SystemClock::instance();
  for (int i = 0; i < n; ++i) {
    tasker::StepContext ctx("11111111-2222-4333-8444-555555555555", "s00001", {{"i", i}}, tasker::json::object(),
                            {{"s00000", tasker::json::object()}}, 1, clock.now() + std::chrono::seconds{30}, clock);
    const auto t0 = SteadyClock::now();
    (void)handler(ctx);
    us.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count());
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t tasks = 20;
  int reps = 3;
  std::string only;
  int n = 20'000;
  std::filesystem::path dir;
  std::vector<bench::WorkerShape> shapes{{2, 2}, {4, 4}, {8, 8}};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--tasks") == 0) tasks = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--attempts") == 0) n = std::max(10, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--shapes") == 0) {
      shapes.clear();
      for (std::string s = argv[i + 1]; !s.empty();) {
        const auto comma = s.find(',');
        const std::string one = s.substr(0, comma);
        shapes.push_back({std::stoi(one.substr(0, one.find('x'))), std::stoi(one.substr(one.find('x') + 1))});
        s = comma == std::string::npos ? "" : s.substr(comma + 1);
      }
    }
  }
  if (dir.empty()) {
    char pattern[] = "/tmp/tasker-bench-polyglot-XXXXXX";
    dir = ::mkdtemp(pattern);
  }
  std::filesystem::create_directories(dir);
  std::vector<Kind> kinds{
      {"cpp", cpp_noop, tasks},
      {"python persistent",
       [] {
         return command({"python3", "-m", "tasker.worker", "bench_handlers"}, true);
       },
       tasks},
      {"node persistent",
       [] {
         return command({"node", "noop.js"}, true);
       },
       tasks},
      {"python per attempt",
       [] {
         return command({"python3", "-m", "tasker.worker", "bench_handlers"}, false);
       },
       1},
  };

  if (!only.empty()) {
    std::erase_if(kinds, [&](const Kind& k) { return k.label != only; });
    if (kinds.empty()) return 2;
  }
  fmt::print("## steps/s, one worker process, SQLite (FULL), {}-step fan-out/in tasks ({} per drain), median of {}\n\n",
             kSteps, tasks, reps);
  std::vector<std::string> headers;
  headers.reserve(shapes.size());
  for (const auto& s : shapes) headers.push_back(fmt::format("c{} b{}", s.concurrency, s.batch));
  fmt::print("| handler | {} |\n|---|", fmt::join(headers, " | "));
  for (std::size_t i = 0; i < shapes.size(); ++i) fmt::print("---|");
  fmt::print("\n");
  // Per attempt, Python runs on the first shape only (a drain takes seconds per step there).
  std::map<std::string, std::vector<double>> rates, cpus;
  std::map<std::string, std::vector<std::vector<Drained>>> runs;  // kind -> shape -> drains
  for (const auto& kind : kinds) runs[kind.label].resize(shapes.size());
  for (std::size_t s = 0; s < shapes.size(); ++s)
    for (int rep = 0; rep < reps; ++rep)
      for (const auto& kind : kinds)
        if (kind.tasks > 1 || s == 0) runs[kind.label][s].push_back(drain(kind, shapes[s], dir));
  for (const auto& kind : kinds) {
    fmt::print("| {} |", kind.label);
    for (std::size_t s = 0; s < shapes.size(); ++s) {
      std::vector<double> r, c;
      for (const auto& d : runs[kind.label][s]) r.push_back(d.steps_per_s), c.push_back(d.cpu_us_per_step);
      rates[kind.label].push_back(r.empty() ? NAN : bench::median(r));
      cpus[kind.label].push_back(c.empty() ? NAN : bench::median(c));
      if (r.empty())
        fmt::print(" - |");
      else
        fmt::print(" {} ({:.0f} µs CPU) |", bench::rate(rates[kind.label].back()), cpus[kind.label].back());
    }
    fmt::print("\n");
  }
  if (rates.count("cpp") && rates.count("python persistent")) fmt::print("| python persistent / cpp |");
  for (std::size_t i = 0; i < shapes.size() && rates.count("cpp") && rates.count("python persistent"); ++i)
    fmt::print(" {:.2f} (CPU {:.1f}x) |", rates["python persistent"][i] / rates["cpp"][i],
               cpus["python persistent"][i] / cpus["cpp"][i]);
  fmt::print("\n\n## one attempt, no database: microseconds, {} attempts (per attempt: {})\n\n", n, n / 100);
  fmt::print("| handler | median | p99 |\n|---|---|---|\n");
  for (const auto& kind : kinds) {
    const auto handler = kind.make();
    const int count = kind.tasks == 1 ? std::max(10, n / 100) : n;
    (void)attempts(handler, 5);  // the process starts
    const auto us = attempts(handler, count);
    fmt::print("| {} | {:.1f} | {:.1f} |\n", kind.label, bench::median(us), bench::percentile(us, 99));
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
