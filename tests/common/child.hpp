#pragma once
// Child processes for tests that run several: a program started with its
// stdout (and optionally stdin) piped to the test, read line by line, signalled
// and waited for. Every limit is multiplied by TASKER_TEST_TIMEOUT_SCALE
// (tasker::testing::scaled): waits are limits against hangs.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

using std::chrono::milliseconds;

/// Poll `condition` every 10 ms until it holds; false once `limit` (scaled) passed.
bool eventually(const std::function<bool()>& condition, milliseconds limit);

/// A child process with its stdout (and optionally stdin) piped to the test,
/// and its stderr appended to `stderr_file` when one is given (else the test's).
/// The destructor kills (SIGKILL) and reaps it if it is still running.
class Child {
 public:
  Child(std::string name, const std::vector<std::string>& args, bool pipe_stdin = false,
        const std::filesystem::path& stderr_file = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The next line of its stdout; throws std::runtime_error on timeout or EOF.
  std::string read_line(milliseconds timeout);
  void write_line(const std::string& line);
  void signal(int sig);
  /// Wait for it to exit; returns the raw wait status, or nullopt on timeout.
  std::optional<int> wait(milliseconds timeout);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
  pid_t pid_{-1};
  int out_{-1};
  int in_{-1};
  std::string buffer_;
  bool reaped_{false};
};

}  // namespace test_support
