// Waiting steps (issue 21; docs/performance.md, "Waiting steps: what they
// cost"). Two databases of one backend, SQLite or PostgreSQL: one where no
// step waits, one with N tasks parked on their signal step. They take turns
// in R rounds (the first of each round alternating, so a change in the
// machine's load falls on both), and each round measures, on each:
//
//   1. a worker's idle CPU: a worker process of its own (bench_pg_worker,
//      default options) with nothing claimable, its CPU time over a fixed
//      window from /proc/PID/task/*/schedstat; on PostgreSQL also that of its
//      server backends (found by application_name);
//   2. the claim latency of other work: K one-step tasks submitted one by one
//      while a worker runs (in this process): the step's first `in_progress`
//      transition minus the task's created_at;
//   3. the hop from a signal's delivery to the next step's start (template
//      `prepare -> approval (signal) -> finish`: finish's `in_progress` minus
//      the transition that completed approval), the signal sent through the
//      worker's own Store and through another one, against the hop between
//      two ordinary steps (`a -> b`: b's `in_progress` minus a's, and minus
//      a's `complete`, which the same transaction writes), one task at a time.
//
// On SQLite the Client of 2. and 3. shares the worker's Store (a delivery
// wakes it in-process); on PostgreSQL it has its own, so the worker hears of
// new work by NOTIFY, as from an API process elsewhere.
//
//   bench_waiting --db PATH|sqlite://PATH|postgresql://URL [--waiting 10000] [--tasks 500]
//                 [--interval-ms 20] [--idle-seconds 20] [--hops 300] [--other-hops 20] [--rounds 3]
//
// SQLite: the files PATH.none and PATH.waiting, which must not exist yet (they
// are kept); PostgreSQL: a schema of its own for each (bench_waiting_<time>_none
// and _waiting). The server must run on this machine (its backends' CPU is read
// from /proc), as scripts/pg-test-server's does.
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "process_cpu.hpp"
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
  int rounds{3};
  int other_hops{20};
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
  long long idle_transactions{0};
  std::vector<double> claim_ms;
  std::vector<double> signal_hop_ms;        // approval complete -> finish in_progress, signal via the worker's Store
  std::vector<double> other_signal_hop_ms;  // the same, the signal sent through another Store
  std::vector<double> signal_call_ms;  // Client::signal's own duration (the bench's clock): the delivery's transaction
  std::vector<double> step_hop_ms;     // a in_progress -> b in_progress
  std::vector<double> step_commit_ms;  // a complete -> b in_progress (the issue's hop, 0 by construction)
};

/// One database (a SQLite file, a PostgreSQL schema): its stores, its Client,
/// and how many tasks wait in it.
struct Setup {
  std::string label;
  int parked{0};
  std::shared_ptr<tasker::Store> worker_store;
  std::shared_ptr<tasker::Store> other_store;  // its own connections and wake-ups: another process's view
  std::unique_ptr<tasker::Client> own;         // on worker_store: wakes the worker in-process
  std::unique_ptr<tasker::Client> other;       // on other_store: wakes it by NOTIFY, or (SQLite) not at all
  tasker::Client* client{nullptr};             // submits and reads: `other` on PostgreSQL, `own` on SQLite
  std::string idle_url;                        // for the idle worker process
  WorkerBackends backends;                     // PostgreSQL: the server processes of the idle worker's connections
  std::vector<Figures> rounds;
};

class Bench {
 public:
  Bench(Options o, std::string worker_program) : o_(std::move(o)), worker_program_(std::move(worker_program)) {
    templates_ = make_templates({{Shape::linear, 1}, {Shape::linear, 2}});
    tasker::LoadResult r = tasker::load_templates_from_string(kApprovalYaml, "approval.yaml", {"bench"});
    if (!r.ok() || r.templates.size() != 1)
      throw std::runtime_error(r.diagnostics.empty() ? "approval.yaml did not load"
                                                     : r.diagnostics.front().to_string());
    if (auto d = templates_->add(std::move(r.templates.front()))) throw std::runtime_error(d->to_string());
    const long long stamp = tasker::to_epoch_ms(tasker::SystemClock::instance().now());
    setups_.reserve(2);
    for (const char* which : {"none", "waiting"}) open(setups_.emplace_back(), which, stamp);
  }

  int run() {
    Setup& none = setups_[0];
    Setup& many = setups_[1];
    fmt::print(stderr, "bench_waiting: {}: parking {} tasks on their signal step\n", o_.db, o_.waiting);
    const double park_s = park(many, o_.waiting);
    // The two databases take turns, the first of each round alternating, so a
    // change in the machine's load falls on both.
    for (int round = 0; round < o_.rounds; ++round) {
      for (Setup* s : round % 2 == 0 ? std::vector{&none, &many} : std::vector{&many, &none}) {
        fmt::print(stderr, "bench_waiting: round {} of {}, {} waiting\n", round + 1, o_.rounds, s->parked);
        s->rounds.push_back(measure(*s));
      }
    }
    report(park_s);
    return 0;
  }

 private:
  static bool is_postgres(const std::string& db) { return db.rfind("postgres", 0) == 0; }

  void open(Setup& s, const std::string& which, long long stamp) const {
    s.label = which;
    tasker::StoreOptions so;
    so.pool_size = 2;
    if (is_postgres(o_.db)) {
      const std::string url = o_.db + fmt::format("{}schema=bench_waiting_{}_{}",
                                                  o_.db.find('?') == std::string::npos ? "?" : "&", stamp, which);
      const std::string application = "bench_waiting_idle_" + which;
      s.idle_url = url + "&application_name=" + application;
      s.backends = WorkerBackends(o_.db, application);
      s.worker_store = tasker::open_store(url, so);
      s.other_store = tasker::open_store(url, so);
    } else {
      const std::string stem = o_.db.rfind("sqlite://", 0) == 0 ? o_.db.substr(9) : o_.db;
      const std::string path = fmt::format("{}.{}", stem, which);
      if (std::filesystem::exists(path))
        throw std::runtime_error(fmt::format("{} exists: give --db a path for new SQLite files", path));
      s.idle_url = path;
      s.worker_store = tasker::open_store(path, so);
      s.other_store = tasker::open_store(path, so);
    }
    s.own = std::make_unique<tasker::Client>(s.worker_store, templates_);
    s.other = std::make_unique<tasker::Client>(s.other_store, templates_);
    s.client = is_postgres(o_.db) ? s.other.get() : s.own.get();
  }

  static std::unique_ptr<tasker::Worker> start_worker(const Setup& s) {
    tasker::WorkerOptions wo;
    wo.worker_id = "bench-waiting-" + s.label;
    auto w = std::make_unique<tasker::Worker>(s.worker_store, noop_registry(), wo);
    w->start();
    return w;
  }

  tasker::TaskRequest request(const std::string& name) {
    tasker::TaskRequest r;
    r.namespace_name = kNamespace;
    r.name = name;
    r.context = {{"n", ++submitted_}};
    return r;
  }

  /// Until the worker has nothing claimable or running (waiting steps hold nothing).
  static void settle(Setup& s) {
    for (int i = 0; i < 60'000; ++i) {
      auto a = s.client->activity();
      if (a.steps_enqueued == 0 && a.steps_in_progress == 0 && a.steps_waiting_for_retry == 0) return;
      std::this_thread::sleep_for(milliseconds{10});
    }
    throw std::runtime_error("the worker did not settle within 10 minutes");
  }

  /// One round on one database, its worker the only one running in the process.
  Figures measure(Setup& s) {
    Figures f;
    idle(s, f);
    auto worker = start_worker(s);
    std::vector<tasker::TaskView> claims;
    for (int i = 0; i < o_.tasks; ++i) {
      claims.push_back(s.client->submit(request(template_name(Shape::linear, 1))));
      std::this_thread::sleep_for(milliseconds{o_.interval_ms});
    }
    for (const auto& t : claims) {
      finished(s, t.uuid);
      f.claim_ms.push_back(
          ms_between(t.created_at, transition_at(s.client->transitions(t.uuid), step_name(0), "in_progress")));
    }

    // Ordinary steps: one task at a time, so every hop meets an idle worker.
    for (int i = 0; i < o_.hops; ++i) {
      const auto uuid = s.client->submit(request(template_name(Shape::linear, 2))).uuid;
      finished(s, uuid);
      const auto ts = s.client->transitions(uuid);
      const auto b_started = transition_at(ts, step_name(1), "in_progress");
      f.step_hop_ms.push_back(ms_between(transition_at(ts, step_name(0), "in_progress"), b_started));
      f.step_commit_ms.push_back(ms_between(transition_at(ts, step_name(0), "complete"), b_started));
    }
    signal_hops(s, *s.own, o_.hops, f.signal_hop_ms, f.signal_call_ms);
    signal_hops(s, *s.other, o_.other_hops, f.other_signal_hop_ms, f.signal_call_ms);
    worker->stop();
    return f;
  }

  /// Every approval waits first, then one signal at a time through `sender`.
  void signal_hops(Setup& s, tasker::Client& sender, int n, std::vector<double>& out, std::vector<double>& calls) {
    std::vector<std::string> approvals;
    approvals.reserve(n);
    for (int i = 0; i < n; ++i) approvals.push_back(s.client->submit(request(kApproval)).uuid);
    for (const auto& uuid : approvals) waiting(s, uuid);
    for (const auto& uuid : approvals) {
      const auto sent = SteadyClock::now();
      sender.signal(uuid, kApproval, {{"approved", true}});
      calls.push_back(seconds_since(sent) * 1000);
      finished(s, uuid);
      const auto ts = s.client->transitions(uuid);
      out.push_back(
          ms_between(transition_at(ts, kApproval, "complete", "waiting"), transition_at(ts, "finish", "in_progress")));
    }
  }

  /// The idle figures: a worker process with nothing claimable, over the window.
  void idle(Setup& s, Figures& f) const {
    WorkerProcess worker(worker_program_, s.idle_url, "bench-waiting-idle-" + s.label);
    std::this_thread::sleep_for(milliseconds{2'000});  // past its first rounds
    s.backends.forget();
    const double server_before = s.backends.cpu_ms();
    const double before = process_cpu_ms(worker.pid());
    std::this_thread::sleep_for(std::chrono::seconds{o_.idle_seconds});
    f.idle_cpu_ms = process_cpu_ms(worker.pid()) - before;
    f.idle_server_cpu_ms = s.backends.cpu_ms() - server_before;
    f.backends = s.backends.count();
    f.idle_transactions = worker.stop();
  }

  static void finished(Setup& s, const std::string& uuid) {
    auto t = s.client->wait_for_task(uuid, milliseconds{120'000}, milliseconds{5});
    if (t.state != tasker::TaskState::complete)
      throw std::runtime_error(fmt::format("task {} ended {}", uuid, tasker::to_string(t.state)));
  }

  static void waiting(Setup& s, const std::string& uuid) {
    for (int i = 0; i < 120'000; ++i) {
      if (s.client->get_step(uuid, kApproval).state == tasker::StepState::waiting) return;
      std::this_thread::sleep_for(milliseconds{1});
    }
    throw std::runtime_error(fmt::format("the approval step of task {} did not wait", uuid));
  }

  /// Submit n approval tasks and let a worker take each to its waiting signal step.
  double park(Setup& s, int n) {
    const auto start = SteadyClock::now();
    auto worker = start_worker(s);
    for (int i = 0; i < n; ++i) s.client->submit(request(kApproval));
    settle(s);
    worker->stop();
    const auto in_progress = s.client->activity().tasks_in_progress;
    if (in_progress != n)
      throw std::runtime_error(fmt::format("{} tasks in progress after parking {}", in_progress, n));
    s.parked = n;
    return seconds_since(start);
  }

  static std::string ratio(double a, double b) { return b > 0 ? fmt::format("{:.2f}×", a / b) : "—"; }

  /// All rounds' samples of one setup, pooled.
  template <typename Member>
  static std::vector<double> pooled(const Setup& s, Member m) {
    std::vector<double> all;
    for (const auto& f : s.rounds) all.insert(all.end(), (f.*m).begin(), (f.*m).end());
    return all;
  }

  void report(double park_s) const {
    const Setup& none = setups_[0];
    const Setup& many = setups_[1];
    const std::string backend = none.worker_store->backend();
    fmt::print(
        "backend={} waiting={} tasks={} interval_ms={} idle_seconds={} hops={} rounds={} (parked in {:.1f} s)\n\n",
        backend, o_.waiting, o_.tasks, o_.interval_ms, o_.idle_seconds, o_.hops, o_.rounds, park_s);
    fmt::print(
        "| round | idle CPU, ms: none / {} waiting | ratio | its server backends, ms | ratio | its transactions | "
        "claim p50, ms | ratio | claim p99, ms | ratio |\n|---|---|---|---|---|---|---|---|---|---|\n",
        o_.waiting);
    for (int r = 0; r < o_.rounds; ++r) {
      const Figures& a = none.rounds[r];
      const Figures& b = many.rounds[r];
      const double a50 = percentile(a.claim_ms, 50), b50 = percentile(b.claim_ms, 50);
      const double a99 = percentile(a.claim_ms, 99), b99 = percentile(b.claim_ms, 99);
      fmt::print("| {} | {:.1f} / {:.1f} | {} | {} | {} | {} / {} | {:.0f} / {:.0f} | {} | {:.0f} / {:.0f} | {} |\n",
                 r + 1, a.idle_cpu_ms, b.idle_cpu_ms, ratio(b.idle_cpu_ms, a.idle_cpu_ms),
                 a.backends ? fmt::format("{:.0f} / {:.0f}", a.idle_server_cpu_ms, b.idle_server_cpu_ms) : "—",
                 a.backends ? ratio(b.idle_server_cpu_ms, a.idle_server_cpu_ms) : "—", a.idle_transactions,
                 b.idle_transactions, a50, b50, ratio(b50, a50), a99, b99, ratio(b99, a99));
    }
    const auto claims_none = pooled(none, &Figures::claim_ms);
    const auto claims_many = pooled(many, &Figures::claim_ms);
    fmt::print("| all | | | | | | {:.1f} / {:.1f} | {} | {:.1f} / {:.1f} | {} |\n", percentile(claims_none, 50),
               percentile(claims_many, 50), ratio(percentile(claims_many, 50), percentile(claims_none, 50)),
               percentile(claims_none, 99), percentile(claims_many, 99),
               ratio(percentile(claims_many, 99), percentile(claims_none, 99)));

    fmt::print(
        "\n| {} | waiting | signal sent through | signal -> finish, ms: p50 / p99 (n) | a -> b, ms: p50 / p99 (n) | "
        "ratio p50 | ratio p99 | a complete -> b, ms | Client::signal call, ms "
        "|\n|---|---|---|---|---|---|---|---|---|\n",
        backend);
    auto pair = [](const std::vector<double>& v) {
      return fmt::format("{:.1f} / {:.1f} ({})", percentile(v, 50), percentile(v, 99), v.size());
    };
    for (const Setup* s : {&none, &many}) {
      const auto step = pooled(*s, &Figures::step_hop_ms);
      const auto commit = pooled(*s, &Figures::step_commit_ms);
      const auto calls = pooled(*s, &Figures::signal_call_ms);
      for (const bool own : {true, false}) {
        const auto sig = pooled(*s, own ? &Figures::signal_hop_ms : &Figures::other_signal_hop_ms);
        fmt::print("| | {} | {} | {} | {} | {} | {} | {} | {} |\n", s->parked,
                   own ? "the worker's Store" : "another Store", pair(sig), pair(step),
                   ratio(percentile(sig, 50), percentile(step, 50)), ratio(percentile(sig, 99), percentile(step, 99)),
                   own ? pair(commit) : "", own ? pair(calls) : "");
      }
    }
  }

  Options o_;
  std::string worker_program_;
  std::shared_ptr<tasker::TemplateSet> templates_;
  std::vector<Setup> setups_;
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
  take("rounds", o.rounds);
  take("other-hops", o.other_hops);
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
               "[--tasks K] [--interval-ms MS] [--idle-seconds S] [--hops H] [--other-hops H] [--rounds R]\n",
               e.what());
    return 2;
  }
  try {
    return Bench(std::move(o), (std::filesystem::path(argv[0]).parent_path() / "bench_pg_worker").string()).run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_waiting: {}\n", e.what());
    return 1;
  }
}
