-- tasker migration 3: steps created at run time: decisions, batches, checkpoints
-- A task whose template creates steps at run time keeps the template's
-- definition, so that whichever worker records a decision's or a batchable
-- step's outcome can create the steps it names (workers have no templates).
ALTER TABLE tasker_tasks ADD COLUMN definition {json};
ALTER TABLE tasker_steps ADD COLUMN step_type TEXT NOT NULL DEFAULT 'standard';
-- A batch instance's batch_worker step (process_batch of process_batch_001).
ALTER TABLE tasker_steps ADD COLUMN template_step TEXT;
-- The batchable step that created a batch instance: its instances share the
-- batch's parallelism slots and its failure strategy.
ALTER TABLE tasker_steps ADD COLUMN batch_id BIGINT;
ALTER TABLE tasker_steps ADD COLUMN checkpoint {json};
-- What a batchable step's instances see of its result: all of it but the
-- cursor list, so that N instances do not each read N cursors.
ALTER TABLE tasker_steps ADD COLUMN child_results {json};
-- The instances of a batch waiting for a parallelism slot, in order.
CREATE INDEX tasker_steps_batch_slots ON tasker_steps (batch_id, position)
  WHERE state = 'pending' AND batch_id IS NOT NULL;
