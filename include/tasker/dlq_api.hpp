#pragma once
// The dead-letter operations (docs/triage.md), whatever carries them:
// in-process through a Client (ClientDlqApi), or over HTTP through `tasker
// serve` (HttpApi, tasker/http_api.hpp). Both throw the same errors, so the
// CLI's `tasker dlq` is written once for a database and a service.
#include <string>
#include <vector>

#include "tasker/client.hpp"
#include "tasker/dlq.hpp"

namespace tasker::testing {

class DlqApi {
 public:
  virtual ~DlqApi() = default;
  /// Throws as Client::list_dlq does.
  [[nodiscard]] virtual std::vector<DlqEntry> list_dlq(const DlqFilter& filter) = 0;
  /// Throws NotFoundError when the task has no entry.
  [[nodiscard]] virtual DlqEntry get_dlq_entry(const std::string& task_uuid) = 0;
  /// Throws as Client::update_dlq_entry does.
  virtual DlqEntry update_dlq_entry(const std::string& dlq_entry_uuid, const DlqUpdate& update) = 0;
  [[nodiscard]] virtual std::vector<DlqStats> dlq_stats() = 0;
  [[nodiscard]] virtual std::vector<DlqQueueEntry> dlq_investigation_queue(int limit) = 0;
  /// Measured against the thresholds of the side that answers (the service's configuration over HTTP).
  [[nodiscard]] virtual std::vector<StalenessEntry> staleness(int limit) = 0;
};

/// DlqApi over a Client in this process.
class ClientDlqApi final : public DlqApi {
 public:
  explicit ClientDlqApi(Client& client) : client_(client) {}
  std::vector<DlqEntry> list_dlq(const DlqFilter& filter) override { return client_.list_dlq(filter); }
  DlqEntry get_dlq_entry(const std::string& task_uuid) override { return client_.get_dlq_entry(task_uuid); }
  DlqEntry update_dlq_entry(const std::string& dlq_entry_uuid, const DlqUpdate& update) override {
    return client_.update_dlq_entry(dlq_entry_uuid, update);
  }
  std::vector<DlqStats> dlq_stats() override { return client_.dlq_stats(); }
  std::vector<DlqQueueEntry> dlq_investigation_queue(int limit) override {
    return client_.dlq_investigation_queue(limit);
  }
  std::vector<StalenessEntry> staleness(int limit) override { return client_.staleness(limit); }

 private:
  Client& client_;
};

}  // namespace tasker::testing
