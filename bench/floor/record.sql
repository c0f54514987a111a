-- latency.sql: record step :step and finish the task if :last, or else start
-- the next step (enqueued and claimed in one row update where tasker makes
-- two: this is a floor), with their transitions.
WITH done AS (
  UPDATE floor.tasker_steps s SET state = 'complete', results = '{"ok": true}', completed_at = 3, updated_at = 3,
    lease_expires_at = NULL
  WHERE s.id = :step AND s.claim_token = 1 RETURNING s.id, s.task_id
), counted AS (
  UPDATE floor.tasker_tasks t SET completed_steps = completed_steps + 1, updated_at = 3,
    state = CASE WHEN :last = 1 THEN 'complete' ELSE state END,
    active_steps = active_steps - :last, completed_at = CASE WHEN :last = 1 THEN 3 END
  FROM done WHERE t.id = done.task_id RETURNING t.id
), child AS (
  UPDATE floor.tasker_steps s SET pending_parents = pending_parents - 1, state = 'in_progress',
    attempts = s.attempts + 1, claim_token = s.claim_token + 1, worker_id = 'w', lease_expires_at = 30003,
    last_attempted_at = 3, claimable_at = NULL, updated_at = 3
  FROM done WHERE :last = 0 AND s.id = done.id + 1 RETURNING s.id, s.task_id
)
INSERT INTO floor.tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
SELECT task_id, id, 'in_progress', 'complete', 3, 'w', 'succeeded', 1 FROM done
UNION ALL SELECT id, NULL, 'in_progress', 'complete', 3, 'w', 'all steps complete', 0 FROM counted WHERE :last = 1
UNION ALL SELECT task_id, id, 'pending', 'enqueued', 3, 'w', 'dependencies complete', 0 FROM child
UNION ALL SELECT task_id, id, 'enqueued', 'in_progress', 3, 'w', 'claimed', 1 FROM child;
