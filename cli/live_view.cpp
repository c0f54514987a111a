#include "live_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "exit_codes.hpp"
#include "output.hpp"
#include "signals.hpp"
#include "views.hpp"

namespace tasker::cli {

namespace {

constexpr const char* kReset = "\x1b[0m";

const char* colour_of(StepState s) {
  switch (s) {
    case StepState::complete:
    case StepState::resolved_manually: return "\x1b[32m";
    case StepState::error: return "\x1b[31m";
    case StepState::in_progress: return "\x1b[33m";
    case StepState::waiting_for_retry: return "\x1b[35m";
    case StepState::waiting: return "\x1b[36m";
    case StepState::cancelled: return "\x1b[2m";
    case StepState::pending:
    case StepState::enqueued: return "";
  }
  return "";
}

// Which steps matter most when they do not all fit on the screen.
int urgency(StepState s) {
  switch (s) {
    case StepState::in_progress: return 0;
    case StepState::error: return 1;
    case StepState::waiting_for_retry: return 2;
    case StepState::waiting: return 3;
    case StepState::enqueued: return 4;
    case StepState::cancelled: return 5;
    case StepState::pending: return 6;
    case StepState::complete:
    case StepState::resolved_manually: return 7;
  }
  return 7;
}

/// Redraws a block of lines in place; hides the cursor while it owns the screen.
class Screen {
 public:
  Screen() { std::fputs("\x1b[?25l", stdout); }
  ~Screen() {
    std::fputs("\x1b[?25h", stdout);
    std::fflush(stdout);
  }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  void draw(const std::vector<std::string>& lines) {
    if (lines == previous_) return;
    std::string out;
    if (!previous_.empty()) out += fmt::format("\x1b[{}F\x1b[J", previous_.size());
    for (const auto& l : lines) out += l + "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    previous_ = lines;
  }

 private:
  std::vector<std::string> previous_;
};

std::vector<std::string> frame(const TaskView& task, const std::vector<StepView>& steps, TimePoint now,
                               TerminalSize size) {
  const std::size_t width = static_cast<std::size_t>(std::max(size.columns - 1, 20));
  const StepCounts& c = task.counts;
  std::vector<std::string> lines{
      shorten(fmt::format("{}  {}  {}", template_of(task), task.uuid, to_string(task.state)), width),
      shorten(fmt::format("{} {:3.0f}%  {}/{} complete, {} running, {} waiting, {} waiting for retry, {} failed  ({})",
                          progress_bar(task.completion_percentage, 30), task.completion_percentage, c.completed,
                          c.total, c.in_progress, c.waiting, c.waiting_for_retry, c.failed,
                          format_duration((task.completed_at ? *task.completed_at : now) - task.created_at)),
              width)};
  // The steps that fit, the most urgent first, shown in template order.
  const std::size_t room = static_cast<std::size_t>(std::max(size.rows - 5, 3));
  std::vector<std::size_t> shown(steps.size());
  std::iota(shown.begin(), shown.end(), 0);
  if (steps.size() > room) {
    std::stable_sort(shown.begin(), shown.end(),
                     [&](auto a, auto b) { return urgency(steps[a].state) < urgency(steps[b].state); });
    shown.resize(room - 1);
    std::sort(shown.begin(), shown.end());
  }
  std::vector<StepView> visible;
  visible.reserve(shown.size());
  for (auto i : shown) visible.push_back(steps[i]);
  auto table = step_table(visible, now, 60);
  lines.push_back(shorten(table[0], width));
  for (std::size_t i = 0; i < visible.size(); ++i) {
    const char* colour = colour_of(visible[i].state);
    std::string row = shorten(table[i + 1], width);
    lines.push_back(*colour ? colour + row + kReset : row);
  }
  if (visible.size() < steps.size())
    lines.push_back(fmt::format("... and {} more steps", steps.size() - visible.size()));
  return lines;
}

}  // namespace

void add_view_options(CLI::App* cmd, ViewOptions& o) {
  cmd->add_option("--interval", o.interval_ms, "Milliseconds between reads of the task")->check(CLI::Range(20, 60'000));
  cmd->add_flag("--json", o.json, "No view: when the task ends, print it and its steps as JSON");
}

FollowOptions follow_options(const ViewOptions& o) {
  FollowOptions f;
  f.mode = o.json ? FollowMode::quiet : stdout_is_terminal() ? FollowMode::live : FollowMode::lines;
  f.interval = std::chrono::milliseconds{o.interval_ms};
  return f;
}

Followed follow_task(testing::TaskApi& tasks, const std::string& task_uuid, const FollowOptions& options,
                     SignalWaiter& signals) {
  std::optional<Screen> screen;
  if (options.mode == FollowMode::live) screen.emplace();
  std::size_t printed = 0;  // transitions already printed (lines mode)
  auto print_new_transitions = [&] {
    auto transitions = tasks.transitions(task_uuid);
    for (; printed < transitions.size(); ++printed) fmt::print("{}\n", transition_line(transitions[printed]));
    std::fflush(stdout);
  };
  Followed f;
  while (true) {
    if (options.on_tick) options.on_tick();
    if (options.mode == FollowMode::lines) print_new_transitions();
    TaskSnapshot snap = tasks.snapshot(task_uuid);
    f.task = std::move(snap.task);
    f.steps = std::move(snap.steps);
    const bool ended = is_terminal(f.task.state);
    if (screen) screen->draw(frame(f.task, f.steps, SystemClock::instance().now(), terminal_size()));
    if (ended) break;
    if (signals.wait(options.interval)) {
      f.interrupted = true;
      break;
    }
  }
  if (options.mode == FollowMode::lines) {
    print_new_transitions();  // those committed with the task's last change
    if (!f.interrupted)
      fmt::print("task {} {}: {}/{} steps complete ({:.0f}%)\n", f.task.uuid, to_string(f.task.state),
                 f.task.counts.completed, f.task.counts.total, f.task.completion_percentage);
    std::fflush(stdout);
  }
  return f;
}

void follow_to_outcome(testing::TaskApi& tasks, const std::string& task_uuid, const FollowOptions& options,
                       SignalWaiter& signals, bool json, const std::string& interrupted_hint) {
  Followed f = follow_task(tasks, task_uuid, options, signals);
  if (json) print_json(task_with_steps(f.task, f.steps));
  if (f.interrupted)
    throw InterruptedError(fmt::format("interrupted by {}: task {} is {}; {}", signal_name(signals.received()),
                                       f.task.uuid, to_string(f.task.state), interrupted_hint));
  if (f.task.state != TaskState::complete && f.task.state != TaskState::resolved_manually)
    throw TaskFailedError(failure_message(f.task, f.steps));
}

}  // namespace tasker::cli
