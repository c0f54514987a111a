// Does a worker transaction cost more once the tables hold a long history?
// (docs/performance.md, "Claims against a long history"; issue 12.)
//
// On one database (SQLite file or PostgreSQL URL) it times the exchange a
// worker running one step at a time makes (report the previous step's
// outcome, claim the next step) over 1-step tasks waiting in the queue:
//   1. on an empty database;
//   2. after the tables were filled with HISTORY finished tasks (each a
//      1-step task with its step and its four transitions, as the engine
//      wrote them), before any ANALYZE: a bulk load the planner has not seen;
//   3. the same after ANALYZE.
// The history is made by the engine for the first 1,000 tasks, then copied
// in SQL (each copy doubles it, new ids and uuids) up to HISTORY.
//
//   bench_history URL [HISTORY=1000000] [EXCHANGES=1000]
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "tasker/client.hpp"
#include "tasker/clock.hpp"
#include "tasker/store.hpp"

using namespace bench;

namespace {

/// Runs SQL on the bench's database outside the engine (to copy history).
using RunSql = std::function<std::int64_t(const std::string& sql)>;  // the first column of the first row, or 0

RunSql sql_runner(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    auto conn = std::make_shared<pqxx::connection>(url);
    return [conn](const std::string& sql) -> std::int64_t {
      pqxx::nontransaction w(*conn);  // the caller's BEGIN and COMMIT make the transactions
      pqxx::result r = w.exec(sql);
      return r.empty() || r.columns() == 0 || r[0][0].is_null() ? 0 : r[0][0].as<std::int64_t>();
    };
  }
  std::string path = url.substr(url.rfind("sqlite://", 0) == 0 ? 9 : 0);
  auto db = std::make_shared<SQLite::Database>(path, SQLite::OPEN_READWRITE);
  db->setBusyTimeout(10'000);
  return [db](const std::string& sql) -> std::int64_t {
    SQLite::Statement s(*db, sql);
    if (!s.executeStep() || s.getColumnCount() == 0 || s.getColumn(0).isNull()) return 0;
    return s.getColumn(0).getInt64();
  };
}

/// Doubles every history table: rows copied with ids moved past the largest
/// (and uuids made unique), each table in one statement chain.
void double_history(const RunSql& sql, int round, bool postgres) {
  const auto max_id = [&](const char* table) { return sql(fmt::format("SELECT MAX(id) FROM {}", table)); };
  const std::int64_t task_off = max_id("tasker_tasks");
  const std::int64_t step_off = max_id("tasker_steps");
  const std::int64_t transition_off = max_id("tasker_transitions");
  const std::string suffix = fmt::format("'-h{}'", round);
  const std::string overriding = postgres ? " OVERRIDING SYSTEM VALUE" : "";
  struct Copy {
    const char* table;
    std::string changes;
    bool identity{true};  ///< has an identity id column (PostgreSQL: inserted OVERRIDING SYSTEM VALUE)
  };
  const std::vector<Copy> copies{
      {"tasker_tasks",
       fmt::format("id = id + {0}, uuid = uuid || {1}, identity_hash = identity_hash || {1}", task_off, suffix)},
      {"tasker_steps",
       fmt::format("id = id + {}, uuid = uuid || {}, task_id = task_id + {}", step_off, suffix, task_off)},
      {"tasker_step_edges", fmt::format("parent_id = parent_id + {0}, child_id = child_id + {0}", step_off), false},
      {"tasker_transitions",
       fmt::format("id = id + {}, task_id = task_id + {}, step_id = step_id + {}", transition_off, task_off, step_off)},
  };
  sql("BEGIN");
  for (const auto& c : copies) {
    sql(fmt::format("CREATE TEMP TABLE copied AS SELECT * FROM {}", c.table));
    sql(fmt::format("UPDATE copied SET {}", c.changes));
    sql(fmt::format("INSERT INTO {}{} SELECT * FROM copied", c.table, c.identity ? overriding : ""));
    sql("DROP TABLE copied");
  }
  sql("COMMIT");
  if (postgres)
    for (const char* table : {"tasker_tasks", "tasker_steps", "tasker_transitions"})
      sql(fmt::format("SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT MAX(id) FROM {0}))", table));
}

struct Timing {
  double median_ms{0};
  double p95_ms{0};
};

/// Submits `n` 1-step tasks, then drains them one exchange at a time as a
/// `c1 b1` worker does (the previous outcome and the next claim together);
/// times each exchange.
Timing time_exchanges(tasker::Store& store, tasker::Client& client, int n, int& counter) {
  tasker::TaskRequest req;
  req.namespace_name = kNamespace;
  req.name = template_name(Shape::linear, 1);
  for (int i = 0; i < n; ++i) {
    req.context = {{"i", counter++}};
    client.submit(req);
  }
  tasker::ClaimRequest claim;
  claim.worker_id = "bench";
  claim.filter.callables = {kCallable};
  std::vector<tasker::StepOutcome> outcomes;
  std::vector<double> ms;
  const tasker::SystemClock& clock = tasker::SystemClock::instance();
  for (;;) {
    auto start = SteadyClock::now();
    tasker::ExchangeResult r = store.exchange(outcomes, &claim, clock.now());
    ms.push_back(seconds_since(start) * 1000);
    if (r.claimed.empty()) break;
    outcomes.clear();
    for (const auto& c : r.claimed) {
      tasker::StepOutcome o;
      o.step_id = c.step_id;
      o.claim_token = c.claim_token;
      o.result = tasker::json::object();
      outcomes.push_back(std::move(o));
    }
  }
  ms.pop_back();  // the last one only reported
  return {percentile(ms, 50), percentile(ms, 95)};
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2 || std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help") {
    fmt::print("usage: bench_history URL [HISTORY=1000000] [EXCHANGES=1000]\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string url = argv[1];
  const long long history = argc > 2 ? std::stoll(argv[2]) : 1'000'000;
  const int exchanges = argc > 3 ? std::stoi(argv[3]) : 1000;
  const bool postgres = url.rfind("postgres", 0) == 0;

  auto store = tasker::open_store(url);
  tasker::Client client(store, make_templates({{Shape::linear, 1}}));
  RunSql sql = sql_runner(url);
  int counter = 0;
  fmt::print("# bench_history on {}: {} exchanges of a c1 b1 worker, 1-step tasks\n\n", store->describe(), exchanges);
  fmt::print(
      "| history (finished tasks) | statistics | exchange median ms | p95 ms | ÷ empty (median) "
      "|\n|---|---|---:|---:|---:|\n");
  const auto row = [&](long long tasks, const char* stats, const Timing& t, double empty) {
    fmt::print("| {} | {} | {:.3f} | {:.3f} | {:.2f} |\n", tasks, stats, t.median_ms, t.p95_ms, t.median_ms / empty);
    std::fflush(stdout);
  };
  if (postgres) sql("ANALYZE");
  const Timing empty = time_exchanges(*store, client, exchanges, counter);
  row(0, postgres ? "analyzed" : "-", empty, empty.median_ms);

  // The history: what the engine wrote for 1,000 tasks, then doubled in SQL.
  time_exchanges(*store, client, std::max(0, 1000 - exchanges), counter);
  // Keep autovacuum from analysing during the fill: step 2 measures plans made without statistics.
  const auto autovacuum = [&](bool on) {
    if (postgres)
      for (const char* table : {"tasker_tasks", "tasker_steps", "tasker_step_edges", "tasker_transitions"})
        sql(fmt::format("ALTER TABLE {} SET (autovacuum_enabled = {})", table, on));
  };
  autovacuum(false);
  auto start = SteadyClock::now();
  for (int round = 0; sql("SELECT COUNT(*) FROM tasker_tasks") < history; ++round) double_history(sql, round, postgres);
  const long long tasks = sql("SELECT COUNT(*) FROM tasker_tasks");
  fmt::print("\n(history filled in {:.1f} s: {} tasks, {} transitions)\n\n", seconds_since(start), tasks,
             sql("SELECT COUNT(*) FROM tasker_transitions"));
  const Timing cold = time_exchanges(*store, client, exchanges, counter);
  row(tasks, postgres ? "none since the fill (autovacuum off)" : "-", cold, empty.median_ms);
  autovacuum(true);
  if (postgres) {
    sql("ANALYZE");
    const Timing analyzed = time_exchanges(*store, client, exchanges, counter);
    row(tasks, "analyzed", analyzed, empty.median_ms);
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "bench_history: {}\n", e.what());
  return 1;
}
