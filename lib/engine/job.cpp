#include "engine/job.hpp"

#include <cxxabi.h>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "tasker/errors.hpp"
#include "tasker/task.hpp"

namespace tasker::detail {

namespace {

std::string type_name(const std::exception& e) {
  int status = 0;
  const char* mangled = typeid(e).name();
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? demangled.get() : mangled;
}

/// A failure's context as the store can keep it: strings made valid UTF-8,
/// and one too deep or too large to serialise safely replaced by a note (the
/// message still says what failed).
json storable_context(const json& context, const JsonLimits& limits) {
  const JsonMeasure m = measure_json(context);
  if (m.depth > limits.max_depth || m.bytes > limits.max_bytes)
    return {{"context_dropped",
             fmt::format("the handler's error context ({} levels deep, {} bytes) is beyond {} ({}) "
                         "or {} ({})",
                         m.depth, m.bytes, kJsonMaxDepthKey, limits.max_depth, kJsonMaxBytesKey, limits.max_bytes)}};
  if (m.invalid_utf8) return json::parse(context.dump(-1, ' ', false, json::error_handler_t::replace));
  return context;
}

}  // namespace

std::string timeout_message(TimePoint deadline) {
  return fmt::format(
      "the step did not finish within its timeout_seconds (its deadline was {}); raise timeout_seconds in the "
      "template or make the handler finish sooner (it is given the deadline: StepContext::deadline(), or `deadline` "
      "in a command's input)",
      format_time(deadline));
}

StepOutcome Job::run() const {
  StepOutcome out;
  out.step_id = step.step_id;
  out.claim_token = step.claim_token;
  StepContext ctx(step.task_uuid, step.step_name, step.context, step.initialization, step.dependency_results,
                  step.attempt, deadline, *clock, controls, StepHistory{step.checkpoint, step.previous_error});
  // Whatever a handler puts in a failure must be storable: a message or context
  // the store cannot serialise would fail the whole batch.
  auto fail = [&](std::string_view message, std::string_view type, bool retryable, const json& context) {
    out.kind = StepOutcome::Kind::failure;
    out.result = nullptr;
    out.failure = {valid_utf8(message), valid_utf8(type), retryable, storable_context(context, limits)};
  };
  try {
    out.result = handlers->resolve(step.callable)(ctx);
    out.kind = StepOutcome::Kind::success;
  } catch (const PermanentError& e) {
    fail(e.what(), e.error_type().empty() ? "permanent_error" : e.error_type(), false, e.context());
  } catch (const RetryableError& e) {
    fail(e.what(), e.error_type().empty() ? "retryable_error" : e.error_type(), true, e.context());
    out.retry_after = e.retry_after();
  } catch (const HandlerNotFoundError& e) {
    fail(e.what(), "handler_not_found", true, json::object());
  } catch (const std::exception& e) {
    fail(e.what(), type_name(e), true, json::object());
  } catch (...) {
    fail("the handler threw something that is not a std::exception", "unknown", true, json::object());
  }
  if (out.kind == StepOutcome::Kind::success) {
    // A result that cannot be stored fails here, not in the batch; measured
    // without recursion, since a handler may return a value of any depth.
    try {
      check_json(out.result, limits, "the handler's result");
    } catch (const InvalidRequestError& e) {
      fail(e.what(), "invalid_result", false, json::object());
    }
  }
  return out;
}

}  // namespace tasker::detail
