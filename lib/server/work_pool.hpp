#pragma once
// A fixed set of threads that run route handlers (internal), which block on
// the database, away from the thread doing the network I/O, with a bounded
// queue in front: when it is full the caller answers 503 instead of letting
// requests pile up. Thread-safe.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tasker::server {

class WorkPool {
 public:
  WorkPool(int threads, int queue_limit);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  /// Queues `job` unless the queue holds queue_limit jobs already (every
  /// thread busy) or the pool is stopping; false then, and `job` is not run.
  bool try_post(std::function<void()> job);
  /// Drops the jobs not started and waits for those running. Idempotent.
  void stop();

 private:
  void run();

  std::size_t queue_limit_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  int idle_{0};
  bool stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace tasker::server
