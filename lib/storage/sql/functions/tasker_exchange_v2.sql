-- tasker_exchange_v2 (installed by migration 6; one_call.cpp calls it): a
-- worker transaction in one round trip. It records outcomes (fenced by claim
-- token), advances the children of satisfied steps, claims, settles the
-- touched tasks and appends every transition, in the order and with the locks
-- of the statements path (sql_store.cpp): step rows by id, then children by
-- id, then task rows by id. It owns only these hot moves (succeeded,
-- retry_scheduled, failed, released, dependencies_met, claimed); every other
-- kind of write takes the statements path (docs/architecture.md, "The fast
-- path").
--
-- p_outcomes: rows.hpp's outcome rows, one JSON array each: a step update
-- with the claim's token and the transition's reason and payload, as the C++
-- decided them from the claim (the retry decision needs the retry policy).
-- Returns {"fallback": true}, having changed nothing, when an outcome belongs
-- to a step that creates steps or to a batch instance (the statements path
-- records those), else {discarded, claimed, tasks, transitions, work}:
-- `transitions` as appended, from which the C++ derives the lifecycle events
-- (model/event_record.hpp), so no event is built twice.
--
-- Placeholders in double braces are the model's rules and the row
-- declarations, filled when the migration runs: counters follow from each
-- recorded move (count_move), a task's state from its counters (task_state).
-- Rows whose ids are known are updated through `id = ANY(array)` alone, their
-- values found by array_position in arrays of a batch's size, or by binary
-- search (width_bucket) in the children's, which can be a whole fan-out: a
-- join with the set, under the generic plans the function forces, hashed it
-- and scanned the table. Once released this text is frozen
-- (migrations/CHECKSUMS): a change is a new version under a new name.
CREATE OR REPLACE FUNCTION tasker_exchange_v2(
  p_outcomes JSONB, p_now BIGINT, p_worker TEXT, p_limit INTEGER, p_lease_end BIGINT, p_callables TEXT[],
  p_namespaces TEXT[], p_task_uuids TEXT[], p_channel TEXT)
RETURNS JSONB LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_ids BIGINT[];
  v_locked_ids BIGINT[] := '{}';
  v_locked_states TEXT[] := '{}';
  v_fallback BOOLEAN;
  v_applied BIGINT[] := '{}';
  v_discarded JSONB := '[]';
  v_satisfied BIGINT[] := '{}';
  -- Every step move of the transaction (task, step, from, to), for the
  -- counters and the wake-up, and every transition as appended.
  v_mv_task BIGINT[] := '{}';
  v_mv_step BIGINT[] := '{}';
  v_mv_from TEXT[] := '{}';
  v_mv_to TEXT[] := '{}';
  v_log JSONB := '[]';
  v_part_task BIGINT[];
  v_part_step BIGINT[];
  v_part_from TEXT[];
  v_part_to TEXT[];
  v_part_log JSONB;
  v_children BIGINT[];
  v_child_per_parent BIGINT[];
  v_decrements INTEGER[];
  v_picked BIGINT[] := '{}';
  v_picked_states TEXT[] := '{}';
  v_claimed JSONB := '[]';
  v_claimed_ids BIGINT[] := '{}';
  v_tasks JSONB := '[]';
  v_finished TEXT[] := '{}';
  v_work BOOLEAN;
  v_payload TEXT;
  v_uuid TEXT;
BEGIN
  -- 1. Lock the outcomes' rows (by id, the lock order), then record, in one
  -- statement, each outcome whose claim is still current (the first one per
  -- step, as outcomes.cpp); the others are discarded.
  IF jsonb_array_length(p_outcomes) > 0 THEN
    v_ids := ARRAY(SELECT {{value:outcome,id,e.v}} FROM jsonb_array_elements(p_outcomes) AS e(v));
    SELECT COALESCE(bool_or({{steps:holds_worker,l.state}}
                            AND (l.step_type IN ('decision', 'batchable') OR l.batch_id IS NOT NULL)), FALSE),
      COALESCE(array_agg(l.id), '{}'), COALESCE(array_agg(l.state), '{}')
    INTO v_fallback, v_locked_ids, v_locked_states
    FROM (SELECT s.id, s.state, s.step_type, s.batch_id FROM tasker_steps s WHERE s.id = ANY(v_ids)
          ORDER BY s.id FOR UPDATE) AS l;
    IF v_fallback THEN
      RETURN '{"fallback": true}'::JSONB;
    END IF;
    WITH o AS (
      SELECT DISTINCT ON ({{value:outcome,id,e.v}}) e.n, e.v
      FROM jsonb_array_elements(p_outcomes) WITH ORDINALITY AS e(v, n)
      ORDER BY {{value:outcome,id,e.v}}, e.n),
    applied AS (
      UPDATE tasker_steps s SET state = {{value:outcome,new_state,o.v}},
        results = CASE WHEN {{value:outcome,set_results,o.v}} = 1 THEN {{value:outcome,new_results,o.v}}
                       ELSE s.results END,
        error = CASE WHEN {{value:outcome,set_error,o.v}} = 1 THEN {{value:outcome,new_error,o.v}} ELSE s.error END,
        attempts = s.attempts + {{value:outcome,attempts_delta,o.v}},
        claimable_at = {{value:outcome,new_claimable_at,o.v}},
        completed_at = {{value:outcome,new_completed_at,o.v}}, lease_expires_at = NULL, updated_at = p_now
      FROM o
      WHERE s.id = ANY(v_ids) AND s.id = {{value:outcome,id,o.v}} AND {{steps:holds_worker,s.state}}
        AND s.claim_token = {{value:outcome,claim_token,o.v}}
      RETURNING o.n, s.id, s.task_id, s.name, COALESCE(s.worker_id, '') AS worker_id, s.attempts, s.state,
        {{value:outcome,reason,o.v}} AS reason, {{value:outcome,payload,o.v}} AS payload),
    moved AS (SELECT a.*, v_locked_states[array_position(v_locked_ids, a.id)] AS from_state FROM applied a),
    logged AS (
      INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt, payload)
      SELECT m.task_id, m.id, m.from_state, m.state, p_now, m.worker_id, m.reason, m.attempts, m.payload
      FROM moved m ORDER BY m.n)
    SELECT COALESCE(array_agg(m.n), '{}'),
      COALESCE(array_agg(m.id) FILTER (WHERE {{steps:satisfies_dependents,m.state}}), '{}'),
      COALESCE(array_agg(m.task_id ORDER BY m.n), '{}'), COALESCE(array_agg(m.id ORDER BY m.n), '{}'),
      COALESCE(array_agg(m.from_state ORDER BY m.n), '{}'), COALESCE(array_agg(m.state ORDER BY m.n), '{}'),
      COALESCE(jsonb_agg(jsonb_build_array(m.task_id, m.id, m.name, m.from_state, m.state, m.worker_id, m.reason,
                                           m.attempts, m.payload) ORDER BY m.n), '[]')
    INTO v_applied, v_satisfied, v_mv_task, v_mv_step, v_mv_from, v_mv_to, v_log
    FROM moved m;
    SELECT COALESCE(jsonb_agg({{value:outcome,id,e.v}} ORDER BY e.n), '[]') INTO v_discarded
    FROM jsonb_array_elements(p_outcomes) WITH ORDINALITY AS e(v, n) WHERE e.n <> ALL(v_applied);
  END IF;

  -- 2. The children of satisfied steps, locked by id: one parent fewer to
  -- wait for per satisfied parent; those with none left are enqueued.
  IF cardinality(v_satisfied) > 0 THEN
    v_child_per_parent := ARRAY(SELECT e.child_id FROM tasker_step_edges e WHERE e.parent_id = ANY(v_satisfied));
    -- Each child once, in id order, with how many of its parents this
    -- transaction satisfied: a child's count is found by binary search
    -- (width_bucket over the sorted ids), not by scanning the array per row.
    SELECT COALESCE(array_agg(g.c ORDER BY g.c), '{}'), COALESCE(array_agg(g.n ORDER BY g.c), '{}')
    INTO v_children, v_decrements
    FROM (SELECT c, count(*)::INTEGER AS n FROM unnest(v_child_per_parent) AS c GROUP BY c) AS g;
    IF cardinality(v_children) > 0 THEN
      PERFORM 1 FROM tasker_steps s WHERE s.id = ANY(v_children) ORDER BY s.id FOR UPDATE;
      WITH advanced AS (
        UPDATE tasker_steps s
        SET pending_parents = s.pending_parents - v_decrements[width_bucket(s.id, v_children)],
          state = CASE WHEN {{move_from:dependencies_met,s.state}}
                         AND s.pending_parents - v_decrements[width_bucket(s.id, v_children)] <= 0
                       THEN {{move_to:dependencies_met}} ELSE s.state END,
          claimable_at = CASE WHEN {{move_from:dependencies_met,s.state}}
                                AND s.pending_parents - v_decrements[width_bucket(s.id, v_children)] <= 0
                              THEN p_now ELSE s.claimable_at END,
          updated_at = p_now
        WHERE s.id = ANY(v_children)
        RETURNING s.id, s.task_id, s.name, s.state, s.pending_parents),
      ready AS (SELECT a.* FROM advanced a WHERE a.state = {{move_to:dependencies_met}} AND a.pending_parents = 0),
      logged AS (
        INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
        SELECT r.task_id, r.id, {{step:pending}}, r.state, p_now, p_worker, {{move_reason:dependencies_met}}, 0
        FROM ready r ORDER BY r.id)
      SELECT COALESCE(array_agg(r.task_id ORDER BY r.id), '{}'), COALESCE(array_agg(r.id ORDER BY r.id), '{}'),
        COALESCE(array_agg({{step:pending}}::TEXT ORDER BY r.id), '{}'),
        COALESCE(array_agg(r.state ORDER BY r.id), '{}'),
        COALESCE(jsonb_agg(jsonb_build_array(r.task_id, r.id, r.name, {{step:pending}}, r.state, p_worker,
                                             {{move_reason:dependencies_met}}, 0, NULL) ORDER BY r.id), '[]')
      INTO v_part_task, v_part_step, v_part_from, v_part_to, v_part_log
      FROM ready r;
      v_mv_task := v_mv_task || v_part_task;
      v_mv_step := v_mv_step || v_part_step;
      v_mv_from := v_mv_from || v_part_from;
      v_mv_to := v_mv_to || v_part_to;
      v_log := v_log || v_part_log;
    END IF;
  END IF;

  -- 3. The claim: claimable steps the worker can run, in claim order through
  -- tasker_steps_claimable, skipping rows other workers hold; with each its
  -- task and its dependency results (each parent's by name, or for a
  -- convergence step every ancestor's), as claims.cpp reads them. The pick is
  -- planned at each call with its values (EXECUTE): which of the two claim
  -- indexes to walk depends on the backlog, as in claims.cpp.
  IF p_limit > 0 AND cardinality(p_callables) > 0 THEN
    EXECUTE $pick$
      SELECT COALESCE(array_agg(p.id ORDER BY {{claim_order:p}}), '{}'),
        COALESCE(array_agg(p.state ORDER BY {{claim_order:p}}), '{}')
      FROM (SELECT s.id, s.state, s.priority, s.claimable_at FROM tasker_steps s
            WHERE {{claimable_due:s,$1}} AND s.callable = ANY($3)
              AND ($4 IS NULL OR s.namespace_name = ANY($4))
              AND ($5 IS NULL
                   OR s.task_id = ANY(ARRAY(SELECT k.id FROM tasker_tasks k WHERE k.uuid = ANY($5))))
            ORDER BY {{claim_order:s}} LIMIT $2 FOR UPDATE SKIP LOCKED) AS p
    $pick$ INTO v_picked, v_picked_states USING p_now, p_limit, p_callables, p_namespaces, p_task_uuids;
  END IF;
  IF cardinality(v_picked) > 0 THEN
    WITH claimed AS (
      UPDATE tasker_steps s SET state = {{move_to:claimed}}, attempts = s.attempts + 1,
        claim_token = s.claim_token + 1, worker_id = p_worker, lease_expires_at = p_lease_end,
        last_attempted_at = p_now, claimable_at = NULL, updated_at = p_now
      WHERE s.id = ANY(v_picked)
      RETURNING {{list:claimed,s}}, s.state, array_position(v_picked, s.id) AS n,
        v_picked_states[array_position(v_picked, s.id)] AS previous_state),
    logged AS (
      INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
      SELECT c.task_id, c.id, c.previous_state, c.state, p_now, p_worker, {{move_reason:claimed}}, c.attempts
      FROM claimed c ORDER BY c.n)
    -- The claimed columns (JSON as JSON text), the task's, then the dependency results.
    SELECT COALESCE(jsonb_agg(jsonb_build_array({{text_list:claimed,c}}, {{text_list:claimed_task,k}},
        CASE WHEN c.step_type = 'deferred_convergence' THEN
          (WITH RECURSIVE ancestors(id) AS (
             SELECT e.parent_id FROM tasker_step_edges e WHERE e.child_id = c.id
             UNION SELECT e.parent_id FROM tasker_step_edges e JOIN ancestors a ON e.child_id = a.id)
           SELECT jsonb_object_agg(p.name, p.results) FROM ancestors a JOIN tasker_steps p ON p.id = a.id)::TEXT
        ELSE
          (SELECT jsonb_object_agg(p.name, COALESCE(p.child_results, p.results))
           FROM tasker_step_edges e JOIN tasker_steps p ON p.id = e.parent_id WHERE e.child_id = c.id)::TEXT
        END) ORDER BY c.n), '[]'),
      COALESCE(array_agg(c.id ORDER BY c.n), '{}'), COALESCE(array_agg(c.task_id ORDER BY c.n), '{}'),
      COALESCE(array_agg(c.previous_state ORDER BY c.n), '{}'), COALESCE(array_agg(c.state ORDER BY c.n), '{}'),
      COALESCE(jsonb_agg(jsonb_build_array(c.task_id, c.id, c.name, c.previous_state, c.state, p_worker,
                                           {{move_reason:claimed}}, c.attempts, NULL) ORDER BY c.n), '[]')
    INTO v_claimed, v_claimed_ids, v_part_task, v_part_from, v_part_to, v_part_log
    -- OFFSET 0 keeps the task a lookup by key per claimed step (not a join the generic plan may hash).
    FROM claimed c, LATERAL (SELECT {{list:claimed_task,k}} FROM tasker_tasks k WHERE k.id = c.task_id OFFSET 0) AS k;
    v_mv_task := v_mv_task || v_part_task;
    v_mv_step := v_mv_step || v_claimed_ids;
    v_mv_from := v_mv_from || v_part_from;
    v_mv_to := v_mv_to || v_part_to;
    v_log := v_log || v_part_log;
  END IF;

  -- 4. The touched tasks, locked by id (the lock order): each counter moved
  -- by every recorded move, the state derived from the counters, written where
  -- either changed; a transition per new state.
  WITH mv AS (SELECT m.task_id, m.from_state, m.to_state
              FROM unnest(v_mv_task, v_mv_from, v_mv_to) AS m(task_id, from_state, to_state)),
  d AS (
    SELECT mv.task_id, SUM(CASE WHEN mv.from_state IS NULL THEN 1 ELSE 0 END) AS total,
      SUM({{count_move:completed,mv.from_state,mv.to_state}}) AS completed,
      SUM({{count_move:resolved,mv.from_state,mv.to_state}}) AS resolved,
      SUM({{count_move:failed,mv.from_state,mv.to_state}}) AS failed,
      SUM((CASE WHEN mv.to_state IN ('enqueued', 'in_progress', 'waiting_for_retry') THEN 1 ELSE 0 END - CASE WHEN COALESCE(mv.from_state IN ('enqueued', 'in_progress', 'waiting_for_retry'), FALSE) THEN 1 ELSE 0 END)) AS active,
      BOOL_OR({{is_claim:mv.from_state,mv.to_state}}) AS started
    FROM mv GROUP BY mv.task_id),
  locked AS (
    SELECT k.id, k.uuid, k.state, k.total_steps, k.completed_steps, k.resolved_steps, k.failed_steps, k.active_steps
    FROM tasker_tasks k WHERE k.id = ANY(ARRAY(SELECT d.task_id FROM d)) ORDER BY k.id FOR UPDATE),
  counted AS (
    SELECT l.id, l.uuid, l.state, d.started, l.total_steps + d.total AS total,
      l.completed_steps + d.completed AS completed, l.resolved_steps + d.resolved AS resolved,
      l.failed_steps + d.failed AS failed, l.active_steps + d.active AS active,
      d.total <> 0 OR d.completed <> 0 OR d.resolved <> 0 OR d.failed <> 0 OR d.active <> 0 AS changed
    FROM locked l JOIN d ON d.task_id = l.id),
  derived AS (
    SELECT c.*, {{task_state:c.state,c.started,c.total,c.completed,c.resolved,c.failed,c.active}} AS new_state,
      {{task_reason:c.state,c.started,c.total,c.completed,c.resolved,c.failed,c.active}} AS reason
    FROM counted c),
  shown AS (
    -- A failed task's transition carries how many steps failed (as changes.cpp writes it).
    SELECT x.*, CASE WHEN x.new_state = {{task:error}} THEN jsonb_build_object('failed_steps', x.failed) END AS payload
    FROM derived x),
  written AS (
    UPDATE tasker_tasks k SET state = x.new_state, total_steps = x.total, completed_steps = x.completed,
      resolved_steps = x.resolved, failed_steps = x.failed, active_steps = x.active,
      completed_at = CASE WHEN {{terminal_task:x.new_state}} THEN p_now END, updated_at = p_now
    FROM shown x
    WHERE k.id = ANY(ARRAY(SELECT y.id FROM shown y)) AND k.id = x.id AND (x.new_state <> x.state OR x.changed)
    RETURNING k.id),
  logged AS (
    INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt, payload)
    SELECT x.id, NULL, x.state, x.new_state, p_now, p_worker, x.reason, 0, x.payload
    FROM shown x WHERE x.new_state <> x.state ORDER BY x.id)
  SELECT COALESCE(jsonb_agg(jsonb_build_array(x.id, x.uuid, x.state, x.new_state, x.failed) ORDER BY x.id), '[]'),
    -- Only watched tasks: a NOTIFY serialises this commit with every other notifying one.
    COALESCE(array_agg(x.uuid ORDER BY x.id) FILTER (
      WHERE x.new_state <> x.state AND {{terminal_task:x.new_state}}
        AND EXISTS (SELECT 1 FROM tasker_task_watchers w WHERE w.task_id = x.id AND w.expires_at > p_now)), '{}'),
    COALESCE(jsonb_agg(jsonb_build_array(x.id, NULL, NULL, x.state, x.new_state, p_worker, x.reason, 0, x.payload)
                       ORDER BY x.id) FILTER (WHERE x.new_state <> x.state), '[]')
  INTO v_tasks, v_finished, v_part_log
  FROM shown x;
  v_log := v_log || v_part_log;

  -- 5. Wake other workers for steps this transaction enqueued and did not
  -- claim itself, and other processes' waiters for the finished tasks they
  -- watch (payloads below PostgreSQL's 8000 bytes, as changes.cpp).
  v_work := EXISTS (SELECT 1 FROM unnest(v_mv_step, v_mv_to) AS m(id, to_state)
                    WHERE m.to_state = {{step:enqueued}} AND m.id <> ALL(v_claimed_ids));
  IF v_work THEN
    PERFORM pg_notify(p_channel, '');
  END IF;
  v_payload := '';
  FOREACH v_uuid IN ARRAY v_finished LOOP
    IF v_payload <> '' AND length(v_payload) + length(v_uuid) + 1 > 7000 THEN
      PERFORM pg_notify(p_channel, v_payload);
      v_payload := '';
    END IF;
    v_payload := CASE WHEN v_payload = '' THEN 'finished:' || v_uuid ELSE v_payload || ',' || v_uuid END;
  END LOOP;
  IF v_payload <> '' THEN
    PERFORM pg_notify(p_channel, v_payload);
  END IF;
  RETURN jsonb_build_object('discarded', v_discarded, 'claimed', v_claimed, 'tasks', v_tasks,
                            'transitions', v_log, 'work', v_work);
END
$fn$;
