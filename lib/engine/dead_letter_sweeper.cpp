#include "engine/dead_letter_sweeper.hpp"

#include "base/log.hpp"

namespace tasker::detail {

namespace {
constexpr int kBatch = 50;        ///< entries of each kind one write transaction makes
constexpr int kMostBatches = 20;  ///< per pass; the rest waits for the next one
/// A transaction that failed a task may commit this long after the time it
/// recorded (its clock read): the next pass looks back that far.
constexpr std::chrono::minutes kLateCommit{1};
}  // namespace

DeadLetterSweeper::DeadLetterSweeper(std::shared_ptr<Store> store, const Clock& clock, StalenessThresholds staleness,
                                     bool detect_staleness, std::chrono::milliseconds interval, std::string worker_id)
    : store_(std::move(store)),
      clock_(clock),
      staleness_(staleness),
      detect_staleness_(detect_staleness),
      interval_(interval),
      worker_id_(std::move(worker_id)),
      loop_(clock) {}

void DeadLetterSweeper::start() {
  loop_.start([this] {
    sweep_once();
    return clock_.now() + interval_;
  });
}

DeadLetterResult DeadLetterSweeper::sweep_once() {
  DeadLetterResult total;
  try {
    // One batch at least, also once stopped (the worker's last pass); more only while running.
    for (int i = 0; i < kMostBatches && (i == 0 || !loop_.stopping()); ++i) {
      DeadLetterSweep sweep;
      sweep.staleness = staleness_;
      sweep.detect_staleness = detect_staleness_;
      sweep.errored_since = errored_since_;
      sweep.limit = kBatch;
      const DeadLetterResult r = store_->record_dead_letters(sweep, clock_.now());
      total.errored += r.errored;
      total.stale += r.stale;
      if (r.latest_error) {
        const TimePoint since = *r.latest_error - kLateCommit;
        if (!errored_since_ || since > *errored_since_) errored_since_ = since;
      }
      if (r.errored < static_cast<std::size_t>(kBatch) && r.stale < static_cast<std::size_t>(kBatch)) break;
    }
    if (total.errored + total.stale > 0)
      log().info("worker {}: {} dead-letter entries for tasks in error, {} for stale tasks", worker_id_, total.errored,
                 total.stale);
    warned_ = false;
  } catch (const std::exception& e) {
    if (!warned_)
      log().warn("worker {}: making dead-letter entries failed: {} (trying again every {} ms)", worker_id_, e.what(),
                 interval_.count());
    warned_ = true;
  }
  return total;
}

}  // namespace tasker::detail
