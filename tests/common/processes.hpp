#pragma once
// Processes as /proc shows them, for tests that check that something died:
// a pid plus its start time (so a reused pid is not mistaken for it), and every
// running process with its parent, group and command line. A zombie counts as
// dead: it runs nothing.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace test_support {

struct ProcessRef {
  pid_t pid{0};
  unsigned long long start_time{0};  ///< clock ticks after boot (/proc/PID/stat, field 22)
};

/// The process `pid`, if it runs now.
[[nodiscard]] std::optional<ProcessRef> find_process(pid_t pid);
/// Whether that very process still runs.
[[nodiscard]] bool alive(const ProcessRef& process);

struct ProcessInfo {
  pid_t pid{0}, parent{0}, group{0};
  std::string command_line;  ///< arguments joined by spaces
};
/// Every running process (zombies left out) that can be read.
[[nodiscard]] std::vector<ProcessInfo> running_processes();

}  // namespace test_support
