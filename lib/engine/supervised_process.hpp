#pragma once
// A command run under a supervisor process whose process group dies with the
// worker (internal to the engine; supervised_process.cpp says how and why).
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tasker::detail {

/// Why a command did not start.
struct StartFailure {
  enum class Stage { fork, working_directory, exec };
  Stage stage{Stage::exec};
  int error{0};  ///< errno of the call that failed
};

/// One run of a command: a supervisor forked for it leads a new process group,
/// runs the command in that group, and kills the whole group with SIGKILL as
/// soon as the process that started it is gone, however it died. The
/// supervisor's exit status is the command's (a terminating signal is raised
/// again), so wait() returns what waiting for the command itself would.
class SupervisedProcess {
 public:
  static constexpr std::size_t kMaxPassed = 4;
  /// The command's stdin, stdout and stderr in the caller (they stay open
  /// there), and up to kMaxPassed more descriptors the command gets as 3, 4, ...
  struct Io {
    int in{-1}, out{-1}, err{-1};
    std::vector<int> passed{};
  };

  /// Starts `argv` (argv[0] is looked up on the caller's PATH unless it
  /// contains a '/') with exactly the environment `env` ("NAME=value"), in
  /// `working_directory` (empty: the caller's). Returns once the command was
  /// executed or could not be (then failure() says why and nothing runs).
  SupervisedProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::filesystem::path& working_directory, const Io& io);
  /// Kills the group and reaps the supervisor unless wait() did.
  ~SupervisedProcess();
  SupervisedProcess(const SupervisedProcess&) = delete;
  SupervisedProcess& operator=(const SupervisedProcess&) = delete;

  [[nodiscard]] const std::optional<StartFailure>& failure() const { return failure_; }
  /// Sends `sig` to every process of the group; the supervisor ignores all but
  /// SIGKILL, so it outlives a SIGTERM to report how the command ended.
  void signal_group(int sig) const;
  /// Waits for the command to end (its wait status), then kills with SIGKILL
  /// whatever it left running in its group.
  int wait();

 private:
  pid_t supervisor_{-1};
  int lifeline_{-1};  ///< the only write end: the supervisor sees EOF when this process is gone
  bool reaped_{false};
  std::optional<StartFailure> failure_;
};

/// Where exec looks for `program`, in order: itself when it names a path
/// (has a `/`), else each PATH directory (default /usr/local/bin:/usr/bin:/bin,
/// an empty entry meaning the current one).
[[nodiscard]] std::vector<std::string> exec_candidates(const std::string& program);

}  // namespace tasker::detail
