#include "tasker/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>

#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"
#include "tasker/identity.hpp"
#include "tasker/limits.hpp"

namespace tasker {

namespace {
void check_uuid(const std::string& task_uuid) {
  if (!is_uuid(task_uuid))
    throw InvalidRequestError(fmt::format(
        "`{}` is not a task uuid (expected 36 characters like 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b)", task_uuid));
}
}  // namespace

Client::Client(std::shared_ptr<Store> store, std::shared_ptr<const TemplateSet> templates, ClientOptions options)
    : store_(std::move(store)), templates_(std::move(templates)), options_(std::move(options)) {
  if (!store_) throw InvalidRequestError("Client needs a store (open one with open_store(url))");
  if (!options_.clock) options_.clock = &SystemClock::instance();
}

Client::Client(std::shared_ptr<Store> store, TemplateSet templates, ClientOptions options)
    : Client(std::move(store), std::make_shared<const TemplateSet>(std::move(templates)), std::move(options)) {}

void Client::publish(const std::vector<LifecycleEvent>& events) const {
  if (options_.events) options_.events->publish(events);
}

TaskView Client::submit(const TaskRequest& request) {
  if (!templates_)
    throw InvalidRequestError("this client has no templates: construct it with a TemplateSet to submit tasks");
  const TaskTemplate& tmpl = templates_->get(request.namespace_name, request.name, request.version);
  if (!request.context.is_object())
    throw InvalidRequestError(fmt::format("the task context must be a JSON object, not {} (e.g. {{\"order_id\": 42}})",
                                          request.context.type_name()));
  // Before anything serialises, hashes or copies it (all of which recurse once per level).
  check_json(request.context, options_.limits, "the task context");
  if (request.priority < kMinPriority || request.priority > kMaxPriority)
    throw InvalidRequestError(
        fmt::format("priority {} is outside {}..{}", request.priority, kMinPriority, kMaxPriority));
  std::vector<std::string> names;
  for (const auto& s : tmpl.steps) names.push_back(s.name);
  std::set<std::string> seen;
  const std::vector<bool> initial = initially_created(tmpl);
  for (const auto& b : request.bypass_steps) {
    const StepTemplate* step = tmpl.find_step(b);
    if (step && !initial[static_cast<std::size_t>(step - tmpl.steps.data())])
      throw InvalidRequestError(fmt::format(
          "cannot bypass `{}`: it is created at run time (by a decision or a batch), not with the task", b));
    if (!step) {
      std::string suggestion = closest_match(b, names);
      throw InvalidRequestError(
          fmt::format("cannot bypass `{}`: {} has no such step{}", b, tmpl.qualified_name(),
                      suggestion.empty() ? "" : fmt::format(" (did you mean `{}`?)", suggestion)));
    }
    if (!seen.insert(b).second) throw InvalidRequestError(fmt::format("step `{}` is bypassed twice", b));
  }
  auto hash = identity_hash(tmpl.identity_strategy, tmpl.namespace_name, tmpl.name, tmpl.version, request.context,
                            request.idempotency_key);
  CreateResult created = store_->create_task(tmpl, request, hash, options_.clock->now());
  publish(created.events);
  return std::move(created.task);
}

TaskView Client::get_task(const std::string& task_uuid) {
  check_uuid(task_uuid);
  auto task = store_->find_task(task_uuid, options_.clock->now());
  if (!task) throw NotFoundError("task", task_uuid);
  return std::move(*task);
}

TaskView Client::wait_for_task(const std::string& task_uuid, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds poll_interval) {
  const Clock& clock = *options_.clock;
  const TimePoint deadline = clock.now() + timeout;
  // Shared with the store's callback, which may outlive this call by a moment.
  struct Waiter {
    std::mutex mutex;
    std::condition_variable cv;
    bool finished{false};
  };
  auto waiter = std::make_shared<Waiter>();
  auto subscription = store_->on_tasks_finished([waiter, task_uuid](const std::vector<std::string>& uuids) {
    if (std::find(uuids.begin(), uuids.end(), task_uuid) == uuids.end()) return;
    std::lock_guard lock(waiter->mutex);
    waiter->finished = true;
    waiter->cv.notify_all();
  });
  // Another process's commit announces the task's end only while it is watched.
  auto watch = store_->watch_task(task_uuid, deadline, clock.now());
  for (;;) {
    TaskView task = get_task(task_uuid);
    const TimePoint now = clock.now();
    if (is_terminal(task.state) || now >= deadline) return task;
    std::unique_lock lock(waiter->mutex);
    clock.wait_until(waiter->cv, lock, std::min(deadline, now + poll_interval), [&] { return waiter->finished; });
  }
}

TaskPage Client::list_tasks(const TaskFilter& filter) { return store_->list_tasks(filter, options_.clock->now()); }

ActivityCounts Client::activity() { return store_->activity(options_.clock->now()); }

TaskSnapshot Client::snapshot(const std::string& task_uuid) {
  check_uuid(task_uuid);
  auto snap = store_->find_task_with_steps(task_uuid, options_.clock->now());
  if (!snap) throw NotFoundError("task", task_uuid);
  return std::move(*snap);
}

std::vector<StepView> Client::list_steps(const std::string& task_uuid) { return snapshot(task_uuid).steps; }

StepView Client::get_step(const std::string& task_uuid, const std::string& step_name) {
  std::vector<std::string> names;
  for (auto& s : list_steps(task_uuid)) {
    if (s.name == step_name) return std::move(s);
    names.push_back(s.name);
  }
  std::string suggestion = closest_match(step_name, names);
  throw NotFoundError("step", step_name,
                      suggestion.empty() ? fmt::format("task {} has steps: {}", task_uuid, fmt::join(names, ", "))
                                         : fmt::format("did you mean `{}`?", suggestion));
}

std::vector<Transition> Client::transitions(const std::string& task_uuid, const std::optional<std::string>& step_name) {
  if (step_name)
    (void)get_step(task_uuid, *step_name);
  else
    (void)get_task(task_uuid);
  return store_->transitions(task_uuid, step_name);
}

TaskView Client::cancel(const std::string& task_uuid, const std::string& reason) {
  check_uuid(task_uuid);
  OperatorResult r = store_->cancel_task(task_uuid, reason, options_.clock->now());
  publish(r.events);
  return std::move(r.task);
}

namespace {
StepView step_of(OperatorResult& r, const std::string& step_name) {
  if (!r.step) throw NotFoundError("step", step_name);
  return std::move(*r.step);
}
}  // namespace

StepView Client::reset_step_for_retry(const std::string& task_uuid, const std::string& step_name,
                                      const std::string& reason) {
  check_uuid(task_uuid);
  OperatorResult r = store_->reset_step(task_uuid, step_name, reason, options_.clock->now());
  publish(r.events);
  return step_of(r, step_name);
}

StepView Client::rerun_step(const std::string& task_uuid, const std::string& step_name, const std::string& reason) {
  check_uuid(task_uuid);
  OperatorResult r = store_->rerun_step(task_uuid, step_name, reason, options_.clock->now());
  publish(r.events);
  return step_of(r, step_name);
}

TaskView Client::rerun_task(const std::string& task_uuid, const std::string& reason) {
  const TaskView original = get_task(task_uuid);
  TaskRequest r;
  r.namespace_name = original.namespace_name;
  r.name = original.name;
  r.version = original.version;
  r.context = original.context;
  r.initiator = original.initiator;
  r.source_system = original.source_system;
  r.reason = fmt::format("rerun of task {}: {}", task_uuid, reason);
  r.priority = original.priority;
  r.correlation_id = original.correlation_id;
  r.bypass_steps = original.bypassed_steps;
  // The link to the original replaces one the original had itself (a rerun of a rerun).
  for (const auto& tag : original.tags)
    if (tag.rfind(kRerunOfTagPrefix, 0) != 0) r.tags.push_back(tag);
  r.tags.push_back(std::string(kRerunOfTagPrefix) + task_uuid);
  // Its own identity: the same context would otherwise be the original's.
  r.idempotency_key = fmt::format("{}{}:{}", kRerunOfTagPrefix, task_uuid, to_epoch_ms(options_.clock->now()));
  return submit(r);
}

StepView Client::resolve_step_manually(const std::string& task_uuid, const std::string& step_name,
                                       const std::string& reason) {
  check_uuid(task_uuid);
  OperatorResult r = store_->resolve_step(task_uuid, step_name, reason, options_.clock->now());
  publish(r.events);
  return step_of(r, step_name);
}

StepView Client::complete_step_manually(const std::string& task_uuid, const std::string& step_name, const json& result,
                                        const std::string& reason) {
  check_uuid(task_uuid);
  check_json(result, options_.limits, "the result");
  OperatorResult r = store_->complete_step(task_uuid, step_name, result, reason, options_.clock->now());
  publish(r.events);
  return step_of(r, step_name);
}

SignalStatus Client::signal(const std::string& task_uuid, const std::string& name, const json& payload,
                            const std::optional<std::string>& key, const std::string& sender) {
  check_uuid(task_uuid);
  if (name.empty())
    throw InvalidRequestError("a signal needs a name (the `signal.name` of the step that waits for it)");
  if (!payload.is_object())
    throw InvalidRequestError(
        fmt::format("a signal's payload is the waiting step's result, a JSON object; got {}", payload.type_name()));
  check_json(payload, options_.limits, "the signal's payload");
  if (key && key->empty()) throw InvalidRequestError("a signal's key, when given, is not empty");
  if (name.size() > kMaxSignalNameLength || (key && key->size() > kMaxSignalNameLength))
    throw InvalidRequestError(fmt::format("a signal's {} is {} bytes, more than {}; use a shorter one",
                                          name.size() > kMaxSignalNameLength ? "name" : "key",
                                          std::max(name.size(), key ? key->size() : 0), kMaxSignalNameLength));
  SignalResult r = store_->deliver_signal({task_uuid, name, payload, key, sender}, options_.clock->now());
  publish(r.events);
  return r.status;
}

}  // namespace tasker
