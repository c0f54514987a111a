#pragma once
// A Store that forwards every call to a real one, with a hook before each
// exchange: unit tests make a worker's transactions fail with it (header only).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tasker/store.hpp"

namespace tasker::test {

class ForwardingStore : public Store {
 public:
  /// Called with each exchange's arguments before the inner store sees them; it may throw.
  using ExchangeHook = std::function<void(const std::vector<StepOutcome>&, const ClaimRequest*, TimePoint)>;

  ForwardingStore(std::shared_ptr<Store> inner, ExchangeHook before_exchange)
      : inner_(std::move(inner)), before_exchange_(std::move(before_exchange)) {}
  std::string backend() const override { return inner_->backend(); }
  std::string describe() const override { return inner_->describe(); }
  void migrate() override { inner_->migrate(); }
  int schema_version() override { return inner_->schema_version(); }
  std::vector<std::string> check_consistency() override { return inner_->check_consistency(); }
  CreateResult create_task(const TaskTemplate& t, const TaskRequest& r, const std::optional<std::string>& h,
                           TimePoint now) override {
    return inner_->create_task(t, r, h, now);
  }
  std::optional<TaskView> find_task(const std::string& u, TimePoint now) override { return inner_->find_task(u, now); }
  TaskPage list_tasks(const TaskFilter& f, TimePoint now) override { return inner_->list_tasks(f, now); }
  ActivityCounts activity(TimePoint now) override { return inner_->activity(now); }
  std::optional<TaskSnapshot> find_task_with_steps(const std::string& u, TimePoint now) override {
    return inner_->find_task_with_steps(u, now);
  }
  std::vector<Transition> transitions(const std::string& u, const std::optional<std::string>& s) override {
    return inner_->transitions(u, s);
  }
  ExchangeResult exchange(const std::vector<StepOutcome>& outcomes, const ClaimRequest* claim, TimePoint now) override {
    before_exchange_(outcomes, claim, now);
    return inner_->exchange(outcomes, claim, now);
  }
  std::vector<std::int64_t> renew_leases(const std::vector<LeaseRef>& l, TimePoint e) override {
    return inner_->renew_leases(l, e);
  }
  std::vector<std::int64_t> save_checkpoints(const std::vector<CheckpointSave>& c, TimePoint e) override {
    return inner_->save_checkpoints(c, e);
  }
  std::optional<json> step_result(const std::string& u, const std::string& s) override {
    return inner_->step_result(u, s);
  }
  std::optional<TimePoint> next_due(const WorkFilter& f) override { return inner_->next_due(f); }
  SuspendResult suspend(const std::vector<Suspension>& s, TimePoint now) override { return inner_->suspend(s, now); }
  WakeResult wake_due(int limit, TimePoint now) override { return inner_->wake_due(limit, now); }
  SignalResult deliver_signal(const SignalDelivery& s, TimePoint now) override {
    return inner_->deliver_signal(s, now);
  }
  OperatorResult cancel_task(const std::string& u, const std::string& r, TimePoint now) override {
    return inner_->cancel_task(u, r, now);
  }
  OperatorResult reset_step(const std::string& u, const std::string& s, const std::string& r, TimePoint now) override {
    return inner_->reset_step(u, s, r, now);
  }
  OperatorResult resolve_step(const std::string& u, const std::string& s, const std::string& r,
                              TimePoint now) override {
    return inner_->resolve_step(u, s, r, now);
  }
  OperatorResult complete_step(const std::string& u, const std::string& s, const json& result, const std::string& r,
                               TimePoint now) override {
    return inner_->complete_step(u, s, result, r, now);
  }
  std::shared_ptr<void> on_work_available(std::function<void()> callback) override {
    return inner_->on_work_available(std::move(callback));
  }
  std::shared_ptr<void> on_tasks_finished(std::function<void(const std::vector<std::string>&)> callback) override {
    return inner_->on_tasks_finished(std::move(callback));
  }

 private:
  std::shared_ptr<Store> inner_;
  ExchangeHook before_exchange_;
};

}  // namespace tasker::test
