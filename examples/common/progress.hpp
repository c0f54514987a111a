#pragma once
// Shared by the examples: print a task's lifecycle events as they happen, and
// a summary table of its steps at the end.
#include <tasker/tasker.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace example {

/// Prints one line per lifecycle event of one task, with the time since start.
/// `describe_result` turns a step's result into a short summary.
class ProgressPrinter {
 public:
  ProgressPrinter(tasker::EventBus& bus, std::function<std::string(const std::string& step, const tasker::json&)> describe_result);
  ~ProgressPrinter();
  /// Only events of this task are printed (set it right after submitting).
  void follow(const std::string& task_uuid);

 private:
  void print(const tasker::LifecycleEvent& e);
  tasker::EventBus& bus_;
  tasker::EventBus::SubscriptionId subscription_;
  std::function<std::string(const std::string&, const tasker::json&)> describe_result_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::string task_uuid_;
};

/// step | state | attempts | duration | result summary
void print_step_table(tasker::Client& client, const std::string& task_uuid,
                      const std::function<std::string(const std::string& step, const tasker::json&)>& describe_result);

/// Templates from --templates, else TASKER_TEMPLATE_PATH, else the project's templates/ folder.
std::vector<std::filesystem::path> template_paths(const std::string& given, const tasker::Config& config);

}  // namespace example
