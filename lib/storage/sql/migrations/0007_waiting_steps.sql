-- tasker migration 7: waiting steps (signals and durable sleep), a task's delayed start
-- A step in the waiting state (a `signal` or `sleep` step) holds no worker and
-- no lease; wake_at is when it wakes by itself (a sleep's end, a signal's
-- timeout), NULL while it waits for ever or is not waiting. The wake pass reads
-- the partial index in time order; like the claim's, its predicate names no
-- state (docs/architecture.md, "Claims stay cheap").
ALTER TABLE tasker_steps ADD COLUMN wake_at BIGINT;
CREATE INDEX tasker_steps_wake ON tasker_steps (wake_at) WHERE wake_at IS NOT NULL;
-- When a task submitted with TaskRequest::run_at may start (its first steps'
-- claimable_at is that time); NULL: at once.
ALTER TABLE tasker_tasks ADD COLUMN run_at BIGINT;
-- Signals delivered to a task (Client::signal): kept until a waiting step of
-- that name consumes one (consumed_at, step_id), in order of arrival. A key
-- is delivered once per task.
CREATE TABLE tasker_signals (
  id {id},
  task_id BIGINT NOT NULL REFERENCES tasker_tasks (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  signal_key TEXT,
  payload {json},
  sender TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  consumed_at BIGINT,
  step_id BIGINT
);
CREATE UNIQUE INDEX tasker_signals_key ON tasker_signals (task_id, signal_key) WHERE signal_key IS NOT NULL;
CREATE INDEX tasker_signals_unconsumed ON tasker_signals (task_id, name, id) WHERE consumed_at IS NULL;
