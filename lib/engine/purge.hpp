#pragma once
// A purge in bounded batches (docs/retention.md): what Client::purge and the
// workers' retention thread share.
#include "tasker/retention.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

/// Check `request` and run it against `store` at `now`: with dry_run, count;
/// otherwise, for each selection, Store::purge_batch until a batch finds
/// nothing (or request.stop says so). Throws InvalidRequestError for a request
/// that is refused (see Client::purge).
PurgeResult run_purge(Store& store, const PurgeRequest& request, TimePoint now);

}  // namespace tasker::detail
