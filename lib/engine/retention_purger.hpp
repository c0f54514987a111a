#pragma once
// The thread of a worker that applies the retention policy (docs/retention.md):
// every interval it purges the finished tasks the policy no longer keeps, in
// bounded batches (PurgeRequest::batch_size tasks a transaction), and logs
// what it removed and its longest transaction. Every worker process may run
// one: a batch locks its task rows with SKIP LOCKED (PostgreSQL), so workers
// share the work and never wait on each other. Owns its thread; start() and
// stop() from one thread; stop() is idempotent and ends a purge between batches.
#include <chrono>
#include <memory>
#include <string>

#include "engine/background_loop.hpp"
#include "tasker/clock.hpp"
#include "tasker/retention.hpp"
#include "tasker/store.hpp"

namespace tasker::detail {

class RetentionPurger {
 public:
  RetentionPurger(std::shared_ptr<Store> store, const Clock& clock, RetentionPolicy policy,
                  std::chrono::milliseconds interval, int batch_size, std::chrono::milliseconds pause,
                  std::string worker_id);
  ~RetentionPurger() { stop(); }
  RetentionPurger(const RetentionPurger&) = delete;
  RetentionPurger& operator=(const RetentionPurger&) = delete;

  void start();
  void stop() { loop_.stop(); }
  /// One pass at the clock's now.
  PurgeResult purge_once();

 private:
  std::shared_ptr<Store> store_;
  const Clock& clock_;
  RetentionPolicy policy_;
  std::chrono::milliseconds interval_;
  int batch_size_;
  std::chrono::milliseconds pause_;
  std::string worker_id_;
  bool warned_{false};
  BackgroundLoop loop_;
};

}  // namespace tasker::detail
