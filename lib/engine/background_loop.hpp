#pragma once
// A worker's background thread that runs a pass again and again (the schedule
// firer, the retention purger): each pass says when the next one is due, and
// the thread sleeps on the worker's Clock until then or until stop(). start()
// and stop() from one thread; stop() is idempotent and waits for the pass in
// progress, which may ask stopping() to end early.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "tasker/clock.hpp"

namespace tasker::detail {

class BackgroundLoop {
 public:
  explicit BackgroundLoop(const Clock& clock) : clock_(clock) {}
  ~BackgroundLoop() { stop(); }
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;

  /// Run `pass` until stop(); it returns when to run again (now or earlier: at once).
  void start(std::function<TimePoint()> pass);
  void stop();
  [[nodiscard]] bool stopping();

 private:
  const Clock& clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_{false};
  std::thread thread_;
};

}  // namespace tasker::detail
