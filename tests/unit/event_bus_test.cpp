#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "tasker/events.hpp"

using namespace tasker;

namespace {
LifecycleEvent event(const char* name) { return {name, TimePoint{}, "task-1", "step", json::object()}; }
}  // namespace

TEST_CASE("event bus: several subscribers each get matching events, by name, prefix or *") {
  EventBus bus;
  std::vector<std::string> all, steps, completed;
  bus.subscribe("*", [&](const LifecycleEvent& e) { all.push_back(e.name); });
  bus.subscribe("step.*", [&](const LifecycleEvent& e) { steps.push_back(e.name); });
  bus.subscribe(events::kTaskCompleted, [&](const LifecycleEvent& e) { completed.push_back(e.name); });
  bus.publish({event(events::kStepStarted), event(events::kStepCompleted), event(events::kTaskCompleted)});
  CHECK(all == std::vector<std::string>{"step.execution.started", "step.completed", "task.completed"});
  CHECK(steps == std::vector<std::string>{"step.execution.started", "step.completed"});
  CHECK(completed == std::vector<std::string>{"task.completed"});
}

TEST_CASE("event bus: a subscriber that throws does not stop the others and is counted") {
  EventBus bus;
  int before = 0, after = 0;
  bus.subscribe("*", [&](const LifecycleEvent&) { ++before; });
  bus.subscribe("*", [](const LifecycleEvent&) { throw std::runtime_error("subscriber bug"); });
  bus.subscribe("*", [](const LifecycleEvent&) { throw 42; });
  bus.subscribe("*", [&](const LifecycleEvent&) { ++after; });
  bus.publish(event(events::kStepFailed));
  bus.publish(event(events::kStepFailed));
  CHECK(before == 2);
  CHECK(after == 2);
  CHECK(bus.subscriber_failures() == 4);
}

TEST_CASE("event bus: unsubscribe stops delivery, also from inside a callback") {
  EventBus bus;
  int calls = 0;
  EventBus::SubscriptionId id = 0;
  id = bus.subscribe("*", [&](const LifecycleEvent&) {
    ++calls;
    bus.unsubscribe(id);
  });
  bus.publish(event(events::kTaskCreated));
  bus.publish(event(events::kTaskCreated));
  CHECK(calls == 1);
}
