#pragma once
// The operations on tasks a test (or a host application) performs, whatever
// carries them: in-process through a Client (ClientApi), or over HTTP through
// `tasker serve` (HttpApi, tasker/http_api.hpp). Both throw the same errors,
// so code written against TaskApi runs on either surface.
#include <optional>
#include <string>
#include <vector>

#include "tasker/client.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker::testing {

class TaskApi {
 public:
  virtual ~TaskApi() = default;
  /// Throws as Client::submit does (NotFoundError, InvalidRequestError, DuplicateTaskError).
  virtual TaskView submit(const TaskRequest& request) = 0;
  /// Throws InvalidRequestError for a malformed uuid, NotFoundError for an unknown one.
  [[nodiscard]] virtual TaskView get_task(const std::string& task_uuid) = 0;
  /// The task and its steps as of one moment.
  [[nodiscard]] virtual TaskSnapshot snapshot(const std::string& task_uuid) = 0;
  [[nodiscard]] virtual std::vector<StepView> list_steps(const std::string& task_uuid) = 0;
  [[nodiscard]] virtual StepView get_step(const std::string& task_uuid, const std::string& step_name) = 0;
  [[nodiscard]] virtual std::vector<Transition> transitions(
      const std::string& task_uuid, const std::optional<std::string>& step_name = std::nullopt) = 0;
  /// Newest first; follow next_cursor for the next page.
  [[nodiscard]] virtual TaskPage list_tasks(const TaskFilter& filter = {}) = 0;
  virtual TaskView cancel(const std::string& task_uuid, const std::string& reason = "cancelled by operator") = 0;
  virtual StepView reset_step_for_retry(const std::string& task_uuid, const std::string& step_name,
                                        const std::string& reason = "reset by operator") = 0;
  virtual StepView resolve_step_manually(const std::string& task_uuid, const std::string& step_name,
                                         const std::string& reason = "resolved by operator") = 0;
  virtual StepView complete_step_manually(const std::string& task_uuid, const std::string& step_name,
                                          const json& result, const std::string& reason = "completed by operator") = 0;
  /// Throws as Client::rerun_step does. Not pure, so that a TaskApi of your own
  /// keeps compiling: the default throws InvalidRequestError.
  virtual StepView rerun_step(const std::string& task_uuid, const std::string& step_name,
                              const std::string& reason = "rerun by operator") {
    (void)reason;
    throw InvalidRequestError("this TaskApi cannot rerun step `" + step_name + "` of task " + task_uuid +
                              "; use ClientApi or HttpApi");
  }
  /// Throws as Client::rerun_task does. Not pure: the default throws InvalidRequestError.
  virtual TaskView rerun_task(const std::string& task_uuid, const std::string& reason = "rerun by operator") {
    (void)reason;
    throw InvalidRequestError("this TaskApi cannot rerun task " + task_uuid + "; use ClientApi or HttpApi");
  }
  /// Throws as Client::signal does.
  virtual SignalStatus signal(const std::string& task_uuid, const std::string& name,
                              const json& payload = json::object(),
                              const std::optional<std::string>& key = std::nullopt) = 0;
};

/// TaskApi over a Client in this process.
class ClientApi final : public TaskApi {
 public:
  explicit ClientApi(Client& client) : client_(client) {}
  TaskView submit(const TaskRequest& request) override { return client_.submit(request); }
  TaskView get_task(const std::string& task_uuid) override { return client_.get_task(task_uuid); }
  TaskSnapshot snapshot(const std::string& task_uuid) override { return client_.snapshot(task_uuid); }
  std::vector<StepView> list_steps(const std::string& task_uuid) override { return client_.list_steps(task_uuid); }
  StepView get_step(const std::string& task_uuid, const std::string& step_name) override {
    return client_.get_step(task_uuid, step_name);
  }
  std::vector<Transition> transitions(const std::string& task_uuid,
                                      const std::optional<std::string>& step_name) override {
    return client_.transitions(task_uuid, step_name);
  }
  TaskPage list_tasks(const TaskFilter& filter) override { return client_.list_tasks(filter); }
  TaskView cancel(const std::string& task_uuid, const std::string& reason) override {
    return client_.cancel(task_uuid, reason);
  }
  StepView reset_step_for_retry(const std::string& task_uuid, const std::string& step_name,
                                const std::string& reason) override {
    return client_.reset_step_for_retry(task_uuid, step_name, reason);
  }
  StepView resolve_step_manually(const std::string& task_uuid, const std::string& step_name,
                                 const std::string& reason) override {
    return client_.resolve_step_manually(task_uuid, step_name, reason);
  }
  StepView complete_step_manually(const std::string& task_uuid, const std::string& step_name, const json& result,
                                  const std::string& reason) override {
    return client_.complete_step_manually(task_uuid, step_name, result, reason);
  }
  StepView rerun_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason) override {
    return client_.rerun_step(task_uuid, step_name, reason);
  }
  TaskView rerun_task(const std::string& task_uuid, const std::string& reason) override {
    return client_.rerun_task(task_uuid, reason);
  }
  SignalStatus signal(const std::string& task_uuid, const std::string& name, const json& payload,
                      const std::optional<std::string>& key) override {
    return client_.signal(task_uuid, name, payload, key, "library");
  }

 private:
  Client& client_;
};

}  // namespace tasker::testing
