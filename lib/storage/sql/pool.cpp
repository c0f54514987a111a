#include "storage/sql/pool.hpp"

namespace tasker::detail::sql {

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, backend_.connect());
  } catch (...) {
    lock.lock();
    --open_;
    available_.notify_one();
    throw;
  }
}

PoolUsage Pool::usage() {
  std::lock_guard lock(mutex_);
  return {size_, open_, open_ - static_cast<int>(idle_.size())};
}

void Pool::discard_idle() {
  std::lock_guard lock(mutex_);
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
  available_.notify_all();
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mutex_);
  if (conn->healthy())
    idle_.push_back(std::move(conn));
  else
    --open_;
  available_.notify_one();
}

}  // namespace tasker::detail::sql
