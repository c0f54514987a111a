// Chaos: while 200 tasks of command handlers run, real `tasker worker`
// processes are killed with SIGKILL at random, at least 20 times, and
// restarted. Afterwards, from the recorded transitions and the handlers' own
// execution log (tests/multiprocess/chaos_handler.sh): no task is lost, every
// step completed exactly once, no attempt ran twice or overlapped another of
// its step, no handler process outlived its worker (checked after every kill,
// in /proc), and every attempt lost with a killed worker was reclaimed after
// its lease ran out and within lease + reclaim interval of the worker's death.
// Once on SQLite, once on PostgreSQL; `ctest -L chaos` runs them alone.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/processes.hpp"
#include "support.hpp"
#include "tasker/testing.hpp"

using namespace mp;
using tasker::testing::Harness;

namespace {

constexpr int kTasks = 200;
constexpr int kWorkers = 4;
constexpr int kKills = 20;
constexpr long long kLeaseMs = 2'000;
constexpr long long kReclaimMs = kLeaseMs / 2;  // the worker's default reclaim interval

/// One process of a worker slot: the id it printed, and when it was killed.
struct Incarnation {
  std::string id;
  pid_t pid{0};
  std::optional<std::int64_t> killed_at;
};

/// One handler run, from the execution log.
struct Run {
  int attempt{0};
  pid_t worker_pid{0};
  pid_t group{0};
  std::int64_t start{0};
  std::optional<std::int64_t> end;
};

class Chaos {
 public:
  explicit Chaos(tasker::testing::Backend backend) {
    char pattern[] = "/tmp/tasker-chaos-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    std::filesystem::create_directories(dir_ / "templates");
    const std::string command = fmt::format(R"([sh, "{}/tests/multiprocess/chaos_handler.sh", "{}", "0.3"])",
                                            TASKER_SOURCE_DIR, log_path().string());
    std::ofstream(dir_ / "templates" / "chaos.yaml") << fmt::format(R"(name: chain
namespace_name: chaos
version: 1.0.0
steps:
  - name: first
    handler: {{callable: chaos.work, command: {0}}}
    retry: {{max_attempts: 25, backoff: none}}
    timeout_seconds: 60
  - name: second
    handler: {{callable: chaos.work, command: {0}}}
    dependencies: [first]
    retry: {{max_attempts: 25, backoff: none}}
    timeout_seconds: 60
)",
                                                                    command);
    tasker::testing::HarnessOptions options;
    options.backend = backend;
    options.template_paths = {dir_ / "templates"};
    harness_ = std::make_unique<Harness>(std::move(options));
  }
  ~Chaos() {
    slots_.clear();  // kills what still runs
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Harness& harness() { return *harness_; }
  std::filesystem::path log_path() const { return dir_ / "executions.log"; }

  /// Starts the worker of `slot` (again) and waits until it names itself.
  void start(std::size_t slot) {
    if (slots_.size() <= slot) slots_.resize(slot + 1);
    const int n = static_cast<int>(incarnations_.size());
    const auto err = dir_ / fmt::format("worker-{}.err", n);
    auto child = std::make_unique<Child>(
        fmt::format("worker {} (slot {})", n, slot),
        std::vector<std::string>{TASKER_CLI_PATH, "worker", "--templates", (dir_ / "templates").string(), "--db",
                                 harness_->database_url(), "--lease-ms", std::to_string(kLeaseMs), "--concurrency",
                                 "3"},
        false, err);
    std::string id;
    bool ready = eventually(
        [&] {
          std::ifstream in(err);
          std::string line;
          if (!std::getline(in, line) || line.rfind("tasker worker ", 0) != 0) return !child->running();
          id = line.substr(14, line.find(": ") - 14);
          return true;
        },
        milliseconds{30'000});
    std::ifstream in(err);
    REQUIRE_MESSAGE((ready && !id.empty()), child->name() << " did not start: " << in.rdbuf());
    incarnations_.push_back({id, child->pid(), std::nullopt});
    slots_[slot] = {std::move(child), incarnations_.size() - 1};
  }

  /// While held, no handler run ends by itself (chaos_handler.sh).
  void hold(bool on) {
    if (on)
      std::ofstream(dir_ / "hold") << "1";
    else
      std::filesystem::remove(dir_ / "hold");
  }

  /// Whether the worker of `slot` runs a handler now (it logged a start and no end).
  bool running_a_handler(std::size_t slot) const {
    const pid_t pid = slots_.at(slot).first->pid();
    for (const auto& [key, list] : runs())
      for (const auto& r : list)
        if (r.worker_pid == pid && !r.end) return true;
    return false;
  }

  /// SIGKILL to the worker of `slot`; returns when it is reaped.
  void kill(std::size_t slot) {
    auto& [child, incarnation] = slots_.at(slot);
    incarnations_[incarnation].killed_at = now_ms();
    child->signal(SIGKILL);
    REQUIRE(child->wait(milliseconds{30'000}));
  }

  /// SIGTERM to every worker; each must stop cleanly.
  void stop_all() {
    for (auto& [child, incarnation] : slots_) child->signal(SIGTERM);
    for (auto& slot : slots_) {
      auto& child = slot.first;  // not a structured binding: clang 14 cannot use one in CHECK_MESSAGE
      auto status = child->wait(milliseconds{60'000});
      CHECK_MESSAGE((status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0), child->name() << " did not stop");
    }
    slots_.clear();
  }

  /// Processes of this run that no live worker accounts for: workers' forks
  /// (supervisors), handler shells and anything in the process group of a
  /// killed worker's handler. A live worker's handlers are those whose group
  /// leader (the supervisor) is that worker's child.
  std::vector<std::string> strays() {
    std::set<pid_t> live;
    for (auto& [child, incarnation] : slots_)
      if (child->running()) live.insert(child->pid());
    std::set<pid_t> dead_groups;
    for (const auto& [key, runs] : runs())
      for (const auto& r : runs)
        if (!live.count(r.worker_pid)) dead_groups.insert(r.group);
    const auto processes = test_support::running_processes();
    std::map<pid_t, pid_t> parent_of;
    for (const auto& p : processes) parent_of[p.pid] = p.parent;
    std::vector<std::string> out;
    for (const auto& p : processes) {
      const bool ours = p.command_line.find(dir_.string()) != std::string::npos || dead_groups.count(p.group);
      if (!ours || live.count(p.pid) || p.pid == getpid()) continue;
      auto leader = parent_of.find(p.group);
      if (leader != parent_of.end() && live.count(leader->second)) continue;
      out.push_back(fmt::format("pid {} (group {}, parent {}): {}", p.pid, p.group, p.parent, p.command_line));
    }
    return out;
  }

  /// Every handler run so far, by "task/step".
  std::map<std::string, std::vector<Run>> runs() const {
    std::map<std::string, std::vector<Run>> out;
    std::ifstream in(log_path());
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      char kind = 0;
      std::string task, step;
      Run r;
      pid_t pid = 0;
      std::int64_t at = 0;
      if (!(fields >> kind >> task >> step >> r.attempt >> pid >> r.group >> r.worker_pid >> at)) continue;
      auto& list = out[fmt::format("{}/{}", task, step)];
      if (kind == 'S') {
        r.start = at;
        list.push_back(r);
      } else {
        for (auto& open : list)
          if (open.attempt == r.attempt && open.worker_pid == r.worker_pid && !open.end) open.end = at;
      }
    }
    return out;
  }

  const std::vector<Incarnation>& incarnations() const { return incarnations_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Harness> harness_;
  std::vector<Incarnation> incarnations_;
  std::vector<std::pair<std::unique_ptr<Child>, std::size_t>> slots_;  // child, its incarnation
};

int count_complete(Harness& h) {
  tasker::TaskFilter filter;
  filter.state = tasker::TaskState::complete;
  filter.limit = 1000;
  return static_cast<int>(h.client().list_tasks(filter).tasks.size());
}

/// Every check of the recorded history; returns a summary for the report.
std::string check_history(Chaos& chaos, const std::vector<std::string>& tasks) {
  Harness& h = chaos.harness();
  std::map<std::string, const Incarnation*> by_id;
  std::map<pid_t, const Incarnation*> by_pid;
  for (const auto& i : chaos.incarnations()) by_id[i.id] = &i, by_pid[i.pid] = &i;
  const auto runs = chaos.runs();
  int lost = 0, lost_by_live = 0, executions = 0;
  std::int64_t latest_after_death = 0;
  for (const auto& uuid : tasks) {
    INFO("task " << uuid);
    CHECK(h.client().get_task(uuid).state == tasker::TaskState::complete);
    for (const auto& step : h.client().list_steps(uuid)) {
      INFO("step " << step.name);
      CHECK(step.state == tasker::StepState::complete);
      struct Claim {
        std::string worker;
        int attempt;
        std::int64_t at;
        std::string closed_to;
      };
      std::vector<Claim> claims;
      int completions = 0;
      bool open = false;
      for (const auto& t : h.client().transitions(uuid, step.name)) {
        const std::int64_t at = tasker::to_epoch_ms(t.at);
        if (t.to_state == "in_progress") {
          CHECK_MESSAGE(!open, "claimed by " << t.worker_id << " while another claim was open");
          claims.push_back({t.worker_id, t.attempt, at, ""});
          open = true;
          continue;
        }
        if (t.from_state != "in_progress") continue;
        REQUIRE(open);
        open = false;
        Claim& c = claims.back();
        c.closed_to = t.to_state;
        if (t.to_state == "complete") {
          completions += 1;
          CHECK(t.worker_id == c.worker);
        } else if (t.to_state == "waiting_for_retry" && t.reason.rfind("lease expired", 0) == 0) {
          lost += 1;
          auto owner = by_id.find(c.worker);
          REQUIRE_MESSAGE(owner != by_id.end(), "claimed by an unknown worker " << c.worker);
          // Never before its lease ran out.
          CHECK(at >= c.at + kLeaseMs);
          if (!owner->second->killed_at) {
            lost_by_live += 1;  // a renewal that came too late on a loaded machine: fenced, and retried
            continue;
          }
          // Its last renewal came before the kill, so its lease ran out at most
          // a lease after the kill; a reclaim pass runs every reclaim interval
          // in every live worker, and its transaction takes a moment.
          const std::int64_t after_death = at - *owner->second->killed_at;
          CHECK_MESSAGE(
              after_death <= kLeaseMs + kReclaimMs + tasker::testing::scaled(milliseconds{500}).count(),
              "lost at attempt " << c.attempt << ", reclaimed " << after_death << " ms after its worker was killed");
          latest_after_death = std::max(latest_after_death, after_death);
        } else if (t.to_state != "enqueued") {  // released unrun by a stopping worker
          FAIL_CHECK("attempt " << c.attempt << " ended " << t.to_state << ": " << t.reason);
        }
      }
      CHECK_FALSE(open);
      CHECK(completions == 1);

      // The handler runs of this step, against its claims.
      auto it = runs.find(uuid + "/" + step.name);
      REQUIRE_MESSAGE(it != runs.end(), "no handler run was logged");
      std::vector<Run> mine = it->second;
      executions += static_cast<int>(mine.size());
      std::map<int, int> per_attempt;
      // The worker of a run: the parent of its supervisor when the run began.
      // A run that began as its worker died (before the supervisor killed the
      // group) found the supervisor orphaned already: it belongs to its claim's worker.
      auto worker_of = [&](const Run& r) -> const Incarnation* {
        if (auto w = by_pid.find(r.worker_pid); w != by_pid.end()) return w->second;
        for (const auto& c : claims)
          if (c.attempt == r.attempt && by_id.count(c.worker) && by_id.at(c.worker)->killed_at && !r.end)
            return by_id.at(c.worker);
        return nullptr;
      };
      for (const auto& r : mine) {
        per_attempt[r.attempt] += 1;
        const Incarnation* worker = worker_of(r);
        REQUIRE_MESSAGE(worker, "attempt " << r.attempt << " ran under pid " << r.worker_pid << ", no worker's");
        const bool claimed = std::any_of(claims.begin(), claims.end(), [&](const Claim& c) {
          return c.attempt == r.attempt && c.worker == worker->id;
        });
        CHECK_MESSAGE(claimed, "attempt " << r.attempt << " ran in " << worker->id << " without its claim");
        CHECK_MESSAGE((r.end || worker->killed_at), "a run in a live worker never ended");
      }
      for (const auto& attempt_n : per_attempt) {
        // Not structured bindings: CHECK_MESSAGE captures in a lambda, which clang 14 (clang-tidy) refuses for those.
        const auto& attempt = attempt_n.first;
        const auto& n = attempt_n.second;
        CHECK_MESSAGE(n == 1, "attempt " << attempt << " ran " << n);
      }
      // Never two runs at once: a run ends when it returns or when its worker dies.
      std::sort(mine.begin(), mine.end(), [](const Run& a, const Run& b) { return a.start < b.start; });
      for (std::size_t i = 1; i < mine.size(); ++i) {
        const Run& before = mine[i - 1];
        const auto killed = worker_of(before)->killed_at;
        const std::int64_t ended = before.end ? *before.end : killed.value_or(INT64_MAX);
        CHECK_MESSAGE(mine[i].start >= ended,
                      "attempt " << mine[i].attempt << " started while attempt " << before.attempt << " still ran");
      }
      const Claim& done = claims.back();
      CHECK(done.closed_to == "complete");
      CHECK(std::any_of(mine.begin(), mine.end(), [&](const Run& r) {
        return r.attempt == done.attempt && r.end && worker_of(r)->id == done.worker;
      }));
    }
  }
  return fmt::format(
      "{} handler runs, {} attempts lost with their worker ({} by live workers whose renewal came late); the latest "
      "reclaim came {} ms after its worker's death (lease {} ms, reclaim interval {} ms)",
      executions, lost, lost_by_live, latest_after_death, kLeaseMs, kReclaimMs);
}

void run_chaos(tasker::testing::Backend backend) {
  Chaos chaos(backend);
  Harness& h = chaos.harness();
  std::vector<std::string> tasks;
  for (int i = 0; i < kTasks; ++i) tasks.push_back(h.submit(h.create_task_request("chaos", "chain", {{"n", i}})).uuid);
  for (std::size_t slot = 0; slot < kWorkers; ++slot) chaos.start(slot);

  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  INFO("random seed " << seed);
  std::uniform_int_distribution<int> pause_ms(100, 500);
  std::uniform_int_distribution<std::size_t> pick(0, kWorkers - 1);
  int complete_at_last_kill = 0;
  for (int kill = 1; kill <= kKills; ++kill) {
    std::this_thread::sleep_for(milliseconds{pause_ms(random)});
    // Hold every run, so that none ends by itself meanwhile; kill a worker
    // that runs a handler. Its handlers' process groups die with it, however
    // long the check waits: nothing of it may remain.
    const std::size_t slot = pick(random);
    chaos.hold(true);
    REQUIRE_MESSAGE(eventually([&] { return chaos.running_a_handler(slot); }, milliseconds{30'000}),
                    "the worker to kill never ran a handler");
    chaos.kill(slot);
    complete_at_last_kill = count_complete(h);
    std::vector<std::string> left;
    CHECK_MESSAGE(eventually([&] { return (left = chaos.strays()).empty(); }, milliseconds{10'000}),
                  "after kill " << kill << " these outlived their worker:\n"
                                << fmt::format("{}", fmt::join(left, "\n")));
    chaos.hold(false);
    chaos.start(slot);
  }
  // The kills hit a run in progress, not an idle pool.
  REQUIRE(complete_at_last_kill < kTasks);

  REQUIRE_MESSAGE(eventually([&] { return count_complete(h) == kTasks; }, milliseconds{180'000}),
                  count_complete(h) << " of " << kTasks << " tasks complete");
  chaos.stop_all();
  std::vector<std::string> left;
  CHECK_MESSAGE(eventually([&] { return (left = chaos.strays()).empty(); }, milliseconds{10'000}),
                "outlived the stopped workers:\n"
                    << fmt::format("{}", fmt::join(left, "\n")));
  const std::string summary = check_history(chaos, tasks);
  MESSAGE(tasker::testing::to_string(backend)
          << ": " << kTasks << " tasks, " << kKills << " workers killed (" << complete_at_last_kill
          << " tasks complete at the last kill), " << chaos.incarnations().size() << " worker processes; " << summary);
}

}  // namespace

TEST_CASE("chaos sqlite: 20 random SIGKILLs of worker processes lose no task, run no step twice, leave no handler") {
  run_chaos(tasker::testing::Backend::sqlite);
}

TEST_CASE("chaos postgres: 20 random SIGKILLs of worker processes lose no task, run no step twice, leave no handler") {
  run_chaos(tasker::testing::Backend::postgres);
}
