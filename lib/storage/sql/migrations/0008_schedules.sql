-- tasker migration 8: cron schedules
-- A schedule keeps everything firing needs (docs/schedules.md): the template's
-- definition as JSON (so a worker fires it without template files), the
-- context, the cron expression and its time zone, the overlap and catch-up
-- policies, and where it stands: the next tick to fire (NULL when the
-- expression names no later time), the last tick fired and its task. A worker
-- fires a due schedule by locking its row (FOR UPDATE SKIP LOCKED on
-- PostgreSQL; SQLite's one writer), creating the tick's task, whose identity
-- hash is derived from the schedule's name and the tick, and advancing
-- next_tick, in one transaction.
CREATE TABLE tasker_schedules (
  id {id},
  name TEXT NOT NULL UNIQUE,
  namespace_name TEXT NOT NULL,
  task_name TEXT NOT NULL,
  version TEXT NOT NULL,
  template_definition {json} NOT NULL,
  context {json} NOT NULL,
  cron TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  overlap TEXT NOT NULL,
  catch_up TEXT NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  next_tick BIGINT,
  last_tick BIGINT,
  last_task_uuid TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
-- The due schedules, by tick: what every worker's firing pass reads.
CREATE INDEX tasker_schedules_due ON tasker_schedules (next_tick) WHERE paused = 0 AND next_tick IS NOT NULL;
