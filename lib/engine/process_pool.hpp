#pragma once
// The processes of one persistent command (internal to the engine), and one
// attempt run on one of them: docs/handlers.md, "Persistent handler processes".
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/persistent_process.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/handler.hpp"

namespace tasker::detail {

/// Thread-safe: each handler thread running an attempt takes a process of its
/// own (an idle one, or a new one), so there are never more processes than
/// attempts running at once. Owned by the handlers made from the command
/// (shared); the destructor asks the idle processes to exit (EOF on stdin),
/// waits up to kill_grace, then kills what is left.
class ProcessPool {
 public:
  explicit ProcessPool(CommandSpec spec) : spec_(std::move(spec)) {}
  ~ProcessPool();
  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;

  /// Runs one attempt of `callable`: its result, or throws the
  /// PermanentError / RetryableError that fails it (as make_command_handler says).
  [[nodiscard]] json run(StepContext& ctx, const std::string& callable);

  /// The pause before starting a process after `failures` processes in a row
  /// died or broke the protocol: none after one, then 200 ms doubling up to 10 s.
  [[nodiscard]] static std::chrono::milliseconds restart_pause(int failures);

  /// The pool of every handler made from a spec equal to `spec` (but for its
  /// callable) while one of them lives; a new one otherwise.
  [[nodiscard]] static std::shared_ptr<ProcessPool> shared_for(const CommandSpec& spec);

 private:
  using Process = std::unique_ptr<PersistentProcess>;
  /// An idle process that still looks usable, or a new one that said it is
  /// ready (after the restart pause, if one is due). Throws what fails the attempt.
  Process acquire(StepContext& ctx);
  Process start(StepContext& ctx);
  void release(Process p);
  void failed();  ///< a process died or broke the protocol: the next start may have to wait
  void served();  ///< a process answered: restarts are immediate again
  /// Throws the timeout or cancel failure when the attempt is over, after stopping `p` (if any).
  void check_time(StepContext& ctx, Process& p, const std::string& err);

  CommandSpec spec_;
  std::mutex mutex_;
  std::vector<Process> idle_;
  int failures_{0};  ///< processes in a row that died or broke the protocol
  std::chrono::steady_clock::time_point next_start_{};
};

}  // namespace tasker::detail
