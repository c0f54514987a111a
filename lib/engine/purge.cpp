#include "engine/purge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace tasker::detail {

namespace {

/// The selections a request names at `now`.
std::vector<PurgeSelection> selections(const PurgeRequest& request, TimePoint now) {
  std::vector<PurgeSelection> out;
  if (request.older_than) {
    for (TaskState s : request.states.empty() ? purgeable_states() : request.states)
      out.push_back(PurgeSelection{s, now - *request.older_than, request.namespace_name, {}});
    return out;
  }
  for (PurgeSelection& s : selections_of(request.policy, now)) {
    if (!request.states.empty() &&
        std::find(request.states.begin(), request.states.end(), s.state) == request.states.end())
      continue;
    if (request.namespace_name) {
      if (s.namespace_name && *s.namespace_name != *request.namespace_name) continue;
      const auto& ex = s.excluded_namespaces;
      if (std::find(ex.begin(), ex.end(), *request.namespace_name) != ex.end()) continue;
      s.namespace_name = request.namespace_name;
      s.excluded_namespaces.clear();
    }
    out.push_back(std::move(s));
  }
  return out;
}

/// Sleep request.pause between batches, in slices, so a stop is noticed soon.
void pause(const PurgeRequest& request) {
  constexpr std::chrono::milliseconds kSlice{50};
  for (auto left = request.pause; left.count() > 0; left -= kSlice) {
    if (request.stop && request.stop()) return;
    std::this_thread::sleep_for(std::min(left, kSlice));
  }
}

}  // namespace

PurgeResult run_purge(Store& store, const PurgeRequest& request, TimePoint now) {
  request.validate();
  PurgeResult result;
  result.dry_run = request.dry_run;
  for (const PurgeSelection& selection : selections(request, now)) {
    if (request.dry_run) {
      const std::size_t n = store.count_purgeable(selection);
      result.tasks += n;
      result.by_state[selection.state] += n;
      continue;
    }
    for (;;) {
      if (request.stop && request.stop()) return result;
      const auto started = std::chrono::steady_clock::now();
      const PurgeBatch batch = store.purge_batch(selection, request.batch_size, request.archive);
      const auto took =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
      if (batch.tasks == 0) break;
      result.tasks += batch.tasks;
      result.by_state[selection.state] += batch.tasks;
      ++result.transactions;
      result.longest_transaction = std::max(result.longest_transaction, took);
      pause(request);
    }
  }
  return result;
}

}  // namespace tasker::detail
