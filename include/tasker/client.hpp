#pragma once
// The API for submitting and inspecting tasks and for operator actions.
// The CLI, the examples and the tests use only this (and Worker).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tasker/clock.hpp"
#include "tasker/events.hpp"
#include "tasker/limits.hpp"
#include "tasker/schedule.hpp"
#include "tasker/store.hpp"
#include "tasker/task.hpp"
#include "tasker/template_set.hpp"

namespace tasker {

struct ClientOptions {
  const Clock* clock{&SystemClock::instance()};
  std::shared_ptr<EventBus> events;  ///< lifecycle events of the client's own actions go here
  JsonLimits limits{};               ///< contexts and manual results beyond these are refused (docs/limits.md)
};

/// Thread-safe. Submitting needs templates; everything else works without.
class Client {
 public:
  Client(std::shared_ptr<Store> store, std::shared_ptr<const TemplateSet> templates, ClientOptions options = {});
  /// Takes the templates as TemplateSet::load returns them.
  Client(std::shared_ptr<Store> store, TemplateSet templates, ClientOptions options = {});

  /// Create a task from the template the request names (latest version when
  /// none is given). Throws NotFoundError (unknown template), InvalidRequestError
  /// (unknown bypass step, priority out of range, non-object context, missing
  /// idempotency key, a context that is not UTF-8), LimitError (a context beyond
  /// options.limits), DuplicateTaskError (naming the existing task). Nothing is
  /// written when it throws.
  TaskView submit(const TaskRequest& request);

  /// Throws InvalidRequestError for a malformed uuid, NotFoundError for an unknown one.
  [[nodiscard]] TaskView get_task(const std::string& task_uuid);
  [[nodiscard]] TaskPage list_tasks(const TaskFilter& filter = {});
  /// Work in flight database-wide; also a cheap check that the database answers.
  [[nodiscard]] ActivityCounts activity();
  /// The task and its steps read in one snapshot (what a status display wants:
  /// counts that agree with the steps). Throws as get_task does.
  [[nodiscard]] TaskSnapshot snapshot(const std::string& task_uuid);
  /// Steps in template order. Throws as get_task does.
  [[nodiscard]] std::vector<StepView> list_steps(const std::string& task_uuid);
  [[nodiscard]] StepView get_step(const std::string& task_uuid, const std::string& step_name);
  /// The task's transitions (and its steps'), oldest first; or one step's.
  [[nodiscard]] std::vector<Transition> transitions(const std::string& task_uuid,
                                                    const std::optional<std::string>& step_name = std::nullopt);

  /// Cancel every unfinished step; late results of running attempts are discarded.
  TaskView cancel(const std::string& task_uuid, const std::string& reason = "cancelled by operator");
  /// A failed step gets a fresh set of attempts; the task resumes.
  StepView reset_step_for_retry(const std::string& task_uuid, const std::string& step_name,
                                const std::string& reason = "reset by operator");
  /// Run a finished or failed step again, and every step that depends on it,
  /// however far down (they wait for it again); the other steps keep their
  /// results, and a finished task resumes. Each rerun is that step's next
  /// attempt (attempt numbers keep counting) with its whole retry budget again,
  /// whatever max_attempts it had used. Throws ConflictError while one of those
  /// steps runs on a worker; InvalidRequestError when the step is not finished,
  /// or they include a step that creates steps at run time (decision,
  /// batchable) or was created by a batch (submit the task again instead).
  StepView rerun_step(const std::string& task_uuid, const std::string& step_name,
                      const std::string& reason = "rerun by operator");
  /// Submit the task again as a new one: the same template version, context,
  /// priority, tags, correlation id and bypassed steps, with the tag
  /// kRerunOfTagPrefix + `task_uuid` (the link to the original) and `reason` in
  /// its own. The original stays as it is. Throws as get_task and submit do.
  TaskView rerun_task(const std::string& task_uuid, const std::string& reason = "rerun by operator");
  /// Mark a step done without a result; dependents proceed.
  StepView resolve_step_manually(const std::string& task_uuid, const std::string& step_name,
                                 const std::string& reason = "resolved by operator");
  /// Mark a step complete with `result`; dependents see it as the step's result.
  /// Throws LimitError for a result beyond options.limits.
  StepView complete_step_manually(const std::string& task_uuid, const std::string& step_name, const json& result,
                                  const std::string& reason = "completed by operator");

  /// Send signal `name` to a task (docs/templates.md, "Waiting steps"): the
  /// step waiting for it completes with `payload` as its result (delivered),
  /// or the signal is kept for the step that will wait for it (buffered); a
  /// `key` seen before for this task changes nothing (duplicate). `sender` is
  /// recorded in the audit trail. Throws NotFoundError (no such task, or no
  /// signal step of that name), ConflictError (the task is finished or
  /// cancelled, or its steps of that signal are), LimitError (a payload
  /// beyond options.limits), InvalidRequestError (a payload that is not an object).
  SignalStatus signal(const std::string& task_uuid, const std::string& name, const json& payload = json::object(),
                      const std::optional<std::string>& key = std::nullopt, const std::string& sender = "");

  /// Wait until the task reaches a final state (complete, error, cancelled or
  /// resolved_manually; see is_terminal) or `timeout` passes, and return it as
  /// it then is: check its state. Wakes as soon as a commit in this process,
  /// or a notification from another process (PostgreSQL), says the task
  /// finished; otherwise it looks again every `poll_interval` (another
  /// process's commits on SQLite). Throws as get_task does.
  TaskView wait_for_task(const std::string& task_uuid, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll_interval = std::chrono::milliseconds{250});

  // Cron schedules (docs/schedules.md); workers fire them (WorkerOptions::fire_schedules).

  /// Store a schedule of the template the request names (latest version when
  /// none is given, pinned from then on): its definition is kept, so workers
  /// fire it without template files. Throws NotFoundError (unknown template),
  /// InvalidRequestError (a name taken or not of letters, digits, `_`, `-`,
  /// `.`; a bad cron expression or time zone; a context that is not an object
  /// or has the key kScheduleContextKey), LimitError (a context beyond options.limits).
  ScheduleView create_schedule(const ScheduleRequest& request);
  /// Throws NotFoundError.
  [[nodiscard]] ScheduleView get_schedule(const std::string& name);
  [[nodiscard]] std::vector<ScheduleView> list_schedules();
  /// Apply `update` (ScheduleUpdate says which changes recompute the next tick); throws as create_schedule does.
  ScheduleView update_schedule(const std::string& name, const ScheduleUpdate& update);
  /// A paused schedule fires nothing until resumed; resuming fires from the next tick after now.
  ScheduleView pause_schedule(const std::string& name);
  ScheduleView resume_schedule(const std::string& name);
  /// Remove the schedule; the tasks it created stay. Throws NotFoundError.
  void delete_schedule(const std::string& name);
  /// Create a task from the schedule now, outside its cron, paused or not
  /// (initiator schedule:NAME, kScheduleContextKey's `triggered` true). Throws NotFoundError.
  TaskView trigger_schedule(const std::string& name);

  // Retention (docs/retention.md).

  /// Delete finished tasks (complete, cancelled, error, resolved_manually; never active ones)
  /// that finished longer ago than request.older_than, or by request.policy,
  /// in transactions of request.batch_size tasks, each archived first through
  /// request.archive when set; with dry_run, count them instead. Throws
  /// InvalidRequestError for an active state, a negative age, an age of 0
  /// without states, or no age with a policy that purges nothing.
  PurgeResult purge(const PurgeRequest& request);
  /// Bring archived tasks back (read_archive checks the records): same uuids,
  /// new ids, in transactions of 200; a task that exists is skipped and counted.
  ImportResult import_archive(const std::vector<json>& records);

  [[nodiscard]] const TemplateSet* templates() const { return templates_.get(); }

 private:
  void publish(const std::vector<LifecycleEvent>& events) const;
  std::shared_ptr<Store> store_;
  std::shared_ptr<const TemplateSet> templates_;
  ClientOptions options_;
};

}  // namespace tasker
