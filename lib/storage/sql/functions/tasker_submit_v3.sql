-- tasker_submit_v3 (installed by migration 7; one_call.cpp calls it): a submit
-- in one round trip; v2 and the task's `run_at` (a delayed start; the steps'
-- claimable_at already carry it). The task row (or nothing, when its identity hash is
-- taken), its steps and edges (by position), the creation transitions, the
-- notifications. Returns the task row as created, or the row that holds the
-- identity hash. The step rows are rows.hpp's NewStep, one JSON array each;
-- Placeholders in double braces are filled from the state machine and the
-- row declarations when the migration runs (state_sql.hpp, schema.cpp).
-- Once released this text is frozen (migrations/CHECKSUMS): a change is a
-- new version under a new name.
CREATE OR REPLACE FUNCTION tasker_submit_v3(
  p_uuid TEXT, p_namespace TEXT, p_name TEXT, p_version TEXT, p_state TEXT, p_context JSONB, p_initiator TEXT,
  p_source_system TEXT, p_reason TEXT, p_tags JSONB, p_priority INTEGER, p_correlation_id TEXT,
  p_idempotency_key TEXT, p_identity_hash TEXT, p_bypassed JSONB, p_total INTEGER, p_active INTEGER,
  p_now BIGINT, p_completed_at BIGINT, p_definition JSONB, p_steps JSONB, p_edges JSONB, p_channel TEXT,
  p_notifications JSONB, p_created_payload JSONB, p_run_at BIGINT)
RETURNS SETOF tasker_tasks LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_id BIGINT;
  v_ids BIGINT[];
  v_payload TEXT;
BEGIN
  INSERT INTO tasker_tasks AS t (uuid, namespace_name, name, version, state, context, initiator, source_system,
    reason, tags, priority, correlation_id, idempotency_key, identity_hash, bypassed_steps, total_steps,
    active_steps, created_at, updated_at, completed_at, definition, run_at)
  VALUES (p_uuid, p_namespace, p_name, p_version, p_state, p_context, p_initiator, p_source_system, p_reason,
    p_tags, p_priority, p_correlation_id, p_idempotency_key, p_identity_hash, p_bypassed, p_total, p_active,
    p_now, p_now, p_completed_at, p_definition, p_run_at)
  ON CONFLICT (identity_hash) DO NOTHING
  RETURNING t.id INTO v_id;
  IF v_id IS NULL THEN
    RETURN QUERY SELECT * FROM tasker_tasks t WHERE t.identity_hash = p_identity_hash;
    RETURN;
  END IF;
  INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt, payload)
  VALUES (v_id, NULL, NULL, p_state, p_now, '', {{move_reason:created_ready}}, 0, p_created_payload);
  IF jsonb_array_length(p_steps) > 0 THEN
    WITH inserted AS (
      INSERT INTO tasker_steps (task_id, namespace_name, priority, created_at, updated_at, {{columns:new_step}})
      SELECT v_id, p_namespace, p_priority, p_now, p_now, {{values:new_step,r.v}}
      FROM jsonb_array_elements(p_steps) AS r(v)
      RETURNING tasker_steps.id, tasker_steps.position)
    SELECT array_agg(i.id ORDER BY i.position) INTO v_ids FROM inserted i;
    INSERT INTO tasker_transitions (task_id, step_id, from_state, to_state, at, worker_id, reason, attempt)
    SELECT v_id, v_ids[({{value:new_step,position,r.v}})::INTEGER + 1], NULL, {{value:new_step,state,r.v}}, p_now,
      '', {{move_reason:created_ready}}, 0
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
