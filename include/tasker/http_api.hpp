#pragma once
// tasker::testing::HttpApi: the TaskApi, ScheduleApi and DlqApi over tasker's HTTP
// API (docs/api.md), in the `tasker::server` library. The e2e suite drives `tasker serve` with
// it; a host application can use it as its client of a tasker service.
#include <chrono>
#include <memory>
#include <string>

#include "tasker/dlq_api.hpp"
#include "tasker/schedule_api.hpp"
#include "tasker/task_api.hpp"

namespace tasker::testing {

struct HttpApiOptions {
  std::string bearer_token;                   ///< sent as `Authorization: Bearer ...` when set
  std::string ca_cert_path;                   ///< https: trust this CA (a self-signed server's certificate)
  std::chrono::milliseconds timeout{30'000};  ///< connect, read and write, per request
};

/// One connection (kept alive); requests are serialised: use one per thread.
/// Errors map back to tasker's: 400 InvalidRequestError, 404 NotFoundError,
/// 409 DuplicateTaskError (ConflictError when the conflict names no task),
/// 413 LimitError, 503 TransientStorageError, anything else (and an
/// unreachable server) Error with the status and the server's message.
class HttpApi final : public TaskApi, public ScheduleApi, public DlqApi {
 public:
  /// `base_url`: `http://host:port` or `https://host:port`.
  explicit HttpApi(const std::string& base_url, HttpApiOptions options = {});
  ~HttpApi() override;
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  TaskView submit(const TaskRequest& request) override;
  TaskView get_task(const std::string& task_uuid) override;
  TaskSnapshot snapshot(const std::string& task_uuid) override;
  std::vector<StepView> list_steps(const std::string& task_uuid) override;
  StepView get_step(const std::string& task_uuid, const std::string& step_name) override;
  std::vector<Transition> transitions(const std::string& task_uuid,
                                      const std::optional<std::string>& step_name = std::nullopt) override;
  /// `cursor` is the page number as text (the API pages by page and per_page).
  TaskPage list_tasks(const TaskFilter& filter = {}) override;
  TaskView cancel(const std::string& task_uuid, const std::string& reason = "cancelled by operator") override;
  StepView reset_step_for_retry(const std::string& task_uuid, const std::string& step_name,
                                const std::string& reason = "reset by operator") override;
  StepView resolve_step_manually(const std::string& task_uuid, const std::string& step_name,
                                 const std::string& reason = "resolved by operator") override;
  StepView complete_step_manually(const std::string& task_uuid, const std::string& step_name, const json& result,
                                  const std::string& reason = "completed by operator") override;
  StepView rerun_step(const std::string& task_uuid, const std::string& step_name,
                      const std::string& reason = "rerun by operator") override;
  TaskView rerun_task(const std::string& task_uuid, const std::string& reason = "rerun by operator") override;
  SignalStatus signal(const std::string& task_uuid, const std::string& name, const json& payload = json::object(),
                      const std::optional<std::string>& key = std::nullopt) override;

  ScheduleView create_schedule(const ScheduleRequest& request) override;
  ScheduleView get_schedule(const std::string& name) override;
  std::vector<ScheduleView> list_schedules() override;
  ScheduleView update_schedule(const std::string& name, const ScheduleUpdate& update) override;
  ScheduleView pause_schedule(const std::string& name) override;
  ScheduleView resume_schedule(const std::string& name) override;
  void delete_schedule(const std::string& name) override;
  TaskView trigger_schedule(const std::string& name) override;

  std::vector<DlqEntry> list_dlq(const DlqFilter& filter) override;
  DlqEntry get_dlq_entry(const std::string& task_uuid) override;
  DlqEntry update_dlq_entry(const std::string& dlq_entry_uuid, const DlqUpdate& update) override;
  std::vector<DlqStats> dlq_stats() override;
  std::vector<DlqQueueEntry> dlq_investigation_queue(int limit) override;
  std::vector<StalenessEntry> staleness(int limit) override;

  /// A raw request, for routes TaskApi does not cover: the status and the parsed body (null when empty).
  struct Response {
    int status{0};
    json body;
  };
  Response request(const std::string& method, const std::string& path, const json* body = nullptr);

 private:
  json call(const std::string& method, const std::string& path, const json* body = nullptr);
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tasker::testing
