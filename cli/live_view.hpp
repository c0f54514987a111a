#pragma once
// Following a task until it ends: the live view of `watch` and `run`.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tasker/client.hpp"
#include "tasker/task_api.hpp"

namespace tasker::cli {

class SignalWaiter;

enum class FollowMode {
  live,   ///< a terminal: progress bar and step states redrawn in place (ANSI)
  lines,  ///< not a terminal: one line per transition, then a final line
  quiet,  ///< --json: nothing until the end
};

struct FollowOptions {
  FollowMode mode{FollowMode::lines};
  std::chrono::milliseconds interval{250};  ///< how often the task is read
  std::function<void()> on_tick;            ///< called every interval; may throw to stop following
};

struct Followed {
  TaskView task;
  std::vector<StepView> steps;
  bool interrupted{false};  ///< SIGINT or SIGTERM arrived before the task ended
};

/// --interval and --json of the commands that follow a task (watch, run).
struct ViewOptions {
  int interval_ms{250};
  bool json{false};
};
void add_view_options(CLI::App* cmd, ViewOptions& o);

/// Live on a terminal, else lines; quiet with --json.
[[nodiscard]] FollowOptions follow_options(const ViewOptions& o);

/// Show the task until it ends (is_terminal) or a signal arrives. Returns the
/// last state read. Throws what `tasks` throws (unknown task, ...).
Followed follow_task(testing::TaskApi& tasks, const std::string& task_uuid, const FollowOptions& options,
                     SignalWaiter& signals);

/// Follow, then turn the outcome into the command's result: complete or
/// resolved prints nothing more (the view shows it; `json` prints the task and
/// its steps); error or cancelled throws TaskFailedError naming the failed
/// step; an interruption throws InterruptedError with `interrupted_hint`.
void follow_to_outcome(testing::TaskApi& tasks, const std::string& task_uuid, const FollowOptions& options,
                       SignalWaiter& signals, bool json, const std::string& interrupted_hint);

}  // namespace tasker::cli
