#pragma once
// SIGINT and SIGTERM for the long-running commands (worker, run, watch).
#include <chrono>
#include <optional>

#include <signal.h>

namespace tasker::cli {

/// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread it
/// starts afterwards (construct it before opening the store or starting a
/// worker), so the signals are only received through wait(). The destructor
/// restores the previous mask. Not thread-safe: use from one thread.
class SignalWaiter {
 public:
  SignalWaiter();
  ~SignalWaiter();
  SignalWaiter(const SignalWaiter&) = delete;
  SignalWaiter& operator=(const SignalWaiter&) = delete;

  /// Wait up to `timeout` (forever when nullopt) for SIGINT or SIGTERM.
  /// Returns the signal received, or 0 when the time passed. Once a signal
  /// was received, returns it at once.
  int wait(std::optional<std::chrono::milliseconds> timeout);
  /// The signal received so far, or 0.
  [[nodiscard]] int received() const { return received_; }

 private:
  sigset_t set_{};
  sigset_t previous_{};
  int received_{0};
};

/// "SIGINT" or "SIGTERM".
[[nodiscard]] const char* signal_name(int signal);

}  // namespace tasker::cli
