#pragma once
// A bounded pool of connections to one backend. Thread-safe: acquire() blocks
// while every connection is in use; a Lease hands one connection to one thread
// and gives it back on destruction (or drops it, when it broke).
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "storage/sql/connection.hpp"
#include "tasker/store.hpp"

namespace tasker::detail::sql {

class Pool {
 public:
  Pool(Backend& backend, int size) : backend_(backend), size_(std::max(size, 1)) {}

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  /// A connection, opened when none is idle and the pool is not full.
  Lease acquire();
  /// Connections the pool may open, has open, and has handed out now.
  [[nodiscard]] PoolUsage usage();
  /// After a connection broke, the idle ones most likely broke with it (a server restart): drop them.
  void discard_idle();

 private:
  void give_back(std::unique_ptr<Connection> conn);

  Backend& backend_;
  int size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_{0};
};

}  // namespace tasker::detail::sql
