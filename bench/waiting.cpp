// Waiting steps (issue 21; docs/performance.md, "Waiting steps: what they
// cost"). One run on one database, SQLite or PostgreSQL, prints:
//
//   1. a worker's idle CPU (process user+sys over a fixed window, nothing
//      claimable) and the claim latency of other work (K one-step tasks
//      submitted one by one while the worker runs: the step's first
//      `in_progress` transition minus the task's created_at), with none and
//      with N tasks whose signal step waits, and the ratios;
//   2. the hop from a signal's delivery to the next step's start (template
//      `prepare -> approval (signal) -> finish`: finish's `in_progress` minus
//      the transition that completed approval) against the hop between two
//      ordinary steps (`a -> b`), median and p99 from the transitions, in both
//      configurations.
//
// The worker runs in this process (a Worker with default options and the
// no-op handler) and the bench's own thread only sleeps during the idle
// window, so the process's CPU time over the window is the worker's: its
// coordinator, handler threads, schedule thread and the store's listener. On
// SQLite the Client shares the worker's Store (a signal sent in the worker's
// process wakes it in-process, as in `tasker serve`); on PostgreSQL the
// Client has its own Store, so the worker hears of a delivery by NOTIFY, as
// from an API process elsewhere. There the queries run in the server, so
// the run also reads the CPU time of the worker's own server backends
// (application_name bench_waiting_worker, from /proc: the server must run on
// this machine, as scripts/pg-test-server's does).
//
//   bench_waiting --db PATH|sqlite://PATH|postgresql://URL [--waiting 10000] [--tasks 500]
//                 [--interval-ms 20] [--idle-seconds 20] [--hops 300]
//
// A SQLite file must not exist yet (it is created and kept); on PostgreSQL the
// run uses a schema of its own (bench_waiting_<time>).
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/store.hpp"
#include "tasker/worker.hpp"

namespace {

using namespace bench;
using std::chrono::milliseconds;

constexpr const char* kApproval = "approval";

// prepare (noop) -> approval (signal, times out after a day) -> finish (noop).
constexpr const char* kApprovalYaml = R"(name: approval
namespace_name: bench
version: 1.0.0
steps:
  - name: prepare
    handler: {callable: bench.noop}
  - name: approval
    type: signal
    dependencies: [prepare]
    signal: {timeout_seconds: 86400}
  - name: finish
    handler: {callable: bench.noop}
    dependencies: [approval]
)";

struct Options {
  std::string db;
  int waiting{10'000};
  int tasks{500};
  int interval_ms{20};
  int idle_seconds{20};
  int hops{300};
};

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// User+sys CPU seconds of process `pid` from /proc; 0 when it cannot be read.
double process_cpu_seconds(long pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream in(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  // Fields 3.. after the command; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i)
    if (i >= 14) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// The server backends serving the worker's connections (PostgreSQL; empty on SQLite).
class WorkerBackends {
 public:
  static constexpr const char* kApplication = "bench_waiting_worker";
  explicit WorkerBackends(std::string url) : url_(std::move(url)) {}
  /// Their CPU seconds so far; the set of backends is read on the first call.
  double cpu_seconds() {
    if (url_.empty()) return 0;
    if (pids_.empty()) {
      pqxx::connection c(url_);
      pqxx::nontransaction w(c);
      for (const auto& row :
           w.exec_params("SELECT pid FROM pg_stat_activity WHERE application_name = $1", kApplication))
        pids_.push_back(row[0].as<long>());
    }
    double total = 0;
    for (long pid : pids_) total += process_cpu_seconds(pid);
    return total;
  }
  void forget() { pids_.clear(); }
  [[nodiscard]] std::size_t count() const { return pids_.size(); }

 private:
  std::string url_;
  std::vector<long> pids_;
};

double ms_between(tasker::TimePoint from, tasker::TimePoint to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// The first transition of `step` into `to_state` (from `from_state`, when given).
tasker::TimePoint transition_at(const std::vector<tasker::Transition>& ts, const std::string& step,
                                const std::string& to_state, const std::string& from_state = "") {
  for (const auto& t : ts)
    if (t.step_name == step && t.to_state == to_state && (from_state.empty() || t.from_state == from_state))
      return t.at;
  throw std::runtime_error(fmt::format("no transition of step {} to {} in task {}", step, to_state,
                                       ts.empty() ? "?" : ts.front().task_uuid));
}

/// What one configuration (none waiting, or N waiting) measured.
struct Figures {
  double idle_cpu_ms{0};
  double idle_server_cpu_ms{0};  // PostgreSQL: the worker's backends
  std::size_t backends{0};
  std::uint64_t idle_transactions{0};
  std::vector<double> claim_ms;
  std::vector<double> signal_hop_ms;   // approval complete -> finish in_progress
  std::vector<double> step_hop_ms;     // a in_progress -> b in_progress
  std::vector<double> step_commit_ms;  // a complete -> b in_progress (the brief's literal hop)
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)), backends_(is_postgres(o_.db) ? o_.db : "") {
    const bool pg = is_postgres(o_.db);
    std::string url = o_.db;
    if (pg) {
      url += fmt::format("{}schema=bench_waiting_{}", url.find('?') == std::string::npos ? "?" : "&",
                         tasker::to_epoch_ms(tasker::SystemClock::instance().now()));
    } else {
      const std::string path = url.rfind("sqlite://", 0) == 0 ? url.substr(9) : url;
      if (std::filesystem::exists(path))
        throw std::runtime_error(fmt::format("{} exists: give a path for a new SQLite file", path));
    }
    tasker::StoreOptions so;
    so.pool_size = 2;
    worker_store_ = tasker::open_store(pg ? url + "&application_name=" + WorkerBackends::kApplication : url, so);
    client_store_ = pg ? tasker::open_store(url, so) : worker_store_;
    templates_ = make_templates({{Shape::linear, 1}, {Shape::linear, 2}});
    tasker::LoadResult r = tasker::load_templates_from_string(kApprovalYaml, "approval.yaml", {"bench"});
    if (!r.ok() || r.templates.size() != 1)
      throw std::runtime_error(r.diagnostics.empty() ? "approval.yaml did not load"
                                                     : r.diagnostics.front().to_string());
    if (auto d = templates_->add(std::move(r.templates.front()))) throw std::runtime_error(d->to_string());
    client_ = std::make_unique<tasker::Client>(client_store_, templates_);
    tasker::WorkerOptions wo;
    wo.worker_id = "bench-waiting";
    worker_ = std::make_unique<tasker::Worker>(worker_store_, noop_registry(), wo);
  }

  int run() {
    worker_->start();
    fmt::print(stderr, "bench_waiting: {} on {}; none waiting\n", client_store_->backend(), o_.db);
    Figures none = measure();
    fmt::print(stderr, "bench_waiting: parking {} tasks on their signal step\n", o_.waiting);
    const double park_s = park(o_.waiting);
    fmt::print(stderr, "bench_waiting: {} waiting\n", o_.waiting);
    Figures many = measure();
    worker_->stop();
    report(none, many, park_s);
    return 0;
  }

 private:
  static bool is_postgres(const std::string& db) { return db.rfind("postgres", 0) == 0; }

  tasker::TaskRequest request(const std::string& name) {
    tasker::TaskRequest r;
    r.namespace_name = kNamespace;
    r.name = name;
    r.context = {{"n", ++submitted_}};
    return r;
  }

  /// Until the worker has nothing claimable or running (waiting steps hold nothing).
  void settle() {
    for (int i = 0; i < 60'000; ++i) {
      auto a = client_->activity();
      if (a.steps_enqueued == 0 && a.steps_in_progress == 0 && a.steps_waiting_for_retry == 0) return;
      std::this_thread::sleep_for(milliseconds{10});
    }
    throw std::runtime_error("the worker did not settle within 10 minutes");
  }

  Figures measure() {
    Figures f;
    settle();
    std::this_thread::sleep_for(milliseconds{2'000});  // past the last round's wake-ups
    const auto tx_before = worker_->stats().transactions;
    backends_.forget();
    const double server_before = backends_.cpu_seconds();
    const double cpu_before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::seconds{o_.idle_seconds});
    f.idle_cpu_ms = (cpu_seconds() - cpu_before) * 1000;
    f.idle_server_cpu_ms = (backends_.cpu_seconds() - server_before) * 1000;
    f.backends = backends_.count();
    f.idle_transactions = worker_->stats().transactions - tx_before;

    std::vector<tasker::TaskView> claims;
    for (int i = 0; i < o_.tasks; ++i) {
      claims.push_back(client_->submit(request(template_name(Shape::linear, 1))));
      std::this_thread::sleep_for(milliseconds{o_.interval_ms});
    }
    for (const auto& t : claims) {
      finished(t.uuid);
      f.claim_ms.push_back(
          ms_between(t.created_at, transition_at(client_->transitions(t.uuid), step_name(0), "in_progress")));
    }

    // Ordinary steps: one task at a time, so every hop meets an idle worker.
    for (int i = 0; i < o_.hops; ++i) {
      const auto uuid = client_->submit(request(template_name(Shape::linear, 2))).uuid;
      finished(uuid);
      const auto ts = client_->transitions(uuid);
      const auto b_started = transition_at(ts, step_name(1), "in_progress");
      f.step_hop_ms.push_back(ms_between(transition_at(ts, step_name(0), "in_progress"), b_started));
      f.step_commit_ms.push_back(ms_between(transition_at(ts, step_name(0), "complete"), b_started));
    }
    // Signals: every approval waits first, then one signal at a time.
    std::vector<std::string> approvals;
    for (int i = 0; i < o_.hops; ++i) approvals.push_back(client_->submit(request(kApproval)).uuid);
    for (const auto& uuid : approvals) waiting(uuid);
    for (const auto& uuid : approvals) {
      client_->signal(uuid, kApproval, {{"approved", true}});
      finished(uuid);
      const auto ts = client_->transitions(uuid);
      f.signal_hop_ms.push_back(
          ms_between(transition_at(ts, kApproval, "complete", "waiting"), transition_at(ts, "finish", "in_progress")));
    }
    return f;
  }

  void finished(const std::string& uuid) {
    auto t = client_->wait_for_task(uuid, milliseconds{120'000}, milliseconds{5});
    if (t.state != tasker::TaskState::complete)
      throw std::runtime_error(fmt::format("task {} ended {}", uuid, tasker::to_string(t.state)));
  }

  void waiting(const std::string& uuid) {
    for (int i = 0; i < 120'000; ++i) {
      if (client_->get_step(uuid, kApproval).state == tasker::StepState::waiting) return;
      std::this_thread::sleep_for(milliseconds{1});
    }
    throw std::runtime_error(fmt::format("the approval step of task {} did not wait", uuid));
  }

  /// Submit n approval tasks and let the worker take each to its waiting signal step.
  double park(int n) {
    const auto start = SteadyClock::now();
    for (int i = 0; i < n; ++i) client_->submit(request(kApproval));
    settle();
    const auto in_progress = client_->activity().tasks_in_progress;
    if (in_progress < n) throw std::runtime_error(fmt::format("{} tasks in progress after parking {}", in_progress, n));
    return seconds_since(start);
  }

  static std::string ratio(double a, double b) { return b > 0 ? fmt::format("{:.2f}×", a / b) : "—"; }

  void report(const Figures& none, const Figures& many, double park_s) const {
    fmt::print("backend={} waiting={} tasks={} interval_ms={} idle_seconds={} hops={} (parked in {:.1f} s)\n\n",
               client_store_->backend(), o_.waiting, o_.tasks, o_.interval_ms, o_.idle_seconds, o_.hops, park_s);
    fmt::print("| figure | none waiting | {} waiting | ratio |\n|---|---|---|---|\n", o_.waiting);
    fmt::print("| idle CPU over {} s (ms) | {:.1f} | {:.1f} | {} |\n", o_.idle_seconds, none.idle_cpu_ms,
               many.idle_cpu_ms, ratio(many.idle_cpu_ms, none.idle_cpu_ms));
    if (none.backends > 0)
      fmt::print("| idle CPU of its {} server backends (ms) | {:.1f} | {:.1f} | {} |\n", none.backends,
                 none.idle_server_cpu_ms, many.idle_server_cpu_ms,
                 ratio(many.idle_server_cpu_ms, none.idle_server_cpu_ms));
    fmt::print("| idle worker transactions | {} | {} | |\n", none.idle_transactions, many.idle_transactions);
    for (double p : {50.0, 99.0})
      fmt::print("| claim latency p{:.0f} (ms) | {:.1f} | {:.1f} | {} |\n", p, percentile(none.claim_ms, p),
                 percentile(many.claim_ms, p), ratio(percentile(many.claim_ms, p), percentile(none.claim_ms, p)));
    fmt::print(
        "\n| hop (ms) | waiting | signal p50 | step p50 | ratio p50 | signal p99 | step p99 | ratio p99 | "
        "a complete -> b p50 / p99 |\n|---|---|---|---|---|---|---|---|---|\n");
    for (const auto* f : {&none, &many})
      fmt::print(
          "| {} | {} | {:.1f} | {:.1f} | {} | {:.1f} | {:.1f} | {} | {:.1f} / {:.1f} |\n", client_store_->backend(),
          f == &none ? 0 : o_.waiting, percentile(f->signal_hop_ms, 50), percentile(f->step_hop_ms, 50),
          ratio(percentile(f->signal_hop_ms, 50), percentile(f->step_hop_ms, 50)), percentile(f->signal_hop_ms, 99),
          percentile(f->step_hop_ms, 99), ratio(percentile(f->signal_hop_ms, 99), percentile(f->step_hop_ms, 99)),
          percentile(f->step_commit_ms, 50), percentile(f->step_commit_ms, 99));
  }

  Options o_;
  WorkerBackends backends_;
  std::shared_ptr<tasker::Store> worker_store_;
  std::shared_ptr<tasker::Store> client_store_;
  std::shared_ptr<tasker::TemplateSet> templates_;
  std::unique_ptr<tasker::Client> client_;
  std::unique_ptr<tasker::Worker> worker_;
  long long submitted_{0};
};

Options parse(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) throw std::invalid_argument(fmt::format("unexpected `{}`", a));
    flags[a.substr(2)] = argv[i + 1];
  }
  Options o;
  auto take = [&](const char* name, int& v) {
    if (auto it = flags.find(name); it != flags.end()) {
      v = std::stoi(it->second);
      flags.erase(it);
    }
  };
  take("waiting", o.waiting);
  take("tasks", o.tasks);
  take("interval-ms", o.interval_ms);
  take("idle-seconds", o.idle_seconds);
  take("hops", o.hops);
  if (auto it = flags.find("db"); it != flags.end()) {
    o.db = it->second;
    flags.erase(it);
  }
  if (o.db.empty()) throw std::invalid_argument("--db is required");
  if (!flags.empty()) throw std::invalid_argument(fmt::format("unknown option --{}", flags.begin()->first));
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr,
               "bench_waiting: {}\nusage: bench_waiting --db PATH|sqlite://PATH|postgresql://URL [--waiting N] "
               "[--tasks K] [--interval-ms MS] [--idle-seconds S] [--hops H]\n",
               e.what());
    return 2;
  }
  try {
    return Bench(std::move(o)).run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_waiting: {}\n", e.what());
    return 1;
  }
}
