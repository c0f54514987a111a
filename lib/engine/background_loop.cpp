#include "engine/background_loop.hpp"

namespace tasker::detail {

void BackgroundLoop::start(std::function<TimePoint()> pass) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this, pass = std::move(pass)] {
    for (;;) {
      const TimePoint again = pass();
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      if (again <= clock_.now()) continue;
      clock_.wait_until(wake_, lock, again, [&] { return stopping_; });
      if (stopping_) return;
    }
  });
}

void BackgroundLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BackgroundLoop::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

}  // namespace tasker::detail
