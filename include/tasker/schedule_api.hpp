#pragma once
// The operations on cron schedules (docs/schedules.md), whatever carries them:
// in-process through a Client (ClientScheduleApi), or over HTTP through
// `tasker serve` (HttpApi, tasker/http_api.hpp). Both throw the same errors,
// so the CLI's `tasker schedule` is written once for a database and a service.
#include <string>
#include <vector>

#include "tasker/client.hpp"
#include "tasker/schedule.hpp"
#include "tasker/task.hpp"

namespace tasker::testing {

class ScheduleApi {
 public:
  virtual ~ScheduleApi() = default;
  /// Throws as Client::create_schedule does (NotFoundError for the template,
  /// InvalidRequestError for the cron, zone or context, ConflictError for a name taken).
  virtual ScheduleView create_schedule(const ScheduleRequest& request) = 0;
  /// Throws NotFoundError for an unknown name, as every call naming a schedule does.
  [[nodiscard]] virtual ScheduleView get_schedule(const std::string& name) = 0;
  [[nodiscard]] virtual std::vector<ScheduleView> list_schedules() = 0;
  virtual ScheduleView update_schedule(const std::string& name, const ScheduleUpdate& update) = 0;
  virtual ScheduleView pause_schedule(const std::string& name) = 0;
  virtual ScheduleView resume_schedule(const std::string& name) = 0;
  virtual void delete_schedule(const std::string& name) = 0;
  virtual TaskView trigger_schedule(const std::string& name) = 0;
};

/// ScheduleApi over a Client in this process.
class ClientScheduleApi final : public ScheduleApi {
 public:
  explicit ClientScheduleApi(Client& client) : client_(client) {}
  ScheduleView create_schedule(const ScheduleRequest& request) override { return client_.create_schedule(request); }
  ScheduleView get_schedule(const std::string& name) override { return client_.get_schedule(name); }
  std::vector<ScheduleView> list_schedules() override { return client_.list_schedules(); }
  ScheduleView update_schedule(const std::string& name, const ScheduleUpdate& update) override {
    return client_.update_schedule(name, update);
  }
  ScheduleView pause_schedule(const std::string& name) override { return client_.pause_schedule(name); }
  ScheduleView resume_schedule(const std::string& name) override { return client_.resume_schedule(name); }
  void delete_schedule(const std::string& name) override { client_.delete_schedule(name); }
  TaskView trigger_schedule(const std::string& name) override { return client_.trigger_schedule(name); }

 private:
  Client& client_;
};

}  // namespace tasker::testing
