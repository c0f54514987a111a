#pragma once
// Operator actions inside a write transaction whose task row is already
// locked (sql_store.cpp's operate()): cancel a task, reset a failed step for
// retry, rerun a step and its dependents, resolve or complete a step manually. Each throws InvalidRequestError
// when the current state does not allow it, saying why.
#include <cstdint>
#include <optional>
#include <string>

#include "storage/sql/changes.hpp"
#include "tasker/json.hpp"
#include "tasker/states.hpp"

namespace tasker::detail::sql {

/// The locked task an action applies to.
struct LockedTask {
  std::int64_t id;
  std::string uuid;
  TaskState state;
};

/// Cancel every unfinished step; the task becomes cancelled whatever its counters say.
void cancel_task(WriteTx& tx, const LockedTask& task, const std::string& reason);
/// A step in error gets a fresh set of attempts and is enqueued.
void reset_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, const std::string& reason);
/// Run a finished or failed step again, and every step that depends on it
/// (they wait for it again); the other steps keep their results. Each rerun
/// step's attempts keep counting, with a whole retry budget of its own.
/// Refused (InvalidRequestError) when the step is not finished or the steps
/// include one that creates steps at run time or was created by one (a rerun
/// would create them again), ConflictError while one of them runs on a worker.
void rerun_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, const std::string& reason);
/// `move` is resolved_by_operator (no result) or completed_by_operator (with `result`); dependents proceed.
void satisfy_step(WriteTx& tx, const LockedTask& task, const std::string& step_name, StepMove move,
                  const std::optional<json>& result, const std::string& reason);

}  // namespace tasker::detail::sql
