#include "engine/job.hpp"

#include <cxxabi.h>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "tasker/errors.hpp"

namespace tasker::detail {

namespace {

std::string type_name(const std::exception& e) {
  int status = 0;
  const char* mangled = typeid(e).name();
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? demangled.get() : mangled;
}

}  // namespace

std::string timeout_message(std::chrono::seconds limit) {
  return fmt::format(
      "the step did not finish within its timeout_seconds ({} s); raise timeout_seconds in the template or make the "
      "handler finish sooner (it can check StepContext::deadline())",
      limit.count());
}

StepOutcome Job::run() const {
  StepOutcome out;
  out.step_id = step.step_id;
  out.claim_token = step.claim_token;
  StepContext ctx(step.task_uuid, step.step_name, step.context, step.initialization, step.dependency_results,
                  step.attempt, deadline, *clock, controls, StepHistory{step.checkpoint, step.previous_error});
  auto fail = [&](std::string message, std::string type, bool retryable, json context) {
    out.kind = StepOutcome::Kind::failure;
    out.failure = {std::move(message), std::move(type), retryable, std::move(context)};
  };
  try {
    out.result = handlers->resolve(step.callable)(ctx);
    out.kind = StepOutcome::Kind::success;
    (void)out.result.dump();  // a result that cannot be stored fails here, not in the batch
  } catch (const PermanentError& e) {
    fail(e.what(), e.error_type().empty() ? "permanent_error" : e.error_type(), false, e.context());
  } catch (const RetryableError& e) {
    fail(e.what(), e.error_type().empty() ? "retryable_error" : e.error_type(), true, e.context());
    out.retry_after = e.retry_after();
  } catch (const HandlerNotFoundError& e) {
    fail(e.what(), "handler_not_found", true, json::object());
  } catch (const json::exception& e) {
    fail(fmt::format("the handler's result is not storable JSON: {}", e.what()), "invalid_result", false,
         json::object());
  } catch (const std::exception& e) {
    fail(e.what(), type_name(e), true, json::object());
  } catch (...) {
    fail("the handler threw something that is not a std::exception", "unknown", true, json::object());
  }
  return out;
}

}  // namespace tasker::detail
