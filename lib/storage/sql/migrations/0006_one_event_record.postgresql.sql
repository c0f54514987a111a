-- tasker migration 6: server functions, version 2 (PostgreSQL)
-- A process calls the function version it was built for: tasker_submit and
-- tasker_exchange (migrations 4 and 5) stay for processes built before this
-- migration until a later migration removes them (docs/deployment.md,
-- "Migrations").
{{include:functions/tasker_submit_v2.sql}}
{{include:functions/tasker_exchange_v2.sql}}
