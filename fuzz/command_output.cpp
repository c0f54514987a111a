// A command handler's exit status, stdout and stderr -> the step's result or
// failure: whatever bytes a command prints, the result is within the limits
// and every failure's message, type and context can be stored (valid UTF-8,
// serialisable), so no output can kill the worker that records it.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/wait.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "engine/command_output.hpp"
#include "tasker/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  tasker::CommandSpec spec;
  spec.argv = {"handler.py", "--flag"};
  spec.limits.max_depth = 16;
  spec.limits.max_bytes = 64 * 1024;
  tasker::detail::CommandExit exit;
  const int code = input.PickValueInArray({0, 0, 0, 10, 11, 1, 3});
  const bool signalled = input.ConsumeBool() && input.ConsumeBool();
  exit.status = signalled ? input.ConsumeIntegralInRange(1, 64) : (code << 8);  // as waitpid reports them
  exit.killed_for_time = input.ConsumeProbability<float>() < 0.02f;
  exit.cancelled = input.ConsumeProbability<float>() < 0.02f;
  exit.output_too_large = input.ConsumeProbability<float>() < 0.02f;
  exit.err = input.ConsumeRandomLengthString(4096);
  exit.out = input.ConsumeRemainingBytesAsString();
  try {
    const tasker::json result = tasker::detail::command_result(spec, exit);
    FUZZ_CHECK(fuzz::storable(result, spec.limits));
  } catch (const tasker::StepError& e) {
    FUZZ_CHECK(fuzz::utf8(e.what()));
    FUZZ_CHECK(fuzz::utf8(e.error_type()));
    FUZZ_CHECK(fuzz::storable(e.context(), {128, 1u << 30}));
    if (const auto* retryable = dynamic_cast<const tasker::RetryableError*>(&e); retryable && retryable->retry_after())
      FUZZ_CHECK(retryable->retry_after()->count() >= 0);
  }
  return 0;
}
