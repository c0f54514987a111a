-- tasker migration 9: rerunning a step (Client::rerun_step)
-- A rerun is the step's next attempt (attempt numbers keep counting, so
-- idempotency keys built from them stay unique) with a whole set of retries of
-- its own: max_attempts becomes the attempts so far plus the step's retry
-- budget. retry_budget keeps that budget, the template's max_attempts, once a
-- step is first rerun; NULL: never rerun, max_attempts is the budget.
ALTER TABLE tasker_steps ADD COLUMN retry_budget INTEGER;
