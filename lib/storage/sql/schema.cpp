#include "storage/sql/schema.hpp"

#include <fmt/format.h>

#include <chrono>

#include "tasker/clock.hpp"
#include "tasker/errors.hpp"

namespace tasker::detail::sql {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list{
      {1, "tasks, steps, edges, transitions", R"SQL(
CREATE TABLE tasker_tasks (
  id {id},
  uuid TEXT NOT NULL UNIQUE,
  namespace_name TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  state TEXT NOT NULL,
  context {json} NOT NULL,
  initiator TEXT NOT NULL DEFAULT '',
  source_system TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  tags {json} NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  correlation_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT,
  identity_hash TEXT UNIQUE,
  bypassed_steps {json} NOT NULL,
  total_steps INTEGER NOT NULL,
  completed_steps INTEGER NOT NULL DEFAULT 0,
  resolved_steps INTEGER NOT NULL DEFAULT 0,
  failed_steps INTEGER NOT NULL DEFAULT 0,
  active_steps INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  completed_at BIGINT
);
CREATE INDEX tasker_tasks_by_state ON tasker_tasks (state, id);
CREATE INDEX tasker_tasks_by_namespace ON tasker_tasks (namespace_name, state, id);

CREATE TABLE tasker_steps (
  id {id},
  uuid TEXT NOT NULL UNIQUE,
  task_id BIGINT NOT NULL REFERENCES tasker_tasks (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  namespace_name TEXT NOT NULL,
  callable TEXT NOT NULL,
  initialization {json} NOT NULL,
  dependencies {json} NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL,
  pending_parents INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  retryable INTEGER NOT NULL,
  backoff TEXT NOT NULL,
  backoff_base_ms BIGINT NOT NULL,
  max_backoff_ms BIGINT NOT NULL,
  timeout_seconds INTEGER NOT NULL,
  claimable_at BIGINT,
  claim_token BIGINT NOT NULL DEFAULT 0,
  worker_id TEXT,
  lease_expires_at BIGINT,
  results {json},
  error {json},
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_attempted_at BIGINT,
  completed_at BIGINT,
  UNIQUE (task_id, name)
);
-- Claims read only this partial index: finished steps never enter it, so a
-- claim stays cheap however much history accumulates.
CREATE INDEX tasker_steps_claimable ON tasker_steps (priority DESC, claimable_at, id)
  WHERE state IN ('enqueued', 'waiting_for_retry');
CREATE INDEX tasker_steps_leases ON tasker_steps (lease_expires_at) WHERE state = 'in_progress';

CREATE TABLE tasker_step_edges (
  parent_id BIGINT NOT NULL,
  child_id BIGINT NOT NULL,
  PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX tasker_step_edges_by_child ON tasker_step_edges (child_id);

CREATE TABLE tasker_transitions (
  id {id},
  task_id BIGINT NOT NULL,
  step_id BIGINT,
  from_state TEXT,
  to_state TEXT NOT NULL,
  at BIGINT NOT NULL,
  worker_id TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasker_transitions_by_task ON tasker_transitions (task_id, id);
)SQL"},
      {2, "claimable steps by due time", R"SQL(
-- When a claim finds nothing, the worker asks when the next step falls due
-- (next_due): the first entry of this index. Without it PostgreSQL walked every
-- scheduled retry, or scanned all of tasker_steps, history included, once the
-- retry backlog was large. Claims also use it when most claimable steps are
-- retries scheduled for later.
CREATE INDEX tasker_steps_due ON tasker_steps (claimable_at) WHERE state IN ('enqueued', 'waiting_for_retry');
)SQL"},
      {3, "steps created at run time: decisions, batches, checkpoints", R"SQL(
-- A task whose template creates steps at run time keeps the template's
-- definition, so that whichever worker records a decision's or a batchable
-- step's outcome can create the steps it names (workers have no templates).
ALTER TABLE tasker_tasks ADD COLUMN definition {json};
ALTER TABLE tasker_steps ADD COLUMN step_type TEXT NOT NULL DEFAULT 'standard';
-- A batch instance's batch_worker step (process_batch of process_batch_001).
ALTER TABLE tasker_steps ADD COLUMN template_step TEXT;
-- The batchable step that created a batch instance: its instances share the
-- batch's parallelism slots and its failure strategy.
ALTER TABLE tasker_steps ADD COLUMN batch_id BIGINT;
ALTER TABLE tasker_steps ADD COLUMN checkpoint {json};
-- What a batchable step's instances see of its result: all of it but the
-- cursor list, so that N instances do not each read N cursors.
ALTER TABLE tasker_steps ADD COLUMN child_results {json};
-- The instances of a batch waiting for a parallelism slot, in order.
CREATE INDEX tasker_steps_batch_slots ON tasker_steps (batch_id, position)
  WHERE state = 'pending' AND batch_id IS NOT NULL;
)SQL"},
      {kServerFunctionsVersion,
       "server functions (a submit and a worker transaction in one round trip each), task watchers",
       std::string(postgres_task_watchers()) + postgres_server_functions(), "postgresql"},
      {5, "server functions: a fan-out's children enqueued in time linear in their number", postgres_server_functions(),
       "postgresql"},
  };
  return list;
}

namespace {
std::string render(const std::string& sql, const Dialect& dialect) {
  std::string out = sql;
  for (auto [placeholder, value] : {std::pair<std::string, std::string>{"{id}", dialect.id_column},
                                    std::pair<std::string, std::string>{"{json}", dialect.json_type}}) {
    for (auto pos = out.find(placeholder); pos != std::string::npos; pos = out.find(placeholder, pos + value.size()))
      out.replace(pos, placeholder.size(), value);
  }
  return out;
}

const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS tasker_schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL)";
}  // namespace

int schema_version(Connection& connection) {
  Rows rows = connection.query("SELECT COALESCE(MAX(version), 0) FROM tasker_schema_migrations");
  return static_cast<int>(rows.integer(0, 0));
}

void migrate(Backend& backend, Connection& connection) {
  backend.lock_migrations(connection);
  struct Unlock {
    Backend& backend;
    Connection& connection;
    ~Unlock() { backend.unlock_migrations(connection); }
  } unlock{backend, connection};

  connection.execute_script(kMigrationsTable);
  const int known = migrations().back().version;
  const int current = schema_version(connection);
  if (current > known)
    throw StorageError(
        fmt::format("the database {} has schema version {}, newer than this tasker build knows ({}); "
                    "upgrade tasker before using this database",
                    backend.describe(), current, known));
  // Migrations are applied in order, so the newest being there means all are:
  // opening a current database then takes no write lock (readers open it while
  // a writer holds SQLite's lock).
  if (current == known) return;
  for (const auto& m : migrations()) {
    connection.begin();
    try {
      // Re-read inside the transaction: another process may have applied it meanwhile.
      Param version{static_cast<std::int64_t>(m.version)};
      if (connection.query("SELECT 1 FROM tasker_schema_migrations WHERE version = $1", {&version, 1}).empty()) {
        if (m.only_on.empty() || m.only_on == backend.dialect().name)
          connection.execute_script(render(m.sql, backend.dialect()));
        std::vector<Param> params{static_cast<std::int64_t>(m.version), m.description,
                                  static_cast<std::int64_t>(to_epoch_ms(SystemClock::instance().now()))};
        connection.query("INSERT INTO tasker_schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
                         params);
      }
      connection.commit();
    } catch (...) {
      connection.rollback();
      throw;
    }
  }
}

}  // namespace tasker::detail::sql
