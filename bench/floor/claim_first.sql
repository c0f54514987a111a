-- latency.sql, after submit.sql: the first step's claim through the claim
-- index (the step, its task started, two transitions).
WITH pick AS (
  SELECT id FROM floor.tasker_steps WHERE claimable_at <= 3
  ORDER BY priority DESC, claimable_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE floor.tasker_steps s SET state = 'in_progress', attempts = s.attempts + 1, claim_token = s.claim_token + 1,
    worker_id = 'w', lease_expires_at = 30003, claimable_at = NULL, last_attempted_at = 3, updated_at = 3
  FROM pick WHERE s.id = pick.id RETURNING s.id, s.task_id
), started AS (
  UPDATE floor.tasker_tasks t SET state = 'in_progress', active_steps = active_steps + 1, updated_at = 3
  FROM claimed WHERE t.id = claimed.task_id RETURNING t.id
)
INSERT INTO floor.tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
SELECT task_id, id, 'enqueued', 'in_progress', 3, 'w', 'claimed', 1 FROM claimed
UNION ALL SELECT id, NULL, 'pending', 'in_progress', 3, 'w', 'first step started', 0 FROM started;
