#include "work_pool.hpp"

namespace tasker::server {

WorkPool::WorkPool(int threads, int queue_limit) : queue_limit_(static_cast<std::size_t>(queue_limit)) {
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkPool::~WorkPool() { stop(); }

bool WorkPool::try_post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    // An idle thread takes the job at once; only the jobs beyond them wait in the queue.
    const std::size_t waiting =
        queue_.size() + 1 > static_cast<std::size_t>(idle_) ? queue_.size() + 1 - static_cast<std::size_t>(idle_) : 0;
    if (stopping_ || waiting > queue_limit_) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void WorkPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkPool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (stopping_) return;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace tasker::server
