#pragma once
// Shared by bench_engine, bench_postgres and bench_pg_worker: the workflow
// shapes (generated in memory), the no-op handler, and small statistics.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tasker/handler.hpp"
#include "tasker/loader.hpp"
#include "tasker/template_set.hpp"

namespace bench {

using SteadyClock = std::chrono::steady_clock;

inline constexpr const char* kNamespace = "bench";
inline constexpr const char* kCallable = "bench.noop";

/// The workflow shapes. All steps run `bench.noop`.
enum class Shape {
  linear,  ///< step_1 -> step_2 -> ... (the 4-step linear workflow)
  fan,     ///< one root, n-2 parallel steps that depend on it, one sink that depends on all of them
  chain,   ///< like linear, long
};

inline const char* shape_slug(Shape s) {
  switch (s) {
    case Shape::linear: return "linear";
    case Shape::fan: return "fan";
    case Shape::chain: return "chain";
  }
  return "?";
}

/// The template's name for `shape` with `n` steps: bench/<shape>_<n>.
inline std::string template_name(Shape shape, std::size_t n) { return fmt::format("{}_{}", shape_slug(shape), n); }

inline std::string step_name(std::size_t i) { return fmt::format("s{:05}", i); }

/// YAML for `shape` with `n` steps (n >= 2 for fan).
inline std::string generate_yaml(Shape shape, std::size_t n) {
  std::string y =
      fmt::format("name: {}\nnamespace_name: {}\nversion: 1.0.0\nsteps:\n", template_name(shape, n), kNamespace);
  y.reserve(n * 80);
  for (std::size_t i = 0; i < n; ++i) {
    y += fmt::format("  - name: {}\n    handler: {{callable: {}}}\n", step_name(i), kCallable);
    if (shape == Shape::fan) {
      if (i == n - 1) {
        y += "    dependencies: [";
        for (std::size_t p = 1; p + 1 < n; ++p) y += (p > 1 ? ", " : "") + step_name(p);
        y += "]\n";
      } else if (i > 0) {
        y += fmt::format("    dependencies: [{}]\n", step_name(0));
      }
    } else if (i > 0) {
      y += fmt::format("    dependencies: [{}]\n", step_name(i - 1));
    }
  }
  return y;
}

struct ShapeSize {
  Shape shape;
  std::size_t steps;
};

/// A TemplateSet holding every (shape, size) asked for, loaded from generated YAML.
inline std::shared_ptr<tasker::TemplateSet> make_templates(const std::vector<ShapeSize>& wanted) {
  auto set = std::make_shared<tasker::TemplateSet>();
  for (const auto& w : wanted) {
    if (set->find(kNamespace, template_name(w.shape, w.steps))) continue;
    tasker::LoadResult r = tasker::load_templates_from_string(generate_yaml(w.shape, w.steps),
                                                              template_name(w.shape, w.steps) + ".yaml", {"bench"});
    if (!r.ok() || r.templates.size() != 1)
      throw std::runtime_error(fmt::format("generated template {} did not load: {}", template_name(w.shape, w.steps),
                                           r.diagnostics.empty() ? "?" : r.diagnostics.front().to_string()));
    if (auto d = set->add(std::move(r.templates.front()))) throw std::runtime_error(d->to_string());
  }
  return set;
}

/// A registry with the no-op handler.
inline std::shared_ptr<tasker::HandlerRegistry> noop_registry() {
  auto r = std::make_shared<tasker::HandlerRegistry>();
  r->add(kCallable, [](tasker::StepContext&) { return tasker::json::object(); });
  return r;
}

/// A drain: `tasks` tasks of `steps_per_task` steps in one shape.
struct Workload {
  std::string label;
  Shape shape;
  std::size_t steps_per_task;
  std::size_t tasks;
  [[nodiscard]] std::size_t steps() const { return steps_per_task * tasks; }
};

/// A worker: handler threads and batch size.
struct WorkerShape {
  int concurrency;
  int batch;
};

/// One timed drain and the commit ceiling measured just before and after it.
struct Run {
  double submit_s{0};
  double drain_s{0};
  std::uint64_t steps{0};
  std::uint64_t transactions{0};
  double ceiling_before{0};  ///< ceiling commits/s measured just before the drain
  double ceiling_after{0};   ///< and just after
  [[nodiscard]] double ceiling() const { return (ceiling_before + ceiling_after) / 2; }
  /// The flush rate changed by more than 2x during the run (see docs/performance.md).
  [[nodiscard]] bool ceiling_moved() const {
    return std::max(ceiling_before, ceiling_after) > 2 * std::min(ceiling_before, ceiling_after);
  }
  [[nodiscard]] double steps_per_s() const { return static_cast<double>(steps) / drain_s; }
  [[nodiscard]] double steps_per_txn() const { return static_cast<double>(steps) / static_cast<double>(transactions); }
  [[nodiscard]] double us_per_step() const { return drain_s * 1e6 / static_cast<double>(steps); }
};

/// A rate for a table: no decimals from 100 up.
inline std::string rate(double v) { return v >= 100 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v); }

inline double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/// Nearest-rank percentile (p in 0..100).
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

/// A row of a latency table: `label`; the median, p95, min and max of `ms`;
/// the ceiling (commits/s) measured just before and after, with † when it
/// moved more than 2x (as Run::ceiling_moved); and what `commits` of the
/// ceiling's commits take, in ms: the floor for a task that costs that many.
inline void print_latency_row(const std::string& label, const std::vector<double>& ms, double before, double after,
                              int commits) {
  const Run ceiling{.ceiling_before = before, .ceiling_after = after};
  fmt::print("| {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {} / {}{} | {:.2f} |\n", label, median(ms), percentile(ms, 95),
             *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()), rate(before),
             rate(after), ceiling.ceiling_moved() ? " †" : "", commits * 1000.0 / ceiling.ceiling());
  std::fflush(stdout);
}

}  // namespace bench
