-- tasker migration 7: server functions, version 3 (PostgreSQL)
-- The state machine gained the waiting state (its active set renders into the
-- exchange's counters) and a task its run_at (the submit writes it). Version
-- 2 stays installed for processes built before this migration until a later
-- migration removes it (docs/deployment.md, "Migrations").
{{include:functions/tasker_submit_v3.sql}}
{{include:functions/tasker_exchange_v3.sql}}
