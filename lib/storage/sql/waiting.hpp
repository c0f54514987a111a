#pragma once
// Waiting steps inside a write transaction (docs/architecture.md, "Waiting
// steps"): a claimed signal or sleep step begins to wait, waiting steps whose
// time came wake, and a signal completes the step waiting for it or is kept
// for the step that will. A signal and a suspend of the same task serialise
// on the task row, locked first (SQLite: the one write transaction).
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "storage/sql/changes.hpp"
#include "tasker/store.hpp"

namespace tasker::detail::sql {

/// Move the claimed steps to waiting (fenced by claim token; those fenced out
/// are added to `discarded`), or complete a signal step with a kept signal.
void suspend_steps(WriteTx& tx, const std::vector<Suspension>& steps, std::vector<std::int64_t>& discarded);
/// Wake up to `limit` waiting steps whose wake_at has passed; returns how many.
std::size_t wake_due_steps(WriteTx& tx, int limit);
/// Deliver a signal (Store::deliver_signal).
SignalStatus deliver_signal(WriteTx& tx, const SignalDelivery& signal);

/// Why a signal changes nothing. PostgreSQL's signal function returns these
/// by name ("task_finished"), so that both paths raise the same errors.
enum class SignalRefusal {
  no_task,          ///< no task has that uuid
  task_finished,    ///< the task is in a final state (`state`)
  no_step,          ///< the task has no signal step of that name, not even one to be created
  steps_finished,   ///< its signal steps of that name have finished
  stopped_waiting,  ///< the waiting step stopped waiting (now in `state`) as the signal arrived
};
[[nodiscard]] std::optional<SignalRefusal> parse_signal_refusal(std::string_view name);
/// Throw the refusal's error (NotFoundError or ConflictError).
[[noreturn]] void refuse_signal(const SignalDelivery& signal, SignalRefusal why, std::string_view state = {});

/// The reason and audit payload of the transition of the step `signal` completes at `now`.
struct SignalCompletion {
  std::string reason;
  json payload;
};
[[nodiscard]] SignalCompletion signal_completion(const SignalDelivery& signal, TimePoint now);

}  // namespace tasker::detail::sql
