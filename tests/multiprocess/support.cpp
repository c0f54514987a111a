#include "support.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tasker/clock.hpp"
#include "tasker/testing.hpp"

extern char** environ;

namespace mp {

std::int64_t now_ms() { return tasker::to_epoch_ms(tasker::SystemClock::instance().now()); }

std::filesystem::path templates_dir() {
  return std::filesystem::path(TASKER_SOURCE_DIR) / "tests/multiprocess/templates";
}

std::string with_application_name(const std::string& url, const std::string& name) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
}

std::unique_ptr<Child> start_worker(const std::string& url, const WorkerSpec& spec, const std::filesystem::path& log) {
  std::vector<std::string> args{TASKER_MP_AGENT_PATH,
                                "worker",
                                "--db",
                                with_application_name(url, spec.id),
                                "--id",
                                spec.id,
                                "--lease-ms",
                                std::to_string(spec.lease_ms),
                                "--reclaim-ms",
                                std::to_string(spec.reclaim_ms),
                                "--concurrency",
                                std::to_string(spec.concurrency),
                                "--batch",
                                std::to_string(spec.batch),
                                "--mode",
                                spec.mode,
                                "--fallback-ms",
                                std::to_string(spec.fallback_ms),
                                "--log",
                                log.string(),
                                "--hold",
                                spec.hold ? "true" : "false"};
  auto child = std::make_unique<Child>("worker " + spec.id, args);
  std::string line = child->read_line(milliseconds{30'000});
  if (line != "ready " + spec.id)
    throw std::runtime_error(fmt::format("worker {} said `{}`, not ready", spec.id, line));
  return child;
}

bool stop_worker(Child& worker) {
  worker.signal(SIGTERM);
  auto status = worker.wait(milliseconds{30'000});
  if (!status) {
    worker.signal(SIGKILL);
    worker.wait(milliseconds{10'000});
    return false;
  }
  return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// ---------------------------------------------------------------------------
// Db

Db::Db(std::string url) {
  std::string query;
  if (auto q = url.find('?'); q != std::string::npos) query = url.substr(q + 1), url.resize(q);
  std::string kept;
  std::istringstream items(query);
  for (std::string item; std::getline(items, item, '&');) {
    if (item.rfind("schema=", 0) == 0)
      schema_ = item.substr(7);
    else
      kept += (kept.empty() ? "?" : "&") + item;
  }
  libpq_url_ = url + kept;
  connect();
}

void Db::connect() {
  conn_ = std::make_unique<pqxx::connection>(libpq_url_);
  if (!schema_.empty()) {
    pqxx::nontransaction tx(*conn_);
    tx.exec("SET search_path TO " + tx.quote_name(schema_));
  }
}

pqxx::result Db::query(const std::string& sql) {
  for (int attempt = 1;; ++attempt) {
    try {
      if (!conn_ || !conn_->is_open()) connect();
      pqxx::nontransaction tx(*conn_);
      return tx.exec(sql);
    } catch (const pqxx::broken_connection&) {
      conn_.reset();
      if (attempt == 2) throw;
    }
  }
}

std::int64_t Db::scalar(const std::string& sql) {
  auto r = query(sql);
  return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<std::int64_t>();
}

void wait_until_all_terminal(Db& db, std::int64_t expected, milliseconds timeout) {
  timeout = tasker::testing::scaled(timeout);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "(no answer from the database)";
  for (;;) {
    try {
      auto r = db.query(
          "SELECT COUNT(*), COUNT(*) FILTER (WHERE state IN ('complete', 'error', 'cancelled', 'resolved_manually')), "
          "string_agg(DISTINCT state, ',') FROM tasker_tasks");
      std::int64_t total = r[0][0].as<std::int64_t>(), terminal = r[0][1].as<std::int64_t>();
      last =
          fmt::format("{} tasks, {} terminal (states: {})", total, terminal, r[0][2].is_null() ? "" : r[0][2].c_str());
      if (total == expected && terminal == expected) return;
    } catch (const std::exception& e) {
      last = fmt::format("database error: {}", e.what());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string steps;
      try {
        for (const auto& row : db.query("SELECT state, COUNT(*) FROM tasker_steps GROUP BY state ORDER BY 1"))
          steps += fmt::format(" {}={}", row[0].c_str(), row[1].c_str());
      } catch (const std::exception& e) {
        steps = e.what();
      }
      FAIL("timed out after " << timeout.count() << " ms waiting for " << expected << " terminal tasks: " << last
                              << "; steps:" << steps);
    }
    std::this_thread::sleep_for(milliseconds{50});
  }
}

// ---------------------------------------------------------------------------
// History

History load_history(Db& db, const std::filesystem::path& log_dir) {
  History h;
  std::map<std::string, std::int64_t> by_name;  // task_uuid/step -> id
  for (const auto& r :
       db.query("SELECT s.id, t.uuid, s.name, s.state, s.attempts, s.claim_token, COALESCE(s.worker_id, ''), "
                "s.error::text, s.lease_expires_at, s.results IS NOT NULL, t.state "
                "FROM tasker_steps s JOIN tasker_tasks t ON t.id = s.task_id")) {
    StepRow s;
    s.id = r[0].as<std::int64_t>();
    s.task_uuid = r[1].c_str();
    s.name = r[2].c_str();
    s.state = r[3].c_str();
    s.attempts = r[4].as<int>();
    s.claim_token = r[5].as<std::int64_t>();
    s.worker_id = r[6].c_str();
    s.error = r[7].is_null() ? json(nullptr) : json::parse(r[7].c_str());
    if (!r[8].is_null()) s.lease_expires_at = r[8].as<std::int64_t>();
    s.has_results = r[9].as<bool>();
    s.task_state = r[10].c_str();
    by_name[s.task_uuid + "/" + s.name] = s.id;
    h.steps[s.id].row = std::move(s);
  }
  for (const auto& r :
       db.query("SELECT id, step_id, COALESCE(from_state, ''), to_state, at, worker_id, reason, attempt "
                "FROM tasker_transitions WHERE step_id IS NOT NULL ORDER BY id")) {
    TransitionRow t;
    t.id = r[0].as<std::int64_t>();
    t.step_id = r[1].as<std::int64_t>();
    t.from = r[2].c_str();
    t.to = r[3].c_str();
    t.at = r[4].as<std::int64_t>();
    t.worker = r[5].c_str();
    t.reason = r[6].c_str();
    t.attempt = r[7].as<int>();
    h.steps[t.step_id].transitions.push_back(std::move(t));
  }
  auto counts = db.query("SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'complete') FROM tasker_tasks");
  h.tasks = counts[0][0].as<std::int64_t>();
  h.complete_tasks = counts[0][1].as<std::int64_t>();

  // Execution logs: `S|E task step attempt worker ms`.
  if (!log_dir.empty() && std::filesystem::exists(log_dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(log_dir)) {
      if (entry.path().extension() != ".log") continue;
      std::ifstream in(entry.path());
      std::map<std::tuple<std::int64_t, int, std::string>, std::size_t> open;  // (step, attempt, worker) -> index
      for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        char kind = 0;
        std::string task, step, worker;
        int attempt = 0;
        std::int64_t at = 0;
        if (!(fields >> kind >> task >> step >> attempt >> worker >> at)) continue;  // a line cut by SIGKILL
        auto it = by_name.find(fmt::format("{}/{}", task, step));
        if (it == by_name.end()) continue;
        auto& executions = h.steps[it->second].executions;
        auto key = std::make_tuple(it->second, attempt, worker);
        if (kind == 'S') {
          open[key] = executions.size();
          executions.push_back({worker, attempt, at, std::nullopt});
        } else if (kind == 'E') {
          if (auto o = open.find(key); o != open.end()) executions[o->second].end = at;
        }
      }
    }
  }
  return h;
}

Summary check_history(History& history) {
  Summary sum;
  auto problem = [&](const StepHistory& s, const std::string& what) {
    sum.problems.push_back(fmt::format("step {} ({}/{}): {}", s.row.id, s.row.task_uuid, s.row.name, what));
  };
  for (auto& [id, s] : history.steps) {
    s.claims.clear();
    // Walk the transitions: one path, one open claim at most.
    std::optional<std::size_t> open;
    int completions = 0, releases = 0;
    std::string state;
    bool path_ok = true;
    for (const auto& t : s.transitions) {
      if (t.from != state) {
        problem(s, fmt::format("transition {} goes {} -> {} but the step was `{}`", t.id, t.from, t.to, state));
        path_ok = false;
      }
      state = t.to;
      if (t.to == "in_progress") {
        if (open)
          problem(s, fmt::format("claimed by {} (attempt {}) while {}'s claim (attempt {}) was still open", t.worker,
                                 t.attempt, s.claims[*open].worker, s.claims[*open].attempt));
        const int expected_attempt = static_cast<int>(s.claims.size()) - releases + 1;
        if (t.attempt != expected_attempt)
          problem(s, fmt::format("claim {} numbered attempt {}, expected {}", s.claims.size() + 1, t.attempt,
                                 expected_attempt));
        s.claims.push_back({t.worker, t.attempt, t.at, std::nullopt, "", ""});
        open = s.claims.size() - 1;
        sum.claims_by[t.worker] += 1;
        sum.claims += 1;
      } else if (t.from == "in_progress") {
        if (!open) {
          problem(s, fmt::format("left in_progress ({}) with no open claim", t.to));
          continue;
        }
        Claim& c = s.claims[*open];
        // A release hands the attempt back uncounted: its transition carries attempt - 1.
        const int expected = t.to == "enqueued" ? c.attempt - 1 : c.attempt;
        if (t.worker != c.worker || t.attempt != expected)
          problem(s, fmt::format("claim of {} attempt {} closed as {} attempt {}", c.worker, c.attempt, t.worker,
                                 t.attempt));
        c.closed_at = t.at;
        c.closed_to = t.to;
        c.closed_reason = t.reason;
        open.reset();
        if (t.to == "complete") {
          completions += 1;
          sum.completed_by[t.worker] += 1;
        } else if (t.to == "enqueued") {
          releases += 1;
        } else if (t.to == "waiting_for_retry" && c.lease_lost()) {
          sum.lost_lease_steps.insert(id);
        } else {
          problem(s, fmt::format("attempt {} ended {} ({}): the workload never fails", t.attempt, t.to, t.reason));
        }
      }
    }
    if (!path_ok) continue;
    if (open) problem(s, "a claim is still open");
    if (completions != 1) problem(s, fmt::format("completion recorded {} times", completions));
    if (s.row.state != "complete" || !s.row.has_results)
      problem(s, fmt::format("ended {} ({} results)", s.row.state, s.row.has_results ? "with" : "without"));
    const int claims = static_cast<int>(s.claims.size());
    if (s.row.claim_token != claims)
      problem(s, fmt::format("claim token {} but {} claims recorded", s.row.claim_token, claims));
    if (s.row.attempts != claims - releases)
      problem(s, fmt::format("attempts {} but {} claims and {} releases", s.row.attempts, claims, releases));
    int lost = 0;
    for (const auto& c : s.claims) lost += c.lease_lost() ? 1 : 0;
    if (s.row.attempts != 1 + lost)
      problem(s, fmt::format("attempts {} with {} lost leases (expected {})", s.row.attempts, lost, 1 + lost));
    if (!s.claims.empty() && s.row.worker_id != s.claims.back().worker)
      problem(s,
              fmt::format("row names worker {} but the last claim was {}'s", s.row.worker_id, s.claims.back().worker));

    // Executions against claims.
    std::map<int, int> runs_of_attempt;
    for (const auto& e : s.executions) {
      sum.executions += 1;
      runs_of_attempt[e.attempt] += 1;
      const Claim* claim = nullptr;
      for (const auto& c : s.claims)
        if (c.attempt == e.attempt && c.closed_to != "enqueued") claim = &c;
      if (!claim) {
        problem(s, fmt::format("{} ran attempt {} with no recorded claim", e.worker, e.attempt));
        continue;
      }
      if (claim->worker != e.worker)
        problem(s, fmt::format("attempt {} was claimed by {} but ran in {}", e.attempt, claim->worker, e.worker));
      if (e.start < claim->claimed_at)
        problem(s,
                fmt::format("attempt {} started at {} before its claim at {}", e.attempt, e.start, claim->claimed_at));
      if (!claim->lease_lost() && claim->closed_at && e.end && *e.end > *claim->closed_at)
        problem(s, fmt::format("attempt {} ended at {} after its claim was closed at {}", e.attempt, *e.end,
                               *claim->closed_at));
    }
    for (const auto& [attempt, runs] : runs_of_attempt)
      if (runs > 1) problem(s, fmt::format("attempt {} ran {} times", attempt, runs));
    for (const auto& c : s.claims)
      if (c.closed_to != "enqueued" && !runs_of_attempt.count(c.attempt)) sum.claimed_never_ran += 1;
    if (!s.claims.empty() && s.claims.back().closed_to == "complete") {
      const Claim& done = s.claims.back();
      bool ran = std::any_of(s.executions.begin(), s.executions.end(), [&](const Execution& e) {
        return e.attempt == done.attempt && e.worker == done.worker && e.end;
      });
      if (!ran)
        problem(s, fmt::format("completed by {} attempt {}, which has no finished run", done.worker, done.attempt));
    }
    // Runs of one step never overlap, unless the earlier one had lost its lease.
    std::vector<const Execution*> runs;
    for (const auto& e : s.executions) runs.push_back(&e);
    std::sort(runs.begin(), runs.end(), [](auto* a, auto* b) { return a->start < b->start; });
    for (std::size_t i = 1; i < runs.size(); ++i) {
      const Execution& before = *runs[i - 1];
      bool before_lost = std::any_of(s.claims.begin(), s.claims.end(),
                                     [&](const Claim& c) { return c.attempt == before.attempt && c.lease_lost(); });
      if (before_lost) continue;
      if (!before.end || *before.end > runs[i]->start)
        problem(s, fmt::format("attempt {} ({}) started at {} while attempt {} ({}) was still running",
                               runs[i]->attempt, runs[i]->worker, runs[i]->start, before.attempt, before.worker));
    }
  }
  return sum;
}

std::string report(const Summary& sum, std::size_t max_problems) {
  std::string out = fmt::format(
      "{} claims, {} executions, {} claims never ran, {} steps with a lost lease; completed by:", sum.claims,
      sum.executions, sum.claimed_never_ran, sum.lost_lease_steps.size());
  for (const auto& [worker, n] : sum.completed_by) out += fmt::format(" {}={}", worker, n);
  if (!sum.problems.empty()) {
    out += fmt::format("\n{} problems:", sum.problems.size());
    for (std::size_t i = 0; i < sum.problems.size() && i < max_problems; ++i) out += "\n  " + sum.problems[i];
  }
  return out;
}

}  // namespace mp
