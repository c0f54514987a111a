// Cron schedules at scale (issue 21): N schedules every minute, fired by W
// worker processes (bench_pg_worker, whose Worker fires schedules) on one
// PostgreSQL database for M minutes. Reports, from the tasks themselves, the
// lag between each tick and its task's creation (created_at, the firing
// transaction's clock reading), duplicates (two tasks for one schedule and
// tick) and missed ticks (a minute boundary, while the workers ran, without
// its task).
//
//   bench_schedules --db postgresql://... [--schedules 1000] [--workers 4] [--minutes 3]
//
// The run uses a schema of its own (bench_schedules_<time>) on that server.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/store.hpp"

namespace {

using std::chrono::milliseconds;

long long now_ms() { return tasker::to_epoch_ms(tasker::SystemClock::instance().now()); }

int run(int argc, char** argv) {
  std::map<std::string, std::string> flags{{"schedules", "1000"}, {"workers", "4"}, {"minutes", "3"}};
  for (int i = 1; i + 1 < argc; i += 2) flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  if (!flags.count("db")) {
    fmt::print(stderr, "usage: bench_schedules --db postgresql://... [--schedules N] [--workers W] [--minutes M]\n");
    return 2;
  }
  const int schedules = std::stoi(flags["schedules"]);
  const int workers = std::stoi(flags["workers"]);
  const int minutes = std::stoi(flags["minutes"]);
  std::string url = flags["db"];
  url += fmt::format("{}schema=bench_schedules_{}", url.find('?') == std::string::npos ? "?" : "&", now_ms());

  auto store = tasker::open_store(url);
  auto templates = bench::make_templates({{bench::Shape::linear, 2}});
  tasker::Client client(store, templates);
  for (int i = 0; i < schedules; ++i) {
    tasker::ScheduleRequest r;
    r.name = fmt::format("bench-{:04}", i);
    r.namespace_name = bench::kNamespace;
    r.task_name = bench::template_name(bench::Shape::linear, 2);
    r.cron = "* * * * *";
    client.create_schedule(r);
  }
  fmt::print(stderr, "bench_schedules: {} schedules every minute; starting {} workers for {} minutes\n", schedules,
             workers, minutes);

  const std::string worker_path = (std::filesystem::path(argv[0]).parent_path() / "bench_pg_worker").string();
  std::vector<FILE*> procs;
  for (int w = 0; w < workers; ++w) {
    const std::string cmd = fmt::format("'{}' --db '{}' --id sched-w{} > /dev/null", worker_path, url, w + 1);
    FILE* p = popen(cmd.c_str(), "w");
    if (!p) throw std::runtime_error("cannot start " + worker_path);
    std::fputs("go\n", p);
    std::fflush(p);
    procs.push_back(p);
  }
  const long long started = now_ms();
  // Whole minutes: from the first boundary after the start to the M-th, then a few seconds for the last.
  const long long first_boundary = (started / 60'000 + 1) * 60'000;
  const long long last_boundary = first_boundary + static_cast<long long>(minutes - 1) * 60'000;
  std::this_thread::sleep_for(milliseconds{last_boundary + 10'000 - now_ms()});
  for (FILE* p : procs) {
    std::fputs("stop\n", p);
    std::fflush(p);
  }
  for (FILE* p : procs) pclose(p);

  std::map<std::pair<std::string, long long>, int> seen;
  std::vector<long long> lags;
  tasker::TaskFilter filter;
  filter.source_system = "tasker";
  filter.limit = 1000;
  for (;;) {
    auto page = client.list_tasks(filter);
    for (const auto& t : page.tasks) {
      const auto& s = t.context.at("tasker_schedule");
      const std::string tick_text = s.at("tick");
      // The tick, back from its RFC 3339 text: its epoch minute is what matters.
      std::tm tm{};
      strptime(tick_text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
      const long long tick = static_cast<long long>(timegm(&tm)) * 1000;
      ++seen[{s.at("name").get<std::string>(), tick}];
      if (tick >= first_boundary && tick <= last_boundary) lags.push_back(tasker::to_epoch_ms(t.created_at) - tick);
    }
    if (!page.next_cursor) break;
    filter.cursor = page.next_cursor;
  }
  long long duplicates = 0;
  long long missed = 0;
  for (const auto& [key, n] : seen) duplicates += n - 1;
  for (int i = 0; i < schedules; ++i)
    for (long long b = first_boundary; b <= last_boundary; b += 60'000)
      if (!seen.count({fmt::format("bench-{:04}", i), b})) ++missed;
  std::sort(lags.begin(), lags.end());
  auto pct = [&](double p) {
    return lags.empty() ? -1 : lags[std::min(lags.size() - 1, static_cast<std::size_t>(p * lags.size()))];
  };
  fmt::print(
      "schedules={} workers={} minutes={} ticks_expected={} tasks_in_window={} duplicates={} missed={} "
      "lag_ms p50={} p99={} max={}\n",
      schedules, workers, minutes, static_cast<long long>(schedules) * minutes, lags.size(), duplicates, missed,
      pct(0.50), pct(0.99), lags.empty() ? -1 : lags.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_schedules: {}\n", e.what());
    return 1;
  }
}
