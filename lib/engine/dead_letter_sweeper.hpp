#pragma once
// The thread of a worker that makes dead-letter entries (docs/triage.md): every
// interval it records the tasks that ended in error since its last pass and,
// unless turned off, the tasks a step of which has made no progress for longer
// than its state's threshold. Every worker process may run one: the store makes
// one entry per task however many look at once. Owns its thread; start() and
// stop() from one thread; stop() is idempotent.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine/background_loop.hpp"
#include "tasker/clock.hpp"
#include "tasker/dlq.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

class DeadLetterSweeper {
 public:
  DeadLetterSweeper(std::shared_ptr<Store> store, const Clock& clock, StalenessThresholds staleness,
                    bool detect_staleness, std::chrono::milliseconds interval, std::string worker_id);
  ~DeadLetterSweeper() { stop(); }
  DeadLetterSweeper(const DeadLetterSweeper&) = delete;
  DeadLetterSweeper& operator=(const DeadLetterSweeper&) = delete;

  void start();
  void stop() { loop_.stop(); }
  /// One pass at the clock's now (passes of kBatch entries until one makes fewer); logs what it made.
  DeadLetterResult sweep_once();

 private:
  std::shared_ptr<Store> store_;
  const Clock& clock_;
  StalenessThresholds staleness_;
  bool detect_staleness_;
  std::chrono::milliseconds interval_;
  std::string worker_id_;
  /// The newest failure time seen, less a margin for transactions that commit
  /// late: tasks that failed before it have entries already.
  std::optional<TimePoint> errored_since_;
  bool warned_{false};
  BackgroundLoop loop_;
};

}  // namespace tasker::detail
