#include "api_json.hpp"

#include <fmt/format.h>

#include <ctime>
#include <string_view>
#include <unordered_set>

#include "http_core.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

namespace {

json time_or_null(const std::optional<TimePoint>& t) { return t ? json(format_time(*t)) : json(nullptr); }

[[noreturn]] void bad_field(const std::string& field, const std::string& expected, const json& value) {
  throw ApiError(400, "BAD_REQUEST",
                 fmt::format("`{}` must be {}, not {}", field, expected, value.is_null() ? "null" : value.type_name()),
                 {{"field", field}});
}

std::string string_field(const json& body, const std::string& field, bool required, std::size_t max_length) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    if (required) throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` is required", field), {{"field", field}});
    return {};
  }
  if (!it->is_string()) bad_field(field, "a string", *it);
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_length)
    throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` is longer than {} characters", field, max_length),
                   {{"field", field}});
  if (required && s.empty())
    throw ApiError(400, "BAD_REQUEST", fmt::format("`{}` must not be empty", field), {{"field", field}});
  return s;
}

std::vector<std::string> string_list(const json& body, const std::string& field) {
  std::vector<std::string> out;
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) bad_field(field, "an array of strings", *it);
  for (const auto& v : *it) {
    if (!v.is_string()) bad_field(field, "an array of strings", v);
    out.push_back(v.get<std::string>());
  }
  return out;
}

/// tasker-core's recommended_action for an execution_status.
std::string_view recommended_action(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::has_ready_steps: return "execute_ready_steps";
    case ExecutionStatus::processing: return "wait_for_completion";
    case ExecutionStatus::blocked_by_failures: return "handle_failures";
    case ExecutionStatus::all_complete: return "finalize_task";
    case ExecutionStatus::waiting_for_dependencies: return "wait_for_dependencies";
  }
  return "wait_for_dependencies";
}

/// A step's persisted execution result in tasker-core's form.
json results_json(const StepView& s) {
  if (s.results) return {{"success", true}, {"result", *s.results}, {"metadata", json::object()}};
  if (s.state == StepState::error && s.error)
    return {{"success", false},
            {"result", nullptr},
            {"metadata", {{"error_type", s.error->error_type}, {"retryable", s.error->retryable}}}};
  return nullptr;
}

json error_json(const StepView& s) {
  if (!s.error) return nullptr;
  return {{"message", s.error->message},
          {"error_type", s.error->error_type},
          {"retryable", s.error->retryable},
          {"context", s.error->context}};
}

struct Parents {
  int total{0};
  int completed{0};
};

/// The names a dependent counts as satisfied: steps complete or resolved, and
/// bypassed ones. Built once per answer, so a task's steps cost O(edges), not
/// O(steps × edges) (a 2,000-step task's page reads them every 1.5 s).
using Satisfied = std::unordered_set<std::string_view>;

Satisfied satisfied_in(const TaskView& task, const std::vector<StepView>& steps) {
  Satisfied names(task.bypassed_steps.begin(), task.bypassed_steps.end());
  for (const auto& s : steps)
    if (satisfies_dependents(s.state)) names.insert(s.name);
  return names;
}

Parents parents_of(const StepView& s, const Satisfied& satisfied) {
  Parents p;
  for (const auto& dep : s.dependencies) {
    ++p.total;
    if (satisfied.count(dep)) ++p.completed;
  }
  return p;
}

/// The fields StepResponse and TaskResponse.steps share.
json step_common(const StepView& s, const Satisfied& satisfied) {
  Parents p = parents_of(s, satisfied);
  bool ready = step_sets::kClaimable.contains(s.state);
  return {{"task_uuid", s.task_uuid},
          {"name", s.name},
          {"current_state", to_string(s.state)},
          {"dependencies_satisfied", p.completed == p.total},
          {"retry_eligible", s.retryable && s.attempts < s.max_attempts},
          {"ready_for_execution", ready},
          {"total_parents", p.total},
          {"completed_parents", p.completed},
          {"attempts", s.attempts},
          {"max_attempts", s.max_attempts},
          {"last_attempted_at", time_or_null(s.last_attempted_at)},
          {"next_retry_at", time_or_null(s.next_retry_at)},
          {"last_failure_at", nullptr}};
}

/// A StepResponse (its `satisfied` from the same snapshot as the step).
json step_detail(const StepView& s, const Satisfied& satisfied) {
  json out = step_common(s, satisfied);
  TimePoint updated = s.created_at;
  for (const auto& t : {s.last_attempted_at, s.completed_at})
    if (t && *t > updated) updated = *t;
  out["step_uuid"] = s.step_uuid;
  out["created_at"] = format_time(s.created_at);
  out["updated_at"] = format_time(updated);
  out["completed_at"] = time_or_null(s.completed_at);
  out["results"] = results_json(s);
  // tasker's own fields, beside tasker-core's
  out["callable"] = s.callable;
  out["dependencies"] = s.dependencies;
  out["retry_count"] = s.retry_count;
  out["retry"] = retry_json(s.retry);
  out["timeout_seconds"] = s.timeout_seconds;
  out["result"] = s.results ? *s.results : json(nullptr);
  out["error"] = error_json(s);
  out["worker_id"] = s.worker_id;
  out["lease_expires_at"] = time_or_null(s.lease_expires_at);
  out["wake_at"] = time_or_null(s.wake_at);
  out["signal_name"] = s.signal_name.empty() ? json(nullptr) : json(s.signal_name);
  out["step_type"] = std::string(to_string(s.type));
  out["template_step"] = s.template_step.empty() ? json(nullptr) : json(s.template_step);
  out["checkpoint"] = s.checkpoint ? *s.checkpoint : json(nullptr);
  return out;
}

}  // namespace

json retry_json(const RetryPolicy& r) {
  return {{"retryable", r.retryable},
          {"max_attempts", r.max_attempts},
          {"backoff", to_string(r.backoff)},
          {"backoff_base_ms", r.backoff_base_ms},
          {"max_backoff_ms", r.max_backoff_ms}};
}

TaskRequest task_request_from(const json& body) {
  if (!body.is_object())
    throw ApiError(400, "BAD_REQUEST",
                   fmt::format("the body must be a JSON object (a TaskRequest), not {}", body.type_name()));
  TaskRequest r;
  r.name = string_field(body, "name", true, 255);
  r.namespace_name = string_field(body, "namespace", true, 255);
  r.version = string_field(body, "version", false, 50);
  if (auto it = body.find("context"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad_field("context", "a JSON object", *it);
    r.context = *it;
  }
  r.initiator = string_field(body, "initiator", false, 255);
  r.source_system = string_field(body, "source_system", false, 255);
  r.reason = string_field(body, "reason", false, 500);
  r.tags = string_list(body, "tags");
  if (auto it = body.find("priority"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) bad_field("priority", "an integer (-100..100)", *it);
    auto p = it->get<long long>();
    if (p < kMinPriority || p > kMaxPriority)
      throw ApiError(400, "BAD_REQUEST", fmt::format("`priority` {} is outside {}..{}", p, kMinPriority, kMaxPriority),
                     {{"field", "priority"}});
    r.priority = static_cast<int>(p);
  }
  r.correlation_id = string_field(body, "correlation_id", false, 255);
  if (r.correlation_id.empty()) r.correlation_id = new_uuid();  // tasker-core's default
  if (auto it = body.find("parent_correlation_id"); it != body.end() && !it->is_null())
    throw ApiError(400, "BAD_REQUEST", "`parent_correlation_id` is not supported by tasker; leave it out or null",
                   {{"field", "parent_correlation_id"}});
  if (auto key = string_field(body, "idempotency_key", false, 255); !key.empty()) r.idempotency_key = key;
  r.bypass_steps = string_list(body, "bypass_steps");
  if (auto it = body.find("run_at"); it != body.end() && !it->is_null()) {
    std::optional<TimePoint> at = it->is_string() ? tasker::parse_time(it->get<std::string>()) : std::nullopt;
    if (!at) bad_field("run_at", "an RFC 3339 time (e.g. \"2026-12-07T18:00:00Z\")", *it);
    r.run_at = at;
  }
  return r;
}

json to_request_json(const TaskRequest& r) {
  json body = {{"name", r.name},
               {"namespace", r.namespace_name},
               {"context", r.context},
               {"initiator", r.initiator},
               {"source_system", r.source_system},
               {"reason", r.reason},
               {"tags", r.tags},
               {"priority", r.priority}};
  if (!r.version.empty()) body["version"] = r.version;
  if (!r.correlation_id.empty()) body["correlation_id"] = r.correlation_id;
  if (r.idempotency_key) body["idempotency_key"] = *r.idempotency_key;
  if (!r.bypass_steps.empty()) body["bypass_steps"] = r.bypass_steps;
  if (r.run_at) body["run_at"] = format_time(*r.run_at);
  return body;
}

json task_response(const TaskView& t, const std::vector<StepView>* steps) {
  json out = {{"task_uuid", t.uuid},
              {"name", t.name},
              {"namespace", t.namespace_name},
              {"version", t.version},
              {"status", to_string(t.state)},
              {"created_at", format_time(t.created_at)},
              {"updated_at", format_time(t.updated_at)},
              {"completed_at", time_or_null(t.completed_at)},
              {"run_at", time_or_null(t.run_at)},
              {"context", t.context},
              {"initiator", t.initiator},
              {"source_system", t.source_system},
              {"reason", t.reason},
              {"priority", t.priority},
              {"tags", t.tags},
              {"correlation_id", t.correlation_id},
              {"parent_correlation_id", nullptr},
              {"idempotency_key", t.idempotency_key ? json(*t.idempotency_key) : json(nullptr)},
              {"identity_hash", t.identity_hash ? json(*t.identity_hash) : json(nullptr)},
              {"bypass_steps", t.bypassed_steps},
              {"total_steps", t.counts.total},
              {"pending_steps", t.counts.pending},
              {"in_progress_steps", t.counts.in_progress},
              {"completed_steps", t.counts.completed},
              {"failed_steps", t.counts.failed},
              {"ready_steps", t.counts.ready},
              {"waiting_for_retry_steps", t.counts.waiting_for_retry},
              {"waiting_steps", t.counts.waiting},
              {"cancelled_steps", t.counts.cancelled},
              {"execution_status", to_string(t.execution_status)},
              {"recommended_action", recommended_action(t.execution_status)},
              {"completion_percentage", t.completion_percentage},
              {"health_status", to_string(t.health_status)}};
  if (steps) {
    const Satisfied satisfied = satisfied_in(t, *steps);
    json list = json::array();
    for (const auto& s : *steps) {
      // tasker-core's step summary, as a full StepResponse (a superset): the
      // task and every step's detail from one read.
      json entry = step_detail(s, satisfied);
      entry["workflow_step_uuid"] = s.step_uuid;
      entry["backoff_request_seconds"] = nullptr;
      list.push_back(std::move(entry));
    }
    out["steps"] = std::move(list);
  }
  return out;
}

json step_response(const StepView& s, const TaskSnapshot& snap) {
  return step_detail(s, satisfied_in(snap.task, snap.steps));
}

json step_responses(const TaskSnapshot& snap) {
  const Satisfied satisfied = satisfied_in(snap.task, snap.steps);
  json list = json::array();
  for (const auto& s : snap.steps) list.push_back(step_detail(s, satisfied));
  return list;
}

json audit_entry(const Transition& t, const std::string& step_uuid) {
  return {{"task_uuid", t.task_uuid},
          {"workflow_step_uuid", step_uuid.empty() ? json(nullptr) : json(step_uuid)},
          {"step_name", t.step_name.empty() ? json(nullptr) : json(t.step_name)},
          {"from_state", t.from_state.empty() ? json(nullptr) : json(t.from_state)},
          {"to_state", t.to_state},
          {"recorded_at", format_time(t.at)},
          {"worker_id", t.worker_id.empty() ? json(nullptr) : json(t.worker_id)},
          {"success", t.to_state == "complete"},
          {"reason", t.reason},
          {"attempt", t.attempt},
          {"payload", t.payload}};
}

// --- reading them back (HttpApi) ---------------------------------------------

TimePoint parse_time(const std::string& text) {
  if (auto t = tasker::parse_time(text)) return *t;
  throw Error(fmt::format("`{}` is not an RFC 3339 time", text));
}

namespace {
std::optional<TimePoint> time_at(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return parse_time(it->get<std::string>());
}
std::string text_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
}
}  // namespace

TaskView task_from(const json& j) {
  TaskView t;
  t.uuid = j.at("task_uuid");
  t.namespace_name = j.at("namespace");
  t.name = j.at("name");
  t.version = j.at("version");
  auto state = parse_task_state(j.at("status").get<std::string>());
  if (!state) throw Error(fmt::format("unknown task status `{}`", j.at("status").get<std::string>()));
  t.state = *state;
  t.context = j.value("context", json::object());
  t.initiator = text_at(j, "initiator");
  t.source_system = text_at(j, "source_system");
  t.reason = text_at(j, "reason");
  t.tags = j.value("tags", std::vector<std::string>{});
  t.priority = j.value("priority", 0);
  t.correlation_id = text_at(j, "correlation_id");
  if (auto key = text_at(j, "idempotency_key"); !key.empty()) t.idempotency_key = key;
  if (auto hash = text_at(j, "identity_hash"); !hash.empty()) t.identity_hash = hash;
  t.bypassed_steps = j.value("bypass_steps", std::vector<std::string>{});
  t.created_at = *time_at(j, "created_at");
  t.updated_at = *time_at(j, "updated_at");
  t.completed_at = time_at(j, "completed_at");
  t.run_at = time_at(j, "run_at");
  t.counts.waiting = j.value("waiting_steps", 0);
  t.counts.total = j.at("total_steps");
  t.counts.pending = j.at("pending_steps");
  t.counts.in_progress = j.at("in_progress_steps");
  t.counts.completed = j.at("completed_steps");
  t.counts.failed = j.at("failed_steps");
  t.counts.ready = j.at("ready_steps");
  t.counts.waiting_for_retry = j.value("waiting_for_retry_steps", 0);
  t.counts.cancelled = j.value("cancelled_steps", 0);
  derive_statuses(t);  // the same derivation the server used, from the same counts
  return t;
}

StepView step_from(const json& j) {
  StepView s;
  s.task_uuid = j.at("task_uuid");
  s.step_uuid = j.at("step_uuid");
  s.name = j.at("name");
  s.callable = text_at(j, "callable");
  auto state = parse_step_state(j.at("current_state").get<std::string>());
  if (!state) throw Error(fmt::format("unknown step state `{}`", j.at("current_state").get<std::string>()));
  s.state = *state;
  s.dependencies = j.value("dependencies", std::vector<std::string>{});
  s.attempts = j.at("attempts");
  s.retry_count = j.value("retry_count", std::max(s.attempts - 1, 0));
  s.max_attempts = j.at("max_attempts");
  if (auto r = j.find("retry"); r != j.end() && r->is_object()) {
    s.retry.retryable = r->value("retryable", true);
    s.retry.max_attempts = r->value("max_attempts", s.max_attempts);
    s.retry.backoff = parse_backoff_kind(r->value("backoff", "exponential")).value_or(BackoffKind::exponential);
    s.retry.backoff_base_ms = r->value("backoff_base_ms", 1000LL);
    s.retry.max_backoff_ms = r->value("max_backoff_ms", 30000LL);
  }
  s.retryable = s.retry.retryable;
  s.timeout_seconds = j.value("timeout_seconds", 0);
  if (auto r = j.find("results"); r != j.end() && r->is_object() && r->value("success", false))
    s.results = r->value("result", json());
  if (auto e = j.find("error"); e != j.end() && e->is_object())
    s.error = StepFailure{e->value("message", ""), e->value("error_type", ""), e->value("retryable", false),
                          e->value("context", json::object())};
  s.worker_id = text_at(j, "worker_id");
  s.created_at = *time_at(j, "created_at");
  s.last_attempted_at = time_at(j, "last_attempted_at");
  s.completed_at = time_at(j, "completed_at");
  s.next_retry_at = time_at(j, "next_retry_at");
  s.lease_expires_at = time_at(j, "lease_expires_at");
  s.type = parse_step_type(j.value("step_type", "standard")).value_or(StepType::standard);
  s.template_step = text_at(j, "template_step");
  if (auto c = j.find("checkpoint"); c != j.end() && !c->is_null()) s.checkpoint = *c;
  return s;
}

Transition transition_from(const json& j) {
  Transition t;
  t.task_uuid = j.at("task_uuid");
  t.step_name = text_at(j, "step_name");
  t.from_state = text_at(j, "from_state");
  t.to_state = j.at("to_state");
  t.at = *time_at(j, "recorded_at");
  t.worker_id = text_at(j, "worker_id");
  t.reason = text_at(j, "reason");
  t.attempt = j.value("attempt", 0);
  t.payload = j.value("payload", json(nullptr));
  return t;
}

}  // namespace tasker::server
