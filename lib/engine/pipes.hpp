#pragma once
// What running a command needs around its pipes (internal to the engine): a
// close-on-exec pipe, a guard that keeps SIGPIPE from killing the worker while
// it writes to a command that may have exited, bytes written as a pipe takes
// them, and the environment a command is started with.
#include <signal.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::detail {

/// A close-on-exec pipe; each end is closed at most once, and by the destructor.
struct Pipe {
  int read{-1}, write{-1};
  Pipe();  ///< throws tasker::Error when the system has no descriptors left
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_read();
  void close_write();
};

/// Blocks SIGPIPE in this thread while it lives: a command that exits without
/// reading its input must make write() fail with EPIPE, not kill the worker.
/// A library must not change the process-wide disposition, so only this
/// thread's mask changes, and a SIGPIPE left pending is consumed before restoring it.
class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{}, previous_{};
};

/// Bytes for a non-blocking pipe to a command, written as it can take them.
struct Outbox {
  std::string pending;
  std::size_t sent{0};  ///< bytes of `pending` already written
  [[nodiscard]] bool empty() const { return sent == pending.size(); }
  void add(std::string_view bytes);
  /// Writes what the pipe takes now; when the command stopped reading (EPIPE
  /// or any other error) the write end is closed and the rest dropped.
  void flush(Pipe& pipe);
};

/// This process's environment with `extra` added ("NAME=value" each), for a
/// command about to start: built before fork, since nothing may allocate after.
[[nodiscard]] std::vector<std::string> command_environment(const std::map<std::string, std::string>& extra);

}  // namespace tasker::detail
