#include "engine/retention_purger.hpp"

#include <fmt/format.h>

#include "base/log.hpp"
#include "engine/purge.hpp"

namespace tasker::detail {

RetentionPurger::RetentionPurger(std::shared_ptr<Store> store, const Clock& clock, RetentionPolicy policy,
                                 std::chrono::milliseconds interval, int batch_size, std::chrono::milliseconds pause,
                                 std::string worker_id)
    : store_(std::move(store)),
      clock_(clock),
      policy_(std::move(policy)),
      interval_(interval),
      batch_size_(batch_size),
      pause_(pause),
      worker_id_(std::move(worker_id)),
      loop_(clock) {}

void RetentionPurger::start() {
  loop_.start([this] {
    purge_once();
    return clock_.now() + interval_;
  });
}

PurgeResult RetentionPurger::purge_once() {
  PurgeRequest request;
  request.policy = policy_;
  request.batch_size = batch_size_;
  request.pause = pause_;
  request.stop = [this] { return loop_.stopping(); };
  try {
    PurgeResult result = run_purge(*store_, request, clock_.now());
    if (result.tasks > 0) {
      log().info("worker {}: retention purged {} finished tasks ({}) in {} transactions; the longest took {:.1f} ms",
                 worker_id_, result.tasks, describe_by_state(result), result.transactions,
                 static_cast<double>(result.longest_transaction.count()) / 1000.0);
    }
    warned_ = false;
    return result;
  } catch (const std::exception& e) {
    if (!warned_)
      log().warn("worker {}: purging finished tasks (retention) failed: {} (trying again every {} ms)", worker_id_,
                 e.what(), interval_.count());
    warned_ = true;
    return {};
  }
}

}  // namespace tasker::detail
