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
  ProgressPrinter(tasker::EventBus& bus,
                  std::function<std::string(const std::string& step, const tasker::json&)> describe_result);
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

using Describe = std::function<std::string(const std::string& step, const tasker::json& result)>;

/// What every example sets up: configuration, templates (from --templates,
/// else TASKER_TEMPLATE_PATH, else the project's templates/), the store, an
/// empty handler registry, an event bus and a client.
struct Session {
  Session(const std::string& db, const std::string& templates_dir);

  tasker::Config config;
  std::string db;
  std::shared_ptr<tasker::TemplateSet> templates;
  std::shared_ptr<tasker::Store> store;
  std::shared_ptr<tasker::HandlerRegistry> handlers = std::make_shared<tasker::HandlerRegistry>();
  std::shared_ptr<tasker::EventBus> bus = std::make_shared<tasker::EventBus>();
  std::unique_ptr<tasker::Client> client;

  /// Submit `request`, run a worker until nothing is left to do while printing
  /// each step as it happens, then print the step table. Returns the task.
  tasker::TaskView run(const tasker::TaskRequest& request, const tasker::WorkerOptions& options,
                       const Describe& describe);
};

/// Runs `body`, turning tasker's errors into a message and an exit code.
int guarded_main(const char* program, const std::function<int()>& body);

}  // namespace example
