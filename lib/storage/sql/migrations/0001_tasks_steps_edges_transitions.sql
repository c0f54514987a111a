-- tasker migration 1: tasks, steps, edges, transitions
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
