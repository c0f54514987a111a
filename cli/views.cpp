#include "views.hpp"

#include <fmt/format.h>

#include <cmath>

#include "output.hpp"

namespace tasker::cli {

std::string template_of(const TaskView& task) {
  return fmt::format("{}/{}@{}", task.namespace_name, task.name, task.version);
}

std::string progress_bar(double percentage, int width) {
  double clamped = std::clamp(percentage, 0.0, 100.0);
  int filled = static_cast<int>(std::lround(clamped * width / 100.0));
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.') + "]";
}

std::vector<std::string> task_summary(const TaskView& t) {
  const StepCounts& c = t.counts;
  std::vector<std::string> lines{
      fmt::format("task       {}", t.uuid),
      fmt::format("template   {}", template_of(t)),
      fmt::format("state      {} (execution: {}, health: {})", to_string(t.state), to_string(t.execution_status),
                  to_string(t.health_status)),
      fmt::format("progress   {} {:.0f}%  {}/{} steps complete", progress_bar(t.completion_percentage, 20),
                  t.completion_percentage, c.completed, c.total),
      fmt::format("steps      {} pending, {} ready, {} in progress, {} waiting, {} waiting for retry, {} "
                  "complete, {} failed, "
                  "{} cancelled",
                  c.pending, c.ready, c.in_progress, c.waiting, c.waiting_for_retry, c.completed, c.failed,
                  c.cancelled),
      fmt::format("created    {}", format_time(t.created_at)),
      fmt::format("updated    {}", format_time(t.updated_at)),
  };
  if (t.run_at) lines.push_back(fmt::format("run at     {}", format_time(*t.run_at)));
  if (t.completed_at) lines.push_back(fmt::format("completed  {}", format_time(*t.completed_at)));
  if (!t.bypassed_steps.empty()) lines.push_back(fmt::format("bypassed   {}", fmt::join(t.bypassed_steps, ", ")));
  return lines;
}

std::string attempts_of(const StepView& s) { return fmt::format("{}/{}", s.attempts, s.max_attempts); }

std::string duration_of(const StepView& s, TimePoint now) {
  if (!s.last_attempted_at) return "-";
  if (s.completed_at && *s.completed_at >= *s.last_attempted_at)
    return format_duration(*s.completed_at - *s.last_attempted_at);
  if (s.state == StepState::in_progress) return format_duration(now - *s.last_attempted_at);
  return "-";
}

std::vector<std::string> step_table(const std::vector<StepView>& steps, TimePoint now, std::size_t error_width) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(steps.size());
  for (const auto& s : steps)
    rows.push_back({s.type == StepType::standard ? s.name : fmt::format("{} ({})", s.name, to_string(s.type)),
                    std::string(to_string(s.state)), attempts_of(s), duration_of(s, now),
                    s.error ? shorten(s.error->message, error_width) : ""});
  return format_table({"STEP", "STATE", "ATTEMPTS", "DURATION", "LAST ERROR"}, rows);
}

std::vector<std::string> transition_cells(const Transition& t) {
  return {format_time(t.at),
          t.step_name.empty() ? "(task)" : t.step_name,
          fmt::format("{} -> {}", t.from_state.empty() ? "(new)" : t.from_state, t.to_state),
          t.attempt > 0 ? std::to_string(t.attempt) : "",
          t.worker_id,
          t.reason};
}

std::string transition_line(const Transition& t) {
  auto cells = transition_cells(t);
  std::string line = fmt::format("{}  {}  {}", cells[0], cells[1], cells[2]);
  if (!cells[3].empty()) line += "  attempt " + cells[3];
  if (!cells[5].empty()) line += "  (" + shorten(cells[5], 200) + ")";
  return line;
}

json task_with_steps(const TaskView& task, const std::vector<StepView>& steps) {
  json out = to_json(task);
  out["steps"] = json::array();
  for (const auto& s : steps) out["steps"].push_back(to_json(s));
  return out;
}

std::string failure_message(const TaskView& task, const std::vector<StepView>& steps) {
  if (task.state == TaskState::cancelled)
    return fmt::format("task {} ({}) was cancelled; its history: `tasker audit {}`", task.uuid, template_of(task),
                       task.uuid);
  for (const auto& s : steps) {
    if (s.state != StepState::error) continue;
    std::string why = s.error ? s.error->message : "no error recorded";
    return fmt::format(
        "task {} ({}) failed: step `{}` failed after {} attempt{}: {}; inspect it with `tasker "
        "status {}`, retry it with `tasker step reset {} {}`",
        task.uuid, template_of(task), s.name, s.attempts, s.attempts == 1 ? "" : "s", why, task.uuid, task.uuid,
        s.name);
  }
  return fmt::format("task {} ({}) ended {}; inspect it with `tasker status {}`", task.uuid, template_of(task),
                     to_string(task.state), task.uuid);
}

}  // namespace tasker::cli
