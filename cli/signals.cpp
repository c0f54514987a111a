#include "signals.hpp"

#include <pthread.h>

#include <cerrno>
#include <ctime>

namespace tasker::cli {

SignalWaiter::SignalWaiter() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &previous_);
}

SignalWaiter::~SignalWaiter() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

int SignalWaiter::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (received_) return received_;
  int sig = -1;
  if (!timeout) {
    while (sigwait(&set_, &sig) != 0) {
    }
  } else {
    auto ms = timeout->count();
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
    do {
      sig = sigtimedwait(&set_, nullptr, &ts);
    } while (sig < 0 && errno == EINTR);
  }
  if (sig > 0) received_ = sig;
  return received_;
}

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace tasker::cli
