-- tasker migration 5: server functions: a fan-out's children enqueued in time linear in their number
-- A submit: the task row (or nothing, when its identity hash is taken), its
-- steps and edges (by position), the creation transitions, the notifications.
-- Returns the task row as created, or the row that holds the identity hash.
CREATE OR REPLACE FUNCTION tasker_submit(
  p_uuid TEXT, p_namespace TEXT, p_name TEXT, p_version TEXT, p_state TEXT, p_context JSONB, p_initiator TEXT,
  p_source_system TEXT, p_reason TEXT, p_tags JSONB, p_priority INTEGER, p_correlation_id TEXT,
  p_idempotency_key TEXT, p_identity_hash TEXT, p_bypassed JSONB, p_total INTEGER, p_active INTEGER,
  p_now BIGINT, p_completed_at BIGINT, p_definition JSONB, p_steps JSONB, p_edges JSONB, p_channel TEXT,
  p_notifications JSONB)
RETURNS SETOF tasker_tasks LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_id BIGINT;
  v_ids BIGINT[];
  v_payload TEXT;
BEGIN
  INSERT INTO tasker_tasks AS t (uuid, namespace_name, name, version, state, context, initiator, source_system,
    reason, tags, priority, correlation_id, idempotency_key, identity_hash, bypassed_steps, total_steps,
    active_steps, created_at, updated_at, completed_at, definition)
  VALUES (p_uuid, p_namespace, p_name, p_version, p_state, p_context, p_initiator, p_source_system, p_reason,
    p_tags, p_priority, p_correlation_id, p_idempotency_key, p_identity_hash, p_bypassed, p_total, p_active,
    p_now, p_now, p_completed_at, p_definition)
  ON CONFLICT (identity_hash) DO NOTHING
  RETURNING t.id INTO v_id;
  IF v_id IS NULL THEN
    RETURN QUERY SELECT * FROM tasker_tasks t WHERE t.identity_hash = p_identity_hash;
    RETURN;
  END IF;
  INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
  VALUES (v_id, NULL, NULL, p_state, p_now, '', 'created', 0);
  IF jsonb_array_length(p_steps) > 0 THEN
    -- The rows of plan_task (task_creation.cpp); JSON columns as JSON text.
    WITH inserted AS (
      INSERT INTO tasker_steps (uuid, task_id, position, name, namespace_name, callable, initialization,
        dependencies, state, priority, pending_parents, max_attempts, retryable, backoff, backoff_base_ms,
        max_backoff_ms, timeout_seconds, claimable_at, created_at, updated_at, step_type, template_step, batch_id)
      SELECT r.v->>0, v_id, (r.v->>1)::INTEGER, r.v->>2, p_namespace, r.v->>3, (r.v->>4)::JSONB, (r.v->>5)::JSONB,
        r.v->>6, p_priority, (r.v->>7)::INTEGER, (r.v->>8)::INTEGER, (r.v->>9)::INTEGER, r.v->>10,
        (r.v->>11)::BIGINT, (r.v->>12)::BIGINT, (r.v->>13)::INTEGER, (r.v->>14)::BIGINT, p_now, p_now, r.v->>15,
        r.v->>16, (r.v->>17)::BIGINT
      FROM jsonb_array_elements(p_steps) AS r(v)
      RETURNING tasker_steps.id, tasker_steps.position)
    SELECT array_agg(i.id ORDER BY i.position) INTO v_ids FROM inserted i;
    INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
    SELECT v_id, v_ids[(r.v->>1)::INTEGER + 1], NULL, r.v->>6, p_now, '', 'created', 0
    FROM jsonb_array_elements(p_steps) WITH ORDINALITY AS r(v, n) ORDER BY r.n;
    INSERT INTO tasker_step_edges (parent_id, child_id)
    SELECT v_ids[(e.v->>0)::INTEGER + 1], v_ids[(e.v->>1)::INTEGER + 1] FROM jsonb_array_elements(p_edges) AS e(v);
  END IF;
  FOR v_payload IN SELECT jsonb_array_elements_text(p_notifications) LOOP
    PERFORM pg_notify(p_channel, v_payload);
  END LOOP;
  RETURN QUERY SELECT * FROM tasker_tasks t WHERE t.id = v_id;
END
$fn$;

-- A worker transaction: record outcomes (fenced by claim token), advance the
-- children of completed steps, claim, settle the touched tasks' counters and
-- states, append every transition, notify. p_outcomes: one row per outcome,
-- [step_id, claim_token, new_state, set_results, results, error, attempts_delta,
-- claimable_at, completed_at, reason], decided by the client (outcomes.cpp).
-- Returns {"fallback": true}, having changed nothing, when an outcome belongs
-- to a step that creates steps or to a batch instance (the multi-statement path
-- records those), else {discarded, enqueued, claimed, tasks, work}.
-- Each statement appends its own transitions (a data-modifying WITH), so they
-- come in the multi-statement path's order: outcomes, children, claims, tasks.
-- Rows already known by id are updated through `id = ANY(array)` alone, their
-- values found with array_position: a join with the set would be hashed (a
-- scan of the table) or looped over the array once per row in a generic plan.
CREATE OR REPLACE FUNCTION tasker_exchange(
  p_outcomes JSONB, p_now BIGINT, p_worker TEXT, p_limit INTEGER, p_lease_end BIGINT, p_callables TEXT[],
  p_namespaces TEXT[], p_task_uuids TEXT[], p_channel TEXT)
RETURNS JSONB LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_ids BIGINT[];
  v_fallback BOOLEAN;
  v_applied BIGINT[] := '{}';
  v_discarded JSONB := '[]';
  v_satisfied BIGINT[] := '{}';
  v_released BIGINT[] := '{}';
  -- The tasks to settle, one entry per transition that counts: every
  -- recorded outcome's, then completed, failed, enqueued children, claimed.
  v_touched BIGINT[] := '{}';
  v_completed BIGINT[] := '{}';
  v_failed BIGINT[] := '{}';
  v_enqueued_tasks BIGINT[] := '{}';
  v_started BIGINT[] := '{}';
  v_children BIGINT[];
  v_child_per_parent BIGINT[];
  v_decrements INTEGER[];
  v_enqueued JSONB := '[]';
  v_enqueued_ids BIGINT[] := '{}';
  v_picked BIGINT[];
  v_picked_states TEXT[];
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
    v_ids := ARRAY(SELECT (e.v->>0)::BIGINT FROM jsonb_array_elements(p_outcomes) AS e(v));
    SELECT COALESCE(bool_or(l.state = 'in_progress'
                            AND (l.step_type IN ('decision', 'batchable') OR l.batch_id IS NOT NULL)), FALSE)
    INTO v_fallback
    FROM (SELECT s.state, s.step_type, s.batch_id FROM tasker_steps s WHERE s.id = ANY(v_ids)
          ORDER BY s.id FOR UPDATE) AS l;
    IF v_fallback THEN
      RETURN '{"fallback": true}'::JSONB;
    END IF;
    WITH o AS (
      SELECT DISTINCT ON ((e.v->>0)::BIGINT) e.n, e.v
      FROM jsonb_array_elements(p_outcomes) WITH ORDINALITY AS e(v, n)
      ORDER BY (e.v->>0)::BIGINT, e.n),
    applied AS (
      UPDATE tasker_steps s SET state = o.v->>2,
        results = CASE WHEN (o.v->>3)::INTEGER = 1 THEN (o.v->>4)::JSONB ELSE s.results END,
        error = CASE WHEN o.v->>5 IS NOT NULL THEN (o.v->>5)::JSONB ELSE s.error END,
        attempts = s.attempts + (o.v->>6)::INTEGER, claimable_at = (o.v->>7)::BIGINT,
        completed_at = (o.v->>8)::BIGINT, lease_expires_at = NULL, updated_at = p_now
      FROM o
      WHERE s.id = ANY(v_ids) AND s.id = (o.v->>0)::BIGINT AND s.state = 'in_progress'
        AND s.claim_token = (o.v->>1)::BIGINT
      RETURNING o.n, s.id, s.task_id, s.worker_id, s.attempts, s.state, o.v->>9 AS reason),
    logged AS (
      INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
      SELECT a.task_id, a.id, 'in_progress', a.state, p_now, COALESCE(a.worker_id, ''), a.reason, a.attempts
      FROM applied a ORDER BY a.n)
    SELECT COALESCE(array_agg(a.n), '{}'), COALESCE(array_agg(a.id) FILTER (WHERE a.state = 'complete'), '{}'),
      COALESCE(array_agg(a.id) FILTER (WHERE a.state = 'enqueued'), '{}'), COALESCE(array_agg(a.task_id), '{}'),
      COALESCE(array_agg(a.task_id) FILTER (WHERE a.state = 'complete'), '{}'),
      COALESCE(array_agg(a.task_id) FILTER (WHERE a.state = 'error'), '{}')
    INTO v_applied, v_satisfied, v_released, v_touched, v_completed, v_failed
    FROM applied a;
    SELECT COALESCE(jsonb_agg((e.v->>0)::BIGINT ORDER BY e.n), '[]') INTO v_discarded
    FROM jsonb_array_elements(p_outcomes) WITH ORDINALITY AS e(v, n) WHERE e.n <> ALL(v_applied);
  END IF;

  -- 2. The children of completed steps, locked by id: one parent fewer to wait
  -- for per completed parent; those with none left are enqueued.
  IF cardinality(v_satisfied) > 0 THEN
    -- Each child once per completed parent (array_positions counts them), then once.
    v_child_per_parent := ARRAY(SELECT e.child_id FROM tasker_step_edges e WHERE e.parent_id = ANY(v_satisfied));
    -- Each child once, in id order, with how many of its parents this transaction
    -- completed: a child's count is found by binary search (width_bucket over
    -- the sorted ids), not by scanning the array per row, which made a
    -- 10,000-step fan-out's root take 3 s to enqueue its children.
    SELECT COALESCE(array_agg(g.c ORDER BY g.c), '{}'), COALESCE(array_agg(g.n ORDER BY g.c), '{}')
    INTO v_children, v_decrements
    FROM (SELECT c, count(*)::INTEGER AS n FROM unnest(v_child_per_parent) AS c GROUP BY c) AS g;
    IF cardinality(v_children) > 0 THEN
      PERFORM 1 FROM tasker_steps s WHERE s.id = ANY(v_children) ORDER BY s.id FOR UPDATE;
      WITH advanced AS (
        UPDATE tasker_steps s
        SET pending_parents = s.pending_parents - v_decrements[width_bucket(s.id, v_children)],
          state = CASE WHEN s.state = 'pending'
                         AND s.pending_parents - v_decrements[width_bucket(s.id, v_children)] <= 0
                       THEN 'enqueued' ELSE s.state END,
          claimable_at = CASE WHEN s.state = 'pending'
                                AND s.pending_parents - v_decrements[width_bucket(s.id, v_children)] <= 0
                              THEN p_now ELSE s.claimable_at END,
          updated_at = p_now
        WHERE s.id = ANY(v_children)
        RETURNING s.id, s.task_id, s.name, s.state, s.pending_parents),
      ready AS (SELECT a.* FROM advanced a WHERE a.state = 'enqueued' AND a.pending_parents = 0),
      logged AS (
        INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
        SELECT r.task_id, r.id, 'pending', 'enqueued', p_now, p_worker, 'dependencies complete', 0
        FROM ready r ORDER BY r.id)
      SELECT COALESCE(jsonb_agg(jsonb_build_array(r.id, r.task_id, r.name) ORDER BY r.id), '[]'),
        COALESCE(array_agg(r.id), '{}'), COALESCE(array_agg(r.task_id), '{}')
      INTO v_enqueued, v_enqueued_ids, v_enqueued_tasks
      FROM ready r;
    END IF;
  END IF;

  -- 3. The claim: claimable steps the worker can run, in priority and readiness
  -- order through tasker_steps_claimable, skipping rows other workers hold;
  -- with each its task and its dependency results (each parent's by name, or
  -- for a convergence step every ancestor's), as claims.cpp reads them.
  -- The pick alone is planned at each call with its values (EXECUTE): which of
  -- the two claim indexes to walk depends on the backlog, as in claims.cpp; a
  -- plan fixed once per connection sorted every claimable step at each call.
  IF p_limit > 0 AND cardinality(p_callables) > 0 THEN
    EXECUTE $pick$
      SELECT COALESCE(array_agg(p.id), '{}'), COALESCE(array_agg(p.state), '{}')
      FROM (SELECT s.id, s.state FROM tasker_steps s
            WHERE s.state IN ('enqueued', 'waiting_for_retry') AND s.claimable_at <= $1
              AND s.callable = ANY($3)
              AND ($4 IS NULL OR s.namespace_name = ANY($4))
              AND ($5 IS NULL
                   OR s.task_id = ANY(ARRAY(SELECT k.id FROM tasker_tasks k WHERE k.uuid = ANY($5))))
            ORDER BY s.priority DESC, s.claimable_at, s.id LIMIT $2 FOR UPDATE SKIP LOCKED) AS p
    $pick$ INTO v_picked, v_picked_states USING p_now, p_limit, p_callables, p_namespaces, p_task_uuids;
  END IF;
  IF cardinality(v_picked) > 0 THEN
    WITH claimed AS (
      UPDATE tasker_steps s SET state = 'in_progress', attempts = s.attempts + 1, claim_token = s.claim_token + 1,
        worker_id = p_worker, lease_expires_at = p_lease_end, last_attempted_at = p_now, claimable_at = NULL,
        updated_at = p_now
      WHERE s.id = ANY(v_picked)
      RETURNING s.id, s.task_id, s.uuid, s.name, s.callable, s.initialization, s.attempts, s.claim_token,
        s.max_attempts, s.retryable, s.backoff, s.backoff_base_ms, s.max_backoff_ms, s.timeout_seconds,
        s.step_type, s.checkpoint, s.error, v_picked_states[array_position(v_picked, s.id)] AS previous_state),
    logged AS (
      INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
      SELECT c.task_id, c.id, c.previous_state, 'in_progress', p_now, p_worker, 'claimed', c.attempts
      FROM claimed c ORDER BY c.id)
    -- The columns of the claim's RETURNING (claims.cpp), JSON as JSON text, then the task's.
    SELECT COALESCE(jsonb_agg(jsonb_build_array(c.id, c.task_id, c.uuid, c.name, c.callable, c.initialization::TEXT,
        c.attempts, c.claim_token, c.max_attempts, c.retryable, c.backoff, c.backoff_base_ms, c.max_backoff_ms,
        c.timeout_seconds, c.step_type, c.checkpoint::TEXT, c.error::TEXT, k.uuid, k.namespace_name, k.name,
        k.version, k.context::TEXT,
        CASE WHEN c.step_type = 'deferred_convergence' THEN
          (WITH RECURSIVE ancestors(id) AS (
             SELECT e.parent_id FROM tasker_step_edges e WHERE e.child_id = c.id
             UNION SELECT e.parent_id FROM tasker_step_edges e JOIN ancestors a ON e.child_id = a.id)
           SELECT jsonb_object_agg(p.name, p.results) FROM ancestors a JOIN tasker_steps p ON p.id = a.id)::TEXT
        ELSE
          (SELECT jsonb_object_agg(p.name, COALESCE(p.child_results, p.results))
           FROM tasker_step_edges e JOIN tasker_steps p ON p.id = e.parent_id WHERE e.child_id = c.id)::TEXT
        END) ORDER BY c.id), '[]'),
      COALESCE(array_agg(c.id), '{}'), COALESCE(array_agg(c.task_id), '{}')
    INTO v_claimed, v_claimed_ids, v_started
    -- OFFSET 0 keeps the task a lookup by key per claimed step (not a join the generic plan may hash).
    FROM claimed c, LATERAL (SELECT k.uuid, k.namespace_name, k.name, k.version, k.context
                             FROM tasker_tasks k WHERE k.id = c.task_id OFFSET 0) AS k;
  END IF;

  -- 4. The touched tasks, locked by id (the lock order): counters from the
  -- steps' transitions, the state derived from them (changes.cpp,
  -- derive_task_state), written where either changed; a transition per new state.
  WITH tr AS (
    SELECT t AS task_id, 0 AS completed, 0 AS failed, 0 AS enqueued, FALSE AS started FROM unnest(v_touched) AS t
    UNION ALL SELECT t, 1, 0, 0, FALSE FROM unnest(v_completed) AS t
    UNION ALL SELECT t, 0, 1, 0, FALSE FROM unnest(v_failed) AS t
    UNION ALL SELECT t, 0, 0, 1, FALSE FROM unnest(v_enqueued_tasks) AS t
    UNION ALL SELECT t, 0, 0, 0, TRUE FROM unnest(v_started) AS t),
  d AS (
    SELECT tr.task_id, SUM(tr.completed) AS completed, SUM(tr.failed) AS failed, SUM(tr.enqueued) AS enqueued,
      BOOL_OR(tr.started) AS started
    FROM tr GROUP BY tr.task_id),
  locked AS (
    SELECT k.id, k.uuid, k.state, k.total_steps, k.completed_steps, k.resolved_steps, k.failed_steps, k.active_steps
    FROM tasker_tasks k WHERE k.id = ANY(ARRAY(SELECT d.task_id FROM d)) ORDER BY k.id FOR UPDATE),
  counted AS (
    SELECT l.id, l.uuid, l.state, l.total_steps, l.resolved_steps, d.started,
      l.completed_steps + d.completed AS completed, l.failed_steps + d.failed AS failed,
      l.active_steps + d.enqueued - d.completed - d.failed AS active,
      d.completed <> 0 OR d.failed <> 0 OR d.enqueued - d.completed - d.failed <> 0 AS changed
    FROM locked l JOIN d ON d.task_id = l.id),
  derived AS (
    SELECT c.*, CASE
        WHEN c.state = 'cancelled' THEN c.state
        WHEN c.completed + c.resolved_steps >= c.total_steps THEN
          CASE WHEN c.resolved_steps > 0 THEN 'resolved_manually' ELSE 'complete' END
        WHEN c.failed > 0 AND c.active = 0 THEN 'error'
        WHEN c.state = 'pending' AND NOT c.started THEN 'pending'
        ELSE 'in_progress' END AS new_state
    FROM counted c),
  written AS (
    UPDATE tasker_tasks k SET state = x.new_state, completed_steps = x.completed, failed_steps = x.failed,
      active_steps = x.active,
      completed_at = CASE WHEN x.new_state IN ('complete', 'error', 'cancelled', 'resolved_manually') THEN p_now END,
      updated_at = p_now
    FROM derived x
    WHERE k.id = ANY(ARRAY(SELECT y.id FROM derived y)) AND k.id = x.id AND (x.new_state <> x.state OR x.changed)
    RETURNING k.id),
  logged AS (
    INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
    SELECT x.id, NULL, x.state, x.new_state, p_now, p_worker,
      CASE WHEN x.new_state = 'error' THEN 'a step failed and nothing else can run'
           WHEN x.new_state = 'in_progress' AND x.state <> 'pending' THEN 'resumed'
           WHEN x.new_state = 'in_progress' THEN 'first step started'
           ELSE 'all steps complete' END, 0
    FROM derived x WHERE x.new_state <> x.state ORDER BY x.id)
  SELECT COALESCE(jsonb_agg(jsonb_build_array(x.id, x.uuid, x.state, x.new_state, x.failed) ORDER BY x.id), '[]'),
    -- Only watched tasks: a NOTIFY serialises this commit with every other notifying one.
    COALESCE(array_agg(x.uuid ORDER BY x.id) FILTER (
      WHERE x.new_state <> x.state AND x.new_state IN ('complete', 'error', 'cancelled', 'resolved_manually')
        AND EXISTS (SELECT 1 FROM tasker_task_watchers w WHERE w.task_id = x.id AND w.expires_at > p_now)), '{}')
  INTO v_tasks, v_finished
  FROM derived x;

  -- 5. Wake other workers for steps this transaction made claimable and did
  -- not claim itself, and other processes' waiters for the finished tasks
  -- they watch (payloads below PostgreSQL's 8000 bytes, as changes.cpp).
  v_work := EXISTS (SELECT 1 FROM unnest(v_enqueued_ids || v_released) AS e(id) WHERE e.id <> ALL(v_claimed_ids));
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
  RETURN jsonb_build_object('discarded', v_discarded, 'enqueued', v_enqueued, 'claimed', v_claimed,
                            'tasks', v_tasks, 'work', v_work);
END
$fn$;
