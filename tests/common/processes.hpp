#pragma once
// Processes as /proc shows them, for tests that check that something died:
// a pid plus its start time (so a reused pid is not mistaken for it), and the
// live members of a process group. A zombie counts as dead: it runs nothing.
#include <sys/types.h>

#include <optional>
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
/// The pids of the running processes whose process group is `group`.
[[nodiscard]] std::vector<pid_t> group_members(pid_t group);

}  // namespace test_support
