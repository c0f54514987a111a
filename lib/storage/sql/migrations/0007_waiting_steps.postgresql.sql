-- tasker migration 7: the submit function, version 3 (PostgreSQL)
-- A task has its run_at, which the submit writes. The exchange stays at
-- version 2: it makes only the hot moves, none of which enters or leaves the
-- waiting state, so the waiting state's place in the active set changes none
-- of its counts. tasker_submit_v2 stays installed for processes built before
-- this migration until a later migration removes it (docs/deployment.md,
-- "Migrations").
{{include:functions/tasker_submit_v3.sql}}
