#pragma once
// On PostgreSQL, a submit, a worker transaction and a signal's delivery in
// one round trip each: one statement that calls a server function
// (functions/tasker_submit_v3.sql of migration 7, tasker_exchange_v2.sql of
// migration 6, tasker_signal_v1.sql of migration 11) and commits on its own,
// instead of BEGIN, a dozen statements and COMMIT. The
// C++ still decides what it decides elsewhere (the rows of a new task, the
// retry decision, what a failure stores and each transition's reason and
// payload); the function does what needs the rows (fencing, children, the
// claim, counters, task states, transitions, NOTIFY) with the model's rules
// rendered into it, and returns the transitions it appended, from which the
// events are derived here as the multi-statement path derives them.
//
// A worker's failure needs the step's attempt and retry policy, which the
// multi-statement path reads from the locked row: here they come from the
// claim that handed the step out, remembered per step (valid while the
// claim token matches, which is exactly when the outcome applies). Outcomes
// of claims this store did not hand out, reclaim passes, and outcomes that
// create steps (decision, batchable) or finish batch instances go through the
// multi-statement path (exchange() returns nullopt).
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/task_creation.hpp"
#include "storage/sql/transaction.hpp"
#include "tasker/store.hpp"

namespace tasker::detail::sql {

class OneCall {
 public:
  OneCall(Runner& runner, std::string channel) : runner_(runner), channel_(std::move(channel)) {}

  /// Store::create_task: the task as created and its events.
  CreateResult create_task(const TaskPlan& plan, TimePoint now, Wakeups& wake);
  /// The same inside the caller's open write transaction on `c` (a schedule's
  /// tick): nothing committed or notified here; the caller's transaction
  /// announces the work (`wake`) when it commits. When the plan's identity hash
  /// is taken already, creates nothing and returns nullopt with the uuid of the
  /// task that holds it in `existing`: the function's ON CONFLICT answers what
  /// a lookup before it would, one round trip fewer for every tick.
  std::optional<CreateResult> create_task_in(Connection& c, const TaskPlan& plan, TimePoint now, Wakeups& wake,
                                             std::string& existing);

  /// Store::exchange, or nullopt (nothing done) when these outcomes need the multi-statement path.
  std::optional<ExchangeResult> exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim,
                                         TimePoint now, Wakeups& wake);

  /// Store::deliver_signal through tasker_signal_v1 (migration 11), or nullopt
  /// (nothing done) when the task has no signal step of that name yet: the
  /// statements path reads the task's definition. Throws the statements path's
  /// errors for a refused signal.
  std::optional<SignalResult> deliver_signal(const SignalDelivery& signal, TimePoint now, Wakeups& wake);

  /// Remember what failures of these claims need (claims of the multi-statement path).
  void remember(const std::vector<ClaimedStep>& claimed);
  /// The outcomes were recorded: their claims are over.
  void forget(const std::vector<StepOutcome>& outcomes);

 private:
  /// What a claim told the worker and a failure needs; valid for this token only.
  struct Claim {
    std::int64_t token;
    std::string step_name;
    int attempts;
    RetryPolicy retry;
    bool creates_steps;  ///< a decision, batchable step or batch instance: the multi-statement path records it
  };

  /// The submit function's call of `plan`, with the notifications it sends (none: a JSON `[]`).
  [[nodiscard]] std::vector<Param> submit_params(const TaskPlan& plan, TimePoint now, const std::string& notifications);
  /// The task the function returned, and the events of its creation.
  [[nodiscard]] static CreateResult created(const Rows& r, const TaskPlan& plan, const Changes& ch, TimePoint now);

  Runner& runner_;
  std::string channel_;
  std::mutex mutex_;
  std::unordered_map<std::int64_t, Claim> claims_;  // by step id
};

}  // namespace tasker::detail::sql
