#pragma once
// What a batch does when one of its instances finishes for good: the next
// instance waiting for a parallelism slot starts, and a permanent failure
// applies the batch's failure strategy (docs/templates.md, "batch_config").
#include <cstdint>
#include <vector>

#include "storage/sql/changes.hpp"
#include "storage/sql/expansions.hpp"
#include "storage/sql/step_writes.hpp"

namespace tasker::detail::sql {

/// `instance` (a step with a batch_id) completed, or failed permanently
/// (`failed`). fail_fast cancels its siblings not yet started; isolate
/// appends it to `satisfied`, so that the convergence step runs without it.
void batch_instance_finished(WriteTx& tx, const LockedStep& instance, bool failed, Expansions& expansions,
                             std::vector<std::int64_t>& satisfied);

}  // namespace tasker::detail::sql
