-- The floor benchmark's queue (pg_floor.sh): :n 1-step tasks in tasker's own
-- schema (created by `tasker migrate` in schema `floor`), each step claimable,
-- with the transitions a submit writes; then vacuumed, analyzed, checkpointed.
SET search_path TO floor;
TRUNCATE tasker_transitions, tasker_step_edges, tasker_steps, tasker_tasks RESTART IDENTITY CASCADE;
INSERT INTO tasker_tasks (uuid, namespace_name, name, version, state, context, tags, bypassed_steps, total_steps,
                          created_at, updated_at, identity_hash)
SELECT md5(g::text), 'bench', 'one_step', '1.0.0', 'pending', jsonb_build_object('run', g), '[]', '[]', 1, 1, 1,
       md5('identity' || g)
FROM generate_series(1, :n) g;
-- Before the steps: after the TRUNCATE the planner would think tasker_tasks
-- empty and check each step's foreign key with a scan of it.
ANALYZE tasker_tasks;
INSERT INTO tasker_steps (uuid, task_id, position, name, namespace_name, callable, initialization, dependencies, state,
                          priority, pending_parents, max_attempts, retryable, backoff, backoff_base_ms, max_backoff_ms,
                          timeout_seconds, claimable_at, created_at, updated_at)
SELECT md5('step' || id), id, 0, 'only', 'bench', 'noop', '{}', '[]', 'enqueued', 0, 0, 3, 1, 'exponential', 1000,
       30000, 30, 1, 1, 1
FROM tasker_tasks;
INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at)
SELECT id, NULL, NULL, 'pending', 1 FROM tasker_tasks;
INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at)
SELECT task_id, id, NULL, 'enqueued', 1 FROM tasker_steps;
VACUUM ANALYZE tasker_tasks;
VACUUM ANALYZE tasker_steps;
VACUUM ANALYZE tasker_transitions;
CHECKPOINT;
