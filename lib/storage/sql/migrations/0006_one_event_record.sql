-- tasker migration 6: one event record; indexes of claimable and running steps by column; migration checksums
-- A transition row carries what its lifecycle events need beyond its columns
-- (a failed attempt's error, a retry's time, a created task's template, a
-- failed task's count of failed steps), so the audit trail, the event bus and
-- an outbox read one record (Transition::payload).
ALTER TABLE tasker_transitions ADD COLUMN payload {json};
-- The claim's and the lease sweep's indexes name no state: a step is
-- claimable exactly while claimable_at is set, and held by a worker exactly
-- while lease_expires_at is set (every write keeps this, and the store's
-- contract tests check it after each test), so a new state never changes an
-- index. The claim's conditions (claimable_at <= now, lease_expires_at < now)
-- imply these predicates on both databases.
DROP INDEX tasker_steps_claimable;
CREATE INDEX tasker_steps_claimable ON tasker_steps (priority DESC, claimable_at, id)
  WHERE claimable_at IS NOT NULL;
DROP INDEX tasker_steps_due;
CREATE INDEX tasker_steps_due ON tasker_steps (claimable_at) WHERE claimable_at IS NOT NULL;
DROP INDEX tasker_steps_leases;
CREATE INDEX tasker_steps_leases ON tasker_steps (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
-- The SHA-256 of each applied migration's SQL (schema.cpp): a database that
-- applied a migration whose text differs from this build's is refused.
ALTER TABLE tasker_schema_migrations ADD COLUMN checksum TEXT;
