-- A submit of tasker's design with nothing else (pg_floor.sh): a task of
-- :steps steps (1 to 4) in a chain, its edges, and the transitions a submit
-- writes, in one statement, so one round trip and one commit; run prepared
-- (-M prepared). The steps come from a VALUES list: from generate_series the
-- generic plan expected 1,000 rows and ran about a third slower.
-- Its steps have priority :priority and fall due at 3, so the drains
-- (step.sql: due at 2) leave them alone; latency.sql gives its own the highest
-- priority. Sets :task and :first, the first step's id.
WITH task AS (
  INSERT INTO floor.tasker_tasks (uuid, namespace_name, name, version, state, context, tags, bypassed_steps,
                                  total_steps, created_at, updated_at, identity_hash)
  VALUES (md5(random()::text), 'bench', 'chain', '1.0.0', 'pending', '{"run": 1}', '[]', '[]', :steps, 3, 3,
          md5(random()::text))
  RETURNING id
), steps AS (
  INSERT INTO floor.tasker_steps (uuid, task_id, position, name, namespace_name, callable, initialization,
                                  dependencies, state, priority, pending_parents, max_attempts, retryable, backoff,
                                  backoff_base_ms, max_backoff_ms, timeout_seconds, claimable_at, created_at,
                                  updated_at)
  SELECT md5(random()::text), task.id, p, 's' || p, 'bench', 'noop', '{}', '[]',
         CASE WHEN p = 0 THEN 'enqueued' ELSE 'pending' END, CAST(:priority AS INTEGER), least(p, 1), 3, 1, 'exponential', 1000,
         30000, 30, CASE WHEN p = 0 THEN 3 END, 3, 3
  FROM task, (VALUES (0), (1), (2), (3)) AS v(p) WHERE p < :steps ORDER BY p
  RETURNING id, task_id, position, state
), edges AS (
  INSERT INTO floor.tasker_step_edges (parent_id, child_id)
  SELECT a.id, b.id FROM steps a JOIN steps b ON b.position = a.position + 1
), transitions AS (
  INSERT INTO floor.tasker_transitions (task_id, step_id, from_state, to_state, at)
  SELECT id, NULL, NULL, 'pending', 3 FROM task
  UNION ALL SELECT task_id, id, NULL, state, 3 FROM steps
)
SELECT (SELECT id FROM task) AS task, (SELECT min(id) FROM steps) AS first \gset
