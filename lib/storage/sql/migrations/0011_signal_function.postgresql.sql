-- tasker migration 11: the signal function, version 1 (PostgreSQL)
-- A signal's delivery (Client::signal) in one round trip, as a worker's
-- transaction is one call of tasker_exchange_v2: the moves it makes (a waiting
-- step completed by its signal, its children enqueued) are the hot path of a
-- workflow that waits. Nothing in the tables changes; a process built before
-- this migration keeps delivering through its statements.
{{include:functions/tasker_signal_v1.sql}}
