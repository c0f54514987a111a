-- tasker_signal_v1 (installed by migration 11; one_call.cpp calls it): a
-- signal's delivery in one round trip. It does what the statements path does
-- (waiting.cpp, deliver_signal; then settle), with the same locks in the same
-- order: the task row (by uuid, first, as a suspend locks it, so a signal and
-- the step beginning to wait for it serialise), the key's duplicate check, the
-- task's signal steps of that name (read unlocked), the waiting step locked
-- and checked again (a wake pass may have timed it out since), the signal's
-- row; then, when a step was waiting, the step completed with the payload as
-- its result, its children advanced as tasker_exchange_v2 advances them
-- (locked by id), the task's counters and state settled, every transition
-- appended, and the NOTIFYs.
--
-- The C++ decides what needs no row: the completion's reason and its audit
-- payload (p_reason, p_audit). A refusal changes nothing and returns its kind
-- ({"refused": "no_task" | "task_finished" | "steps_finished" |
-- "stopped_waiting", "state": the task's or the step's}), from which the C++
-- raises the error the statements path raises. Returns {"fallback": true},
-- having changed nothing, when the task has no signal step of that name yet:
-- an unknown name, or a step a decision will create, which only the task's
-- definition knows; the statements path reads it (docs/architecture.md,
-- "One round trip on PostgreSQL"). Else {status: duplicate | buffered |
-- delivered}, and for a delivery the step's id, the transitions as appended
-- (rows.hpp's transition rows, from which the C++ derives the events) and
-- whether a step became claimable (`work`).
--
-- Placeholders in double braces are the model's rules, filled when the
-- migration runs (state_sql.hpp). Once released this text is frozen
-- (migrations/CHECKSUMS): a change is a new version under a new name.
CREATE OR REPLACE FUNCTION tasker_signal_v1(
  p_task_uuid TEXT, p_name TEXT, p_key TEXT, p_payload JSONB, p_sender TEXT, p_now BIGINT, p_reason TEXT,
  p_audit JSONB, p_channel TEXT)
RETURNS JSONB LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_task BIGINT;
  v_task_state TEXT;
  v_any BOOLEAN;
  v_waiting BIGINT;
  v_ahead BOOLEAN;
  v_step_state TEXT;
  v_step_name TEXT;
  v_attempts INTEGER;
  v_children BIGINT[];
  -- Every step move (from, to), for the counters and the wake-up, and every transition as appended.
  v_mv_from TEXT[];
  v_mv_to TEXT[];
  v_log JSONB;
  v_part_from TEXT[];
  v_part_to TEXT[];
  v_part_log JSONB;
  v_uuid TEXT;
  v_total INTEGER;
  v_completed INTEGER;
  v_resolved INTEGER;
  v_failed INTEGER;
  v_active INTEGER;
  v_changed BOOLEAN;
  v_new_state TEXT;
  v_task_reason TEXT;
  v_task_payload JSONB;
  v_work BOOLEAN;
BEGIN
  -- 1. The task, locked first; a key seen before changes nothing, a finished task takes no signal.
  SELECT t.id, t.state INTO v_task, v_task_state FROM tasker_tasks t WHERE t.uuid = p_task_uuid FOR UPDATE;
  IF v_task IS NULL THEN
    RETURN '{"refused": "no_task"}'::JSONB;
  END IF;
  IF p_key IS NOT NULL AND EXISTS (SELECT 1 FROM tasker_signals g WHERE g.task_id = v_task AND g.signal_key = p_key)
  THEN
    RETURN '{"status": "duplicate"}'::JSONB;
  END IF;
  IF {{terminal_task:v_task_state}} THEN
    RETURN jsonb_build_object('refused', 'task_finished', 'state', v_task_state);
  END IF;

  -- 2. The task's signal steps of that name (the name is in the step's
  -- initialization, else the step's own, as signal_spec_from_json reads it):
  -- the first one waiting, and whether one is still to be reached.
  SELECT count(*) > 0, min(s.id) FILTER (WHERE s.state = {{step:waiting}}),
    COALESCE(bool_or({{steps:unfinished,s.state}} AND s.state <> {{step:waiting}}), FALSE)
  INTO v_any, v_waiting, v_ahead
  FROM tasker_steps s
  WHERE s.task_id = v_task AND s.callable = {{callable:signal}}
    AND CASE WHEN jsonb_typeof(s.initialization) = 'object' THEN COALESCE(s.initialization->>'name', s.name)
             ELSE s.name END = p_name;
  IF NOT v_any THEN
    RETURN '{"fallback": true}'::JSONB;
  END IF;
  IF v_waiting IS NULL AND NOT v_ahead THEN
    RETURN '{"refused": "steps_finished"}'::JSONB;
  END IF;
  IF v_waiting IS NOT NULL THEN
    SELECT s.state, s.name, s.attempts INTO v_step_state, v_step_name, v_attempts
    FROM tasker_steps s WHERE s.id = v_waiting FOR UPDATE;
    IF NOT ({{move_from:signalled,v_step_state}}) THEN
      RETURN jsonb_build_object('refused', 'stopped_waiting', 'state', v_step_state);
    END IF;
  END IF;
  INSERT INTO tasker_signals (task_id, name, signal_key, payload, sender, received_at, consumed_at, step_id)
  VALUES (v_task, p_name, p_key, p_payload, p_sender, p_now, CASE WHEN v_waiting IS NOT NULL THEN p_now END,
          v_waiting);
  IF v_waiting IS NULL THEN
    RETURN '{"status": "buffered"}'::JSONB;
  END IF;

  -- 3. The waiting step completes with the payload as its result.
  UPDATE tasker_steps s SET state = {{move_to:signalled}}, results = p_payload, claimable_at = NULL,
    completed_at = p_now, lease_expires_at = NULL, wake_at = NULL, updated_at = p_now
  WHERE s.id = v_waiting;
  INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt, payload)
  VALUES (v_task, v_waiting, v_step_state, {{move_to:signalled}}, p_now, '', p_reason, v_attempts, p_audit);
  v_mv_from := ARRAY[v_step_state];
  v_mv_to := ARRAY[{{move_to:signalled}}::TEXT];
  v_log := jsonb_build_array(jsonb_build_array(v_task, v_waiting, v_step_name, v_step_state, {{move_to:signalled}},
                                               '', p_reason, v_attempts, p_audit));

  -- 4. Its children, locked by id: one parent fewer to wait for; those with none left are enqueued.
  v_children := ARRAY(SELECT e.child_id FROM tasker_step_edges e WHERE e.parent_id = v_waiting ORDER BY e.child_id);
  IF cardinality(v_children) > 0 THEN
    PERFORM 1 FROM tasker_steps s WHERE s.id = ANY(v_children) ORDER BY s.id FOR UPDATE;
    WITH advanced AS (
      UPDATE tasker_steps s
      SET pending_parents = s.pending_parents - 1,
        state = CASE WHEN {{move_from:dependencies_met,s.state}} AND s.pending_parents - 1 <= 0
                     THEN {{move_to:dependencies_met}} ELSE s.state END,
        claimable_at = CASE WHEN {{move_from:dependencies_met,s.state}} AND s.pending_parents - 1 <= 0
                            THEN p_now ELSE s.claimable_at END,
        updated_at = p_now
      WHERE s.id = ANY(v_children)
      RETURNING s.id, s.name, s.state, s.pending_parents),
    ready AS (SELECT a.* FROM advanced a WHERE a.state = {{move_to:dependencies_met}} AND a.pending_parents = 0),
    logged AS (
      INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
      SELECT v_task, r.id, {{step:pending}}, r.state, p_now, '', {{move_reason:dependencies_met}}, 0
      FROM ready r ORDER BY r.id)
    SELECT COALESCE(array_agg({{step:pending}}::TEXT ORDER BY r.id), '{}'),
      COALESCE(array_agg(r.state ORDER BY r.id), '{}'),
      COALESCE(jsonb_agg(jsonb_build_array(v_task, r.id, r.name, {{step:pending}}, r.state, '',
                                           {{move_reason:dependencies_met}}, 0, NULL) ORDER BY r.id), '[]')
    INTO v_part_from, v_part_to, v_part_log
    FROM ready r;
    v_mv_from := v_mv_from || v_part_from;
    v_mv_to := v_mv_to || v_part_to;
    v_log := v_log || v_part_log;
  END IF;

  -- 5. The task (locked in 1.): each counter moved by the moves above, the
  -- state derived from the counters (no step was claimed), written when either
  -- changed; a transition for a new state.
  SELECT SUM({{count_move:completed,m.from_state,m.to_state}}), SUM({{count_move:resolved,m.from_state,m.to_state}}),
    SUM({{count_move:failed,m.from_state,m.to_state}}), SUM({{count_move:active,m.from_state,m.to_state}})
  INTO v_completed, v_resolved, v_failed, v_active
  FROM unnest(v_mv_from, v_mv_to) AS m(from_state, to_state);
  v_changed := v_completed <> 0 OR v_resolved <> 0 OR v_failed <> 0 OR v_active <> 0;
  SELECT k.uuid, k.total_steps, k.completed_steps + v_completed, k.resolved_steps + v_resolved,
    k.failed_steps + v_failed, k.active_steps + v_active
  INTO v_uuid, v_total, v_completed, v_resolved, v_failed, v_active
  FROM tasker_tasks k WHERE k.id = v_task;
  v_new_state := {{task_state:v_task_state,FALSE,v_total,v_completed,v_resolved,v_failed,v_active}};
  v_task_reason := {{task_reason:v_task_state,FALSE,v_total,v_completed,v_resolved,v_failed,v_active}};
  IF v_new_state <> v_task_state OR v_changed THEN
    UPDATE tasker_tasks k SET state = v_new_state, completed_steps = v_completed, resolved_steps = v_resolved,
      failed_steps = v_failed, active_steps = v_active,
      completed_at = CASE WHEN {{terminal_task:v_new_state}} THEN p_now END, updated_at = p_now
    WHERE k.id = v_task;
  END IF;
  IF v_new_state <> v_task_state THEN
    -- A failed task's transition carries how many steps failed (as changes.cpp writes it).
    v_task_payload := CASE WHEN v_new_state = {{task:error}} THEN jsonb_build_object('failed_steps', v_failed) END;
    INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt, payload)
    VALUES (v_task, NULL, v_task_state, v_new_state, p_now, '', v_task_reason, 0, v_task_payload);
    v_log := v_log || jsonb_build_array(jsonb_build_array(v_task, NULL, NULL, v_task_state, v_new_state, '',
                                                          v_task_reason, 0, v_task_payload));
  END IF;

  -- 6. Wake workers for the steps it enqueued, and other processes' waiters
  -- for the task's end when someone watches it.
  v_work := {{step:enqueued}} = ANY(v_mv_to);
  IF v_work THEN
    PERFORM pg_notify(p_channel, '');
  END IF;
  IF v_new_state <> v_task_state AND {{terminal_task:v_new_state}}
     AND EXISTS (SELECT 1 FROM tasker_task_watchers w WHERE w.task_id = v_task AND w.expires_at > p_now) THEN
    PERFORM pg_notify(p_channel, 'finished:' || v_uuid);
  END IF;
  RETURN jsonb_build_object('status', 'delivered', 'step_id', v_waiting, 'transitions', v_log, 'work', v_work);
END
$fn$;
