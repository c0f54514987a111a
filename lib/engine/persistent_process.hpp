#pragma once
// One process of a persistent command (internal to the engine): started under
// a supervisor like any command (engine/supervised_process.hpp), so its process
// group dies with the worker; its stdin takes the worker's lines, its stdout is
// read as lines, and its stderr is kept for the attempt it belongs to.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/pipes.hpp"
#include "engine/supervised_process.hpp"
#include "tasker/command_handler.hpp"

namespace tasker::detail {

/// Not thread-safe: one attempt (one handler thread) uses it at a time, and
/// the pool hands it from one to the next. The destructor kills the group.
class PersistentProcess {
 public:
  /// Starts `spec`'s command with TASKER_PERSISTENT_PROTOCOL set; failure()
  /// says when it could not start. Its first line should be `ready`.
  explicit PersistentProcess(const CommandSpec& spec);

  [[nodiscard]] const std::optional<StartFailure>& failure() const { return process_.failure(); }
  [[nodiscard]] std::int64_t next_attempt_id() { return ++last_id_; }
  /// Attempts this process has been sent, including the one running.
  [[nodiscard]] std::int64_t attempts() const { return last_id_; }

  /// Queue `line` for stdin; pump() writes it.
  void send(std::string_view line) { input_.add(line); }
  /// Moves bytes for at most `wait`: writes queued input, reads stdout into
  /// lines and stderr into the capture. Returns false once stdout is closed
  /// (the process ended, or closed it, which ends the protocol too).
  bool pump(std::chrono::milliseconds wait);
  /// The next complete stdout line without its newline, if one arrived.
  [[nodiscard]] std::optional<std::string> next_line();
  /// Whether stdout holds bytes beyond the lines taken (a second answer).
  [[nodiscard]] bool has_unread_output() const { return out_pos_ < out_.size(); }
  /// A line longer than CommandSpec::max_output_bytes, or that much stderr
  /// since take_stderr(): the process must be stopped.
  [[nodiscard]] bool too_much_output() const { return too_much_; }
  /// What the process wrote to stderr since the last call, read to the end of what the pipe holds now.
  [[nodiscard]] std::string take_stderr();
  /// Between attempts: whether the process still looks usable (its stdout is
  /// open and silent). Discards what it wrote on stderr while idle.
  [[nodiscard]] bool usable_when_idle();

  /// Close its stdin: a process that follows the protocol exits.
  void close_input() { stdin_.close_write(); }
  /// Signal its whole group.
  void signal(int sig) const { process_.signal_group(sig); }
  /// SIGTERM, then SIGKILL after `grace` unless stdout closed first; then reaps it.
  void terminate(std::chrono::milliseconds grace);
  /// Waits for it to end (its wait status), then kills what it left in its group.
  int wait() { return process_.wait(); }

 private:
  void read_available(Pipe& pipe, bool is_out);

  std::size_t max_bytes_;
  Pipe stdin_, stdout_, stderr_;
  SupervisedProcess process_;
  Outbox input_;
  std::string out_;            ///< stdout bytes not yet taken as lines
  std::size_t out_pos_{0};     ///< where the next line starts in out_
  std::size_t out_scan_{0};    ///< where to look for the next newline
  std::size_t line_start_{0};  ///< where the line being received starts (after the last newline read)
  std::string err_;
  bool too_much_{false};
  std::int64_t last_id_{0};
};

}  // namespace tasker::detail
