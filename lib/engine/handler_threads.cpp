// The worker's handler threads and what they share with the coordinator
// (handler_threads.hpp).
#include "engine/handler_threads.hpp"

namespace tasker::detail {

void Shared::push_outcome(StepOutcome o) {
  {
    std::lock_guard lock(mutex);
    outcomes.push_back(std::move(o));
  }
  wake.notify_one();
}

void Shared::signal_work() {
  {
    std::lock_guard lock(mutex);
    work_signal = true;
  }
  wake.notify_one();
}

void Shared::request_heartbeat(FlightKey key) {
  {
    std::lock_guard lock(mutex);
    heartbeats.push_back(key);
  }
  wake.notify_one();
}

bool Shared::save_checkpoint(FlightKey key, json checkpoint) {
  std::future<bool> saved;
  {
    std::lock_guard lock(mutex);
    if (!serving) return false;
    checkpoints.push_back({key, std::move(checkpoint), {}});
    saved = checkpoints.back().saved.get_future();
  }
  wake.notify_one();
  return saved.get();
}

std::optional<json> Shared::step_result(std::string task_uuid, std::string step_name) {
  std::future<std::optional<json>> result;
  {
    std::lock_guard lock(mutex);
    if (!serving) return std::nullopt;
    lookups.push_back({std::move(task_uuid), std::move(step_name), {}});
    result = lookups.back().result.get_future();
  }
  wake.notify_one();
  return result.get();
}

void handler_thread(const std::shared_ptr<Shared>& shared) {
  for (;;) {
    std::optional<Job> job;
    {
      std::unique_lock lock(shared->mutex);
      shared->jobs_ready.wait(lock, [&] { return !shared->jobs.empty() || shared->closing; });
      if (shared->jobs.empty()) break;
      job = std::move(shared->jobs.front());
      shared->jobs.pop_front();
    }
    shared->push_outcome(job->run());
  }
  std::lock_guard lock(shared->mutex);
  ++shared->exited;
  shared->wake.notify_all();
}

}  // namespace tasker::detail
