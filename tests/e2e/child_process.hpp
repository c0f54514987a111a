#pragma once
// A child process for tests: started with posix_spawn (TASKER_ENV=test added
// to the environment), its stdout optionally piped back, SIGTERMed and reaped
// on destruction.
#include <chrono>
#include <string>
#include <vector>

namespace e2e {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, bool pipe_stdout);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// The next line the child prints on stdout, waiting up to `timeout`; throws Error when none comes.
  std::string first_line(std::chrono::milliseconds timeout);
  /// SIGTERM and reap; the exit status (0: stopped cleanly; 128+N: killed by signal N).
  int stop();
  [[nodiscard]] int pid() const { return pid_; }

 private:
  int pid_{-1};
  int out_{-1};
  int status_{0};
};

}  // namespace e2e
