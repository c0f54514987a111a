-- One worker transaction of tasker's design with nothing else (pg_floor.sh):
-- record the steps this client claimed last time (fenced by claim token) and
-- finish their 1-step tasks, claim the next :batch steps and start their tasks,
-- and append the four transitions per step. One statement, so one round trip
-- and one commit; run prepared (-M prepared). The client's steps in progress
-- are found through tasker_steps_leases (all in-progress steps: 4 x 16 in the
-- batched runs). As in tasker's own claim since migration 6, the conditions
-- name no state: claimable_at and lease_expires_at are set exactly on the steps
-- the partial indexes hold. PostgreSQL runs every data-modifying WITH whether or not the
-- last SELECT reads it: pg_floor.sh makes its variants by deleting whole ones
-- (the transitions; the tasks' rows and the transitions).
WITH prev AS (
  SELECT id, task_id, claim_token FROM floor.tasker_steps
  WHERE lease_expires_at IS NOT NULL AND worker_id = 'w' || :client_id FOR UPDATE
), done AS (
  UPDATE floor.tasker_steps s SET state = 'complete', results = '{"ok": true}', completed_at = 2, updated_at = 2,
    lease_expires_at = NULL
  FROM prev WHERE s.id = prev.id AND s.claim_token = prev.claim_token RETURNING s.id, s.task_id
), done_task AS (
  UPDATE floor.tasker_tasks t SET state = 'complete', completed_steps = completed_steps + 1,
    resolved_steps = resolved_steps + 1, active_steps = active_steps - 1, completed_at = 2, updated_at = 2
  FROM done WHERE t.id = done.task_id RETURNING t.id
), pick AS (
  SELECT id FROM floor.tasker_steps WHERE claimable_at <= 2
  ORDER BY priority DESC, claimable_at, id LIMIT :batch FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE floor.tasker_steps s SET state = 'in_progress', attempts = s.attempts + 1, claim_token = s.claim_token + 1,
    worker_id = 'w' || :client_id, lease_expires_at = 30002, claimable_at = NULL, last_attempted_at = 2, updated_at = 2
  FROM pick WHERE s.id = pick.id RETURNING s.id, s.task_id
), started AS (
  UPDATE floor.tasker_tasks t SET state = 'in_progress', active_steps = active_steps + 1, updated_at = 2
  FROM claimed WHERE t.id = claimed.task_id RETURNING t.id
), transitions AS (
  INSERT INTO floor.tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
  SELECT task_id, id, 'in_progress', 'complete', 2, 'w', 'succeeded', 1 FROM done
  UNION ALL SELECT id, NULL, 'in_progress', 'complete', 2, 'w', 'all steps complete', 0 FROM done_task
  UNION ALL SELECT task_id, id, 'enqueued', 'in_progress', 2, 'w', 'claimed', 1 FROM claimed
  UNION ALL SELECT id, NULL, 'pending', 'in_progress', 2, 'w', 'a step started', 0 FROM started
)
SELECT count(*) FROM claimed;
