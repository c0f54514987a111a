-- tasker migration 12: dead-letter entries (docs/triage.md)
-- An entry records why a task needs a person: it ended in error, or a step of
-- it made no progress for too long (staleness). Workers make entries in the
-- background, a few seconds after the fact (docs/architecture.md, "Dead
-- letters"), so nothing on the worker's hot path writes here. task_uuid is
-- kept beside task_id because the API names tasks by uuid; a purge deletes a
-- task's entries with it.
CREATE TABLE tasker_dlq_entries (
  id {id},
  uuid TEXT NOT NULL UNIQUE,
  task_id BIGINT NOT NULL REFERENCES tasker_tasks (id) ON DELETE CASCADE,
  task_uuid TEXT NOT NULL,
  original_state TEXT NOT NULL,
  dlq_reason TEXT NOT NULL,
  dlq_timestamp BIGINT NOT NULL,
  resolution_status TEXT NOT NULL,
  resolution_timestamp BIGINT,
  resolution_notes TEXT,
  resolved_by TEXT,
  task_snapshot {json} NOT NULL,
  metadata {json},
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- One pending entry per task at a time: two workers noticing the same task
-- insert once (the second's insert does nothing).
CREATE UNIQUE INDEX tasker_dlq_pending_task ON tasker_dlq_entries (task_id) WHERE resolution_status = 'pending';
-- A task's entries, newest first (GET /v1/dlq/task/{uuid}, a purge's delete).
CREATE INDEX tasker_dlq_by_task ON tasker_dlq_entries (task_id, dlq_timestamp);
-- The list, by status, newest first.
CREATE INDEX tasker_dlq_by_status ON tasker_dlq_entries (resolution_status, dlq_timestamp);
