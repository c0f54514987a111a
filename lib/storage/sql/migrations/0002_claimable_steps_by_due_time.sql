-- tasker migration 2: claimable steps by due time
-- When a claim finds nothing, the worker asks when the next step falls due
-- (next_due): the first entry of this index. Without it PostgreSQL walked every
-- scheduled retry, or scanned all of tasker_steps, history included, once the
-- retry backlog was large. Claims also use it when most claimable steps are
-- retries scheduled for later.
CREATE INDEX tasker_steps_due ON tasker_steps (claimable_at) WHERE state IN ('enqueued', 'waiting_for_retry');
