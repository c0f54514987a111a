#pragma once
// Waiting steps inside a write transaction (docs/architecture.md, "Waiting
// steps"): a claimed signal or sleep step begins to wait, waiting steps whose
// time came wake, and a signal completes the step waiting for it or is kept
// for the step that will. A signal and a suspend of the same task serialise
// on the task row, locked first (SQLite: the one write transaction).
#include <cstdint>
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

}  // namespace tasker::detail::sql
