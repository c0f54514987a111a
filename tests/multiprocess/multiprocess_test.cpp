// Many worker processes on one PostgreSQL database (issue 4). Every test runs
// in a schema of its own (one Harness each); workers and submitters are
// separate processes (tasker_mp_agent) with their own connections. Every
// assertion is about recorded data: step rows, claim tokens, the transition
// history and the workers' execution logs (support.hpp, check_history); the
// only timing facts asserted are differences between recorded timestamps.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "support.hpp"
#include "tasker/testing.hpp"

using namespace mp;
using tasker::testing::Harness;

namespace {

/// A temporary folder for the workers' execution logs, removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char pattern[] = "/tmp/tasker-mp-XXXXXX";
    const char* made = mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::unique_ptr<Harness> make_harness(std::string server_url = {}) {
  tasker::testing::HarnessOptions options;
  options.backend = tasker::testing::Backend::postgres;
  if (!server_url.empty()) options.postgres_url = std::move(server_url);
  options.template_paths = {templates_dir()};
  return std::make_unique<Harness>(std::move(options));
}

/// Submit `count` tasks of multiprocess/`name` (context n = 0..count-1 plus
/// `extra`) from `threads` threads sharing the harness's client; returns the uuids.
std::vector<std::string> submit_many(Harness& h, const std::string& name, int count, const json& extra,
                                     int threads = 4) {
  std::vector<std::string> uuids(static_cast<std::size_t>(count));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex error_mutex;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = next++; i < count && !failed; i = next++) {
        json context = extra;
        context["n"] = i;
        try {
          uuids[static_cast<std::size_t>(i)] =
              h.client().submit(h.create_task_request("multiprocess", name, context)).uuid;
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mutex);
          failed = true;
          error = e.what();
        }
      }
    });
  for (auto& t : pool) t.join();
  if (failed) FAIL("submitting failed: " << error);
  return uuids;
}

std::vector<std::unique_ptr<Child>> start_workers(const std::string& url, const std::vector<WorkerSpec>& specs,
                                                  const TempDir& logs) {
  std::vector<std::unique_ptr<Child>> workers;
  for (const auto& spec : specs) workers.push_back(start_worker(url, spec, logs.path / (spec.id + ".log")));
  return workers;
}

void stop_workers(std::vector<std::unique_ptr<Child>>& workers) {
  for (auto& w : workers) w->signal(SIGTERM);
  for (auto& w : workers) CHECK_MESSAGE(stop_worker(*w), w->name() << " did not stop cleanly");
}

/// Check the whole history; fails with the first problems, returns the summary.
Summary checked(History& history) {
  Summary sum = check_history(history);
  CHECK_MESSAGE(sum.problems.empty(), report(sum));
  if (sum.problems.empty()) MESSAGE(report(sum));
  return sum;
}

std::int64_t first_claim_at(const StepHistory& s) {
  for (const auto& t : s.transitions)
    if (t.to == "in_progress") return t.at;
  return -1;
}

}  // namespace

TEST_CASE("4 worker processes drain 2000 tasks: each step completes once and no attempt runs in two workers") {
  auto h = make_harness();
  TempDir logs;
  std::vector<WorkerSpec> specs;
  for (int i = 1; i <= 4; ++i) specs.push_back({.id = fmt::format("w{}", i), .lease_ms = 10'000});
  auto workers = start_workers(h->database_url(), specs, logs);

  constexpr int kTasks = 2000;
  submit_many(*h, "chain", kTasks, json::object());
  Db db(h->database_url());
  wait_until_all_terminal(db, kTasks, milliseconds{150'000});
  stop_workers(workers);

  History history = load_history(db, logs.path);
  CHECK(history.tasks == kTasks);
  CHECK(history.complete_tasks == kTasks);
  REQUIRE(history.steps.size() == 4u * kTasks);
  Summary sum = checked(history);
  CHECK(sum.executions >= 4 * kTasks);
  // The work was spread: every worker recorded a real share of the completions.
  REQUIRE(sum.completed_by.size() == 4);
  for (const auto& worker_n : sum.completed_by) {
    // Not structured bindings: CHECK_MESSAGE captures in a lambda, which clang 14 (clang-tidy) refuses for those.
    const std::string& worker = worker_n.first;
    const int n = worker_n.second;
    CHECK_MESSAGE(n >= 4 * kTasks / 20, worker << " completed only " << n << " of " << 4 * kTasks << " steps");
  }
}

namespace {

/// Three worker processes in `mode` share `tasks` two-step tasks of 400 ms
/// steps; one, whose handler runs never end by themselves (--hold), is killed
/// with SIGKILL once it started a step. Checks, from the recorded history, that
/// exactly its steps were reclaimed (after their lease expired and within a
/// lease of it) and finished once by the survivors. Its steps include any it
/// had claimed and not yet started when it died.
void kill_mid_step(const std::string& mode, long long fallback_ms, int tasks) {
  auto h = make_harness();
  TempDir logs;
  constexpr long long kLease = 3'000;
  auto spec = [&](std::string id, int concurrency, bool hold) {
    return WorkerSpec{.id = std::move(id),
                      .lease_ms = kLease,
                      .reclaim_ms = 150,
                      .concurrency = concurrency,
                      .mode = mode,
                      .fallback_ms = fallback_ms,
                      .hold = hold};
  };
  auto workers = start_workers(
      h->database_url(), {spec("victim", 3, true), spec("survivor-1", 2, false), spec("survivor-2", 2, false)}, logs);
  Child& victim = *workers[0];
  const int kTasks = tasks;
  submit_many(*h, "pair", kTasks, {{"sleep_ms", 400}});

  // Kill the victim once its log shows a step started (it holds every step it starts).
  const auto victim_log = logs.path / "victim.log";
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        std::ifstream in(victim_log);
                        std::string line;
                        return std::getline(in, line) && line.rfind("S ", 0) == 0;
                      },
                      milliseconds{30'000}),
                  "the victim never started a step");
  victim.signal(SIGKILL);
  REQUIRE(victim.wait(milliseconds{10'000}));

  // Once the server has ended the victim's sessions, its rows are final: read
  // the steps it held and when their leases run out.
  Db db(h->database_url());
  REQUIRE_MESSAGE(
      eventually(
          [&] { return db.scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'victim'") == 0; },
          milliseconds{10'000}),
      "the server kept the victim's sessions");
  std::map<std::int64_t, std::pair<int, std::int64_t>> orphans;  // step -> (attempt, lease expiry)
  for (const auto& r : db.query("SELECT id, attempts, lease_expires_at FROM tasker_steps "
                                "WHERE state = 'in_progress' AND worker_id = 'victim'"))
    orphans[r[0].as<std::int64_t>()] = {r[1].as<int>(), r[2].as<std::int64_t>()};
  REQUIRE_MESSAGE(!orphans.empty(), "the victim held no step when it was killed");

  wait_until_all_terminal(db, kTasks, milliseconds{60'000});
  workers.erase(workers.begin());  // reaped already
  stop_workers(workers);

  History history = load_history(db, logs.path);
  CHECK(history.complete_tasks == kTasks);
  Summary sum = checked(history);
  // Exactly the victim's steps lost a lease; nobody else's did.
  std::set<std::int64_t> orphan_ids;
  for (const auto& [id, o] : orphans) orphan_ids.insert(id);
  CHECK(sum.lost_lease_steps == orphan_ids);

  std::int64_t slowest_recovery = 0;
  int started_in_victim = 0;
  for (const auto& [id, o] : orphans) {
    // Not structured bindings: INFO captures `attempt` in a lambda, which clang 14 (clang-tidy) refuses.
    const int attempt = o.first;
    const std::int64_t lease_expiry = o.second;
    const StepHistory& s = history.steps.at(id);
    INFO("step " << s.row.name << " of task " << s.row.task_uuid << ", killed in attempt " << attempt);
    REQUIRE(s.claims.size() == static_cast<std::size_t>(attempt + 1));
    const Claim& killed = s.claims[static_cast<std::size_t>(attempt - 1)];
    const Claim& rescue = s.claims.back();
    CHECK(killed.worker == "victim");
    // The reclaim: after the lease ran out, and within a lease of it.
    CHECK(killed.closed_to == "waiting_for_retry");
    CHECK(killed.lease_lost());
    CHECK(killed.closed_reason.find("reclaimed by survivor-") != std::string::npos);
    REQUIRE(killed.closed_at);
    CHECK(*killed.closed_at > lease_expiry);
    CHECK(*killed.closed_at - lease_expiry <= kLease);
    slowest_recovery = std::max(slowest_recovery, *killed.closed_at - lease_expiry);
    // The victim's run, if it had started one (a claimed step may not have
    // been started yet), never ended; a survivor finished the step, once.
    for (const auto& e : s.executions)
      if (e.worker == "victim" && e.attempt == attempt) {
        CHECK_FALSE(e.end);
        started_in_victim += 1;
      }
    CHECK(rescue.worker.rfind("survivor-", 0) == 0);
    CHECK(rescue.attempt == attempt + 1);
    CHECK(rescue.closed_to == "complete");
    CHECK(s.row.attempts == attempt + 1);
    CHECK(s.row.error.value("error_type", "") == "worker_lost");
  }
  CHECK(started_in_victim >= 1);  // the one that triggered the kill
  MESSAGE(mode << ": " << orphans.size() << " steps reclaimed from the victim (" << started_in_victim
               << " had started there); reclaim came at most " << slowest_recovery << " ms after lease expiry (lease "
               << kLease << " ms)");
}

}  // namespace

TEST_CASE(
    "a worker process killed with SIGKILL mid-step: the others reclaim its steps after the lease and finish them") {
  kill_mid_step("hybrid", 1'000, 24);
}

TEST_CASE("event_driven: steps reclaimed from a killed worker are claimed without any notification or poll") {
  // Few tasks: the survivors are idle when the victim's leases run out, so no
  // enqueue (and no NOTIFY) follows the reclaim, and there is no poll.
  kill_mid_step("event_driven", 30'000, 6);
}

TEST_CASE("16 concurrent submitter processes of one identity create exactly one task") {
  auto h = make_harness();
  constexpr int kSubmitters = 16;
  std::vector<std::unique_ptr<Child>> submitters;
  for (int i = 0; i < kSubmitters; ++i) {
    submitters.push_back(std::make_unique<Child>(
        fmt::format("submitter {}", i),
        std::vector<std::string>{TASKER_MP_AGENT_PATH, "submit", "--db", h->database_url(), "--templates",
                                 templates_dir().string(), "--namespace", "multiprocess", "--name", "chain",
                                 "--context", R"({"order": 42, "customer": "same"})"},
        true));
  }
  for (auto& s : submitters) REQUIRE(s->read_line(milliseconds{30'000}) == "ready");
  for (auto& s : submitters) s->write_line("go");  // all at once: they race inside the database

  std::vector<std::string> created;
  std::vector<json> duplicates;
  for (auto& s : submitters) {
    json out = json::parse(s->read_line(milliseconds{30'000}));
    if (out.contains("created"))
      created.push_back(out["created"]);
    else if (out.contains("duplicate"))
      duplicates.push_back(out);
    else
      FAIL(s->name() << " failed: " << out.dump());
  }
  REQUIRE(created.size() == 1);
  CHECK(duplicates.size() == kSubmitters - 1);
  for (const auto& d : duplicates) {
    CHECK(d["duplicate"] == created[0]);
    CHECK(d["message"].get<std::string>().find(created[0]) != std::string::npos);
  }
  Db db(h->database_url());
  CHECK(db.scalar("SELECT COUNT(*) FROM tasker_tasks") == 1);
  CHECK(db.scalar("SELECT COUNT(*) FROM tasker_steps") == 4);
  auto task = h->client().get_task(created[0]);
  CHECK(task.counts.total == 4);
}

TEST_CASE("a PostgreSQL restart mid-run: every task completes with nothing lost and no step completed twice") {
  // The shared test server serves every other test: this one restarts a server of its own.
  const std::string script = TASKER_MP_PG_SCRIPT, dir = TASKER_MP_RESTART_DIR, port = TASKER_MP_RESTART_PORT;
  auto run = [](const std::string& command) { return std::system(command.c_str()); };
  const std::string url_file = dir + ".url";
  REQUIRE_MESSAGE(run(fmt::format("'{}' start '{}' {} > '{}'", script, dir, port, url_file)) == 0,
                  "could not start a PostgreSQL server of the test's own (the script's messages are above)");
  struct StopServer {
    std::string command, url_file;
    ~StopServer() {
      std::system(command.c_str());
      std::filesystem::remove(url_file);
    }
  } stop_server{fmt::format("'{}' stop '{}'", script, dir), url_file};
  std::string server_url;
  std::getline(std::ifstream(url_file), server_url);
  REQUIRE(!server_url.empty());

  auto h = make_harness(server_url);
  TempDir logs;
  constexpr int kTasks = 400;
  submit_many(*h, "chain", kTasks, {{"sleep_ms", 15}});
  auto workers = start_workers(h->database_url(),
                               {{.id = "r1", .lease_ms = 3'000, .reclaim_ms = 300},
                                {.id = "r2", .lease_ms = 3'000, .reclaim_ms = 300},
                                {.id = "r3", .lease_ms = 3'000, .reclaim_ms = 300}},
                               logs);

  Db db(h->database_url());
  REQUIRE_MESSAGE(
      eventually([&] { return db.scalar("SELECT COUNT(*) FROM tasker_steps WHERE state = 'complete'") >= kTasks; },
                 milliseconds{60'000}),
      "the workers did not get going");
  const std::int64_t stopping_at = now_ms();
  // -m fast terminates every session; the server stays down 2 s, longer than
  // the store's own retries (~1.3 s), so the workers' retry path runs too.
  REQUIRE(run(fmt::format("'{}' restart '{}' 2", script, dir)) == 0);
  const std::int64_t started_at = now_ms();
  // For the report only (not asserted): how soon the workers made progress again.
  std::int64_t resumed_after_ms = -1;
  {
    const std::int64_t complete_at_restart = db.scalar("SELECT COUNT(*) FROM tasker_steps WHERE state = 'complete'");
    if (eventually(
            [&] {
              return db.scalar("SELECT COUNT(*) FROM tasker_steps WHERE state = 'complete'") > complete_at_restart;
            },
            milliseconds{30'000}))
      resumed_after_ms = now_ms() - started_at;
  }
  const std::int64_t done_before = db.scalar(
      "SELECT COUNT(*) FROM tasker_transitions WHERE to_state = 'complete' AND step_id IS NOT NULL "
      "AND at < " +
      std::to_string(stopping_at));

  wait_until_all_terminal(db, kTasks, milliseconds{120'000});
  for (auto& w : workers) CHECK_MESSAGE(w->running(), w->name() << " died");
  stop_workers(workers);

  // The server did restart, mid-run.
  CHECK(db.scalar("SELECT (EXTRACT(EPOCH FROM pg_postmaster_start_time()) * 1000)::bigint") >= stopping_at);
  const std::int64_t done_after = db.scalar(
      "SELECT COUNT(*) FROM tasker_transitions WHERE to_state = 'complete' AND step_id IS NOT NULL "
      "AND at > " +
      std::to_string(started_at));
  CHECK(done_before > 0);
  CHECK(done_after > 0);

  History history = load_history(db, logs.path);
  CHECK(history.tasks == kTasks);
  CHECK(history.complete_tasks == kTasks);
  REQUIRE(history.steps.size() == 4u * kTasks);
  Summary sum = checked(history);
  MESSAGE(done_before << " steps completed before the restart, " << done_after << " after it; "
                      << sum.lost_lease_steps.size() << " leases lost; steps completed again " << resumed_after_ms
                      << " ms after the server was back");
}

namespace {

/// Two worker processes in `mode` drain 100 tasks submitted from this
/// process; then one more task, submitted while they sleep, shows how soon a
/// worker in another process claimed it (first claim - task creation).
std::int64_t drain_in_mode(const std::string& mode, long long fallback_ms) {
  auto h = make_harness();
  TempDir logs;
  // A 60 s lease: the reclaim pass (every 30 s) never coincides with a claim.
  auto workers = start_workers(h->database_url(),
                               {{.id = "a", .lease_ms = 60'000, .mode = mode, .fallback_ms = fallback_ms},
                                {.id = "b", .lease_ms = 60'000, .mode = mode, .fallback_ms = fallback_ms}},
                               logs);
  constexpr int kTasks = 100;
  submit_many(*h, "chain", kTasks, json::object(), 1);
  Db db(h->database_url());
  wait_until_all_terminal(db, kTasks, milliseconds{60'000});

  // Both are idle now; a new task must wake one of them.
  std::this_thread::sleep_for(milliseconds{300});
  auto late = h->submit(h->create_task_request("multiprocess", "chain", {{"late", true}}));
  wait_until_all_terminal(db, kTasks + 1, milliseconds{std::min(fallback_ms / 2, 20'000LL) + 20'000});
  stop_workers(workers);

  History history = load_history(db, logs.path);
  CHECK(history.complete_tasks == kTasks + 1);
  Summary sum = checked(history);
  CHECK(sum.completed_by.size() == 2);  // both processes took part
  std::int64_t latency = -1;
  for (const auto& [id, s] : history.steps)
    if (s.row.task_uuid == late.uuid && s.row.name == "step_1")
      latency = first_claim_at(s) - tasker::to_epoch_ms(late.created_at);
  REQUIRE(latency >= 0);
  MESSAGE(mode << " (fallback " << fallback_ms << " ms): a task submitted to idle workers was claimed " << latency
               << " ms after it was created");
  return latency;
}

}  // namespace

TEST_CASE("event_system polling_only: workers in other processes find work by polling alone") {
  // No LISTEN connection, no wake-ups: the 200 ms poll is the only way to find work.
  drain_in_mode("polling_only", 200);
}

TEST_CASE("event_system event_driven: a NOTIFY wakes an idle worker in another process long before the fallback") {
  constexpr long long kFallback = 30'000;
  std::int64_t latency = drain_in_mode("event_driven", kFallback);
  CHECK(latency < kFallback / 6);
}

TEST_CASE("event_system hybrid: NOTIFY plus a fallback poll wakes an idle worker long before the fallback") {
  constexpr long long kFallback = 30'000;
  std::int64_t latency = drain_in_mode("hybrid", kFallback);
  CHECK(latency < kFallback / 6);
}
