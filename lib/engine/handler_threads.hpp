#pragma once
// What the worker's handler threads and its coordinator share: jobs one way;
// outcomes and requests (heartbeats, checkpoints, result lookups) the other.
// Handler threads share nothing else with the coordinator, so a slow handler
// never delays recording another step's result, and only the coordinator
// reaches the store.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/job.hpp"
#include "tasker/json.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

using FlightKey = std::pair<std::int64_t, std::int64_t>;  // step id, claim token

/// A handler's checkpoint, waiting for the coordinator to make it durable.
struct CheckpointRequest {
  FlightKey key;
  json checkpoint;
  std::promise<bool> saved;
};

/// A handler's read of another step's result (StepContext::ancestor_result).
struct ResultRequest {
  std::string task_uuid;
  std::string step_name;
  std::promise<std::optional<json>> result;
};

/// What handler threads and the coordinator share. Owned jointly, so a handler
/// thread that outlives stop() (it ignored cancellation) never dangles.
struct Shared {
  std::mutex mutex;
  std::condition_variable wake;  // the coordinator waits here
  std::condition_variable jobs_ready;
  std::deque<Job> jobs;
  std::vector<StepOutcome> outcomes;
  std::vector<FlightKey> heartbeats;  ///< leases handlers asked to renew now
  std::vector<CheckpointRequest> checkpoints;
  std::vector<ResultRequest> lookups;
  bool serving{true};  ///< false once the coordinator has left its loop: requests fail at once
  bool work_signal{false};
  bool stop_requested{false};
  bool closing{false};
  std::size_t exited{0};

  void push_outcome(StepOutcome o);
  void signal_work();
  void request_heartbeat(FlightKey key);
  /// Blocks the handler thread until the coordinator saved it (or could not).
  bool save_checkpoint(FlightKey key, json checkpoint);
  std::optional<json> step_result(std::string task_uuid, std::string step_name);
  [[nodiscard]] bool has_requests() const { return !heartbeats.empty() || !checkpoints.empty() || !lookups.empty(); }
};

/// A handler thread's life: run jobs until the queue closes, then count itself out.
void handler_thread(const std::shared_ptr<Shared>& shared);

}  // namespace tasker::detail
