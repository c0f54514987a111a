-- tasker migration 10: retention: finished tasks by state and completion time, signals by task
-- A purge (docs/retention.md) reads the finished tasks of one state in
-- completion order, oldest first, a batch at a time: a range of this index.
-- completed_at is set exactly while a task is finished, so active tasks never
-- enter it, and it changes only when a task finishes or resumes.
CREATE INDEX tasker_tasks_finished ON tasker_tasks (state, completed_at) WHERE completed_at IS NOT NULL;
-- A purge deletes a task's signals by task; the signal indexes of migration 7
-- are partial (keyed or unconsumed signals), so without this a delete (and the
-- foreign key's cascade) would scan the table once per batch.
CREATE INDEX tasker_signals_by_task ON tasker_signals (task_id);
