#pragma once
// Support for the multi-process suite: child processes (workers and
// submitters, tasker_mp_agent), raw reads of a test schema, and the check of
// a whole run's recorded history (step rows, transitions, and the workers'
// execution logs).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "common/child.hpp"
#include "tasker/json.hpp"

namespace mp {

using std::chrono::milliseconds;
using tasker::json;

std::int64_t now_ms();
std::filesystem::path templates_dir();

// Child processes (tests/common/child.hpp)

using test_support::Child;
using test_support::eventually;

struct WorkerSpec {
  std::string id;
  long long lease_ms{10'000};
  long long reclaim_ms{0};  ///< 0: the worker's default (lease / 2)
  int concurrency{4};
  int batch{16};
  std::string mode{"hybrid"};
  long long fallback_ms{1'000};
  bool hold{false};  ///< every handler run lasts until cancelled (a victim to be killed mid-step)
};

/// Start `tasker_mp_agent worker` on `url` (its sessions are named after the
/// worker id), logging executions to `log`; returns once it printed `ready`.
std::unique_ptr<Child> start_worker(const std::string& url, const WorkerSpec& spec, const std::filesystem::path& log);
/// SIGTERM, wait for a graceful exit; returns true when it exited with status 0.
bool stop_worker(Child& worker);

/// `url` with `application_name=name` added.
std::string with_application_name(const std::string& url, const std::string& name);

// ---------------------------------------------------------------------------
// Raw reads of a test schema

/// A libpqxx connection to the schema of a tasker URL (`...?schema=name`).
/// Reconnects once when the connection broke (server restarts).
class Db {
 public:
  explicit Db(std::string url);
  pqxx::result query(const std::string& sql);
  std::int64_t scalar(const std::string& sql);

 private:
  void connect();
  std::string libpq_url_;
  std::string schema_;
  std::unique_ptr<pqxx::connection> conn_;
};

/// Wait until `expected` tasks exist and all are terminal; fails the test with
/// the counts by state on timeout. Database errors (a restart) are waited out.
void wait_until_all_terminal(Db& db, std::int64_t expected, milliseconds timeout);

// ---------------------------------------------------------------------------
// History

struct StepRow {
  std::int64_t id{0};
  std::string task_uuid, name, state, worker_id, task_state;
  int attempts{0};
  std::int64_t claim_token{0};
  json error;
  std::optional<std::int64_t> lease_expires_at;
  bool has_results{false};
};

struct TransitionRow {
  std::int64_t id{0}, step_id{0}, at{0};
  std::string from, to, worker, reason;
  int attempt{0};
};

/// One handler run as a worker logged it (`end` missing: it never returned).
struct Execution {
  std::string worker;
  int attempt{0};
  std::int64_t start{0};
  std::optional<std::int64_t> end;
};

/// One claim of a step, from the transitions: who held it, from when, and how it ended.
struct Claim {
  std::string worker;
  int attempt{0};
  std::int64_t claimed_at{0};
  std::optional<std::int64_t> closed_at;
  std::string closed_to;  ///< complete, waiting_for_retry, error, enqueued (released)
  std::string closed_reason;
  bool lease_lost() const { return closed_reason.rfind("lease expired", 0) == 0; }
};

struct StepHistory {
  StepRow row;
  std::vector<TransitionRow> transitions;
  std::vector<Claim> claims;
  std::vector<Execution> executions;
};

struct History {
  std::map<std::int64_t, StepHistory> steps;  ///< by step id
  std::int64_t tasks{0};
  std::int64_t complete_tasks{0};
};

/// Read every step, step transition and task count of the schema, and the
/// execution logs in `log_dir` (files *.log written by tasker_mp_agent).
History load_history(Db& db, const std::filesystem::path& log_dir);

struct Summary {
  std::map<std::string, int> completed_by;  ///< worker -> steps whose completion it recorded
  std::map<std::string, int> claims_by;     ///< worker -> claims
  std::set<std::int64_t> lost_lease_steps;  ///< steps with at least one claim ended by a reclaim
  int claims{0};
  int executions{0};
  int claimed_never_ran{0};  ///< claims with no execution (a claim commit the worker never saw)
  std::vector<std::string> problems;
};

/// Every rule a correct run satisfies, over every step:
///  - the transitions form one path: created -> [enqueued] -> (claim -> close)* ending complete;
///    a claim opens only when no claim is open (never two holders at once), and each close names
///    the claim's worker and attempt;
///  - completion recorded exactly once, by the worker holding the claim; results stored;
///  - claims == claim_token (every claim took a fresh token) and attempts == claims;
///  - attempts == 1 unless a lease was lost (then one more attempt per lost lease);
///  - every handler run (from the execution logs) belongs to a recorded claim of the same worker
///    and attempt, started after the claim and (unless its lease was lost) ended before the claim
///    was closed; no attempt ran twice; runs of one step never overlap unless the earlier one's
///    lease was lost (a presumed-dead worker, fenced out);
///  - the completing attempt actually ran to its end in that worker.
/// Failures are collected in `problems` (the first few are shown by report()).
Summary check_history(History& history);
std::string report(const Summary& summary, std::size_t max_problems = 20);

}  // namespace mp
