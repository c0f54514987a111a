#include "model/event_record.hpp"

#include "tasker/states.hpp"

namespace tasker::detail {

namespace {

LifecycleEvent event(const char* name, const Transition& t, json payload) {
  payload["task_uuid"] = t.task_uuid;
  if (!t.step_name.empty()) payload["step_name"] = t.step_name;
  return {name, t.at, t.task_uuid, t.step_name, std::move(payload)};
}

json payload_field(const Transition& t, const char* key) {
  return t.payload.is_object() && t.payload.contains(key) ? t.payload.at(key) : json(nullptr);
}

std::vector<LifecycleEvent> task_events(const Transition& t) {
  const auto to = parse_task_state(t.to_state);
  std::vector<LifecycleEvent> out;
  if (t.from_state.empty()) {
    json created = json::object();
    for (const char* key : {"namespace", "name", "version", "total_steps"}) created[key] = payload_field(t, key);
    out.push_back(event(events::kTaskCreated, t, std::move(created)));
  }
  if (to == TaskState::complete || to == TaskState::resolved_manually)
    out.push_back(event(events::kTaskCompleted, t, {{"state", t.to_state}}));
  else if (to == TaskState::error)
    out.push_back(event(events::kTaskFailed, t, {{"failed_steps", payload_field(t, "failed_steps")}}));
  else if (to == TaskState::cancelled)
    out.push_back(event(events::kTaskCancelled, t, {{"reason", t.reason}}));
  return out;
}

std::vector<LifecycleEvent> step_events(const Transition& t, const std::optional<json>& result) {
  const auto from = parse_step_state(t.from_state);
  const auto to = parse_step_state(t.to_state);
  if (!to) return {};
  // A waiting step's end is the worker's doing (a signal, its time), unlike an operator's.
  const bool by_worker =
      from == StepState::in_progress || (from == StepState::waiting && !payload_field(t, "waited").is_null());
  switch (*to) {
    case StepState::enqueued: {
      json payload = json::object();
      if (by_worker) payload["reason"] = "released";
      if (from == StepState::error) payload["reason"] = t.reason;
      return {event(events::kStepEnqueued, t, std::move(payload))};
    }
    case StepState::in_progress:
      return {event(events::kStepStarted, t, {{"attempt", t.attempt}, {"worker_id", t.worker_id}})};
    case StepState::waiting:
      return {event(
          events::kStepWaiting, t,
          {{"attempt", t.attempt}, {"signal", payload_field(t, "signal")}, {"wake_at", payload_field(t, "wake_at")}})};
    case StepState::complete:
    case StepState::resolved_manually: {
      json payload = {{"attempt", t.attempt}};
      if (!by_worker) {
        payload["manual"] = true;
        payload["reason"] = t.reason;
      }
      if (result) payload["result"] = *result;
      if (from == StepState::waiting && by_worker) payload["waited"] = payload_field(t, "waited");
      return {event(events::kStepCompleted, t, std::move(payload))};
    }
    case StepState::waiting_for_retry: {
      const json at = payload_field(t, "next_attempt_at");
      const long long next = at.is_number_integer() ? at.get<long long>() : to_epoch_ms(t.at);
      return {event(events::kStepFailed, t,
                    {{"attempt", t.attempt}, {"error", payload_field(t, "error")}, {"will_retry", true}}),
              event(events::kStepRetryScheduled, t,
                    {{"attempt", t.attempt}, {"delay_ms", next - to_epoch_ms(t.at)}, {"next_attempt_at", next}})};
    }
    case StepState::error:
      if (!by_worker) return {};
      return {event(events::kStepFailed, t,
                    {{"attempt", t.attempt}, {"error", payload_field(t, "error")}, {"will_retry", false}})};
    case StepState::pending:
    case StepState::cancelled: return {};
  }
  return {};
}

}  // namespace

std::vector<LifecycleEvent> events_of(const Transition& t, const std::optional<json>& result) {
  return t.step_name.empty() ? task_events(t) : step_events(t, result);
}

}  // namespace tasker::detail
