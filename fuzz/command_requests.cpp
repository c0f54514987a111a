// A command handler's requests to its worker (descriptor 3; docs/handlers.md,
// "Asking the worker") as arbitrary bytes in arbitrary pieces: every request
// line gets exactly one answer line, each answer is a JSON object with a
// boolean "ok" that can be written back as valid UTF-8, and what reaches the
// step's controls (a checkpoint) is within the limits the channel applies.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "check.hpp"
#include "engine/command_requests.hpp"
#include "tasker/clock.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const tasker::JsonLimits limits{16, 4096};
  int saves = 0;
  tasker::StepControls controls{.heartbeat = [] {},
                                .save_checkpoint =
                                    [&](const tasker::json& checkpoint) {
                                      FUZZ_CHECK(fuzz::storable(checkpoint, {limits.max_depth + 2, 1u << 20}));
                                      ++saves;
                                      return saves % 2 == 1;
                                    },
                                .step_result = [](const std::string& name) -> std::optional<tasker::json> {
                                  if (name == "parent") return tasker::json{{"x", 1}};
                                  return std::nullopt;
                                }};
  tasker::StepContext ctx("11111111-2222-4333-8444-555555555555", "work", tasker::json::object(),
                          tasker::json::object(), {{"dep", 1}}, 1, tasker::SystemClock::instance().now(),
                          tasker::SystemClock::instance(), std::move(controls));
  tasker::detail::CommandRequests requests(ctx, limits);
  std::string answers;
  std::size_t lines = 0;
  while (input.remaining_bytes() > 0) {
    const std::string piece = input.ConsumeRandomLengthString(512);
    lines += static_cast<std::size_t>(std::count(piece.begin(), piece.end(), '\n'));
    answers += requests.feed(piece);
  }
  // One answer per line that held a request; none for empty lines. Never more answers than lines.
  const auto answered = static_cast<std::size_t>(std::count(answers.begin(), answers.end(), '\n'));
  FUZZ_CHECK(answered <= lines + 1);
  FUZZ_CHECK(fuzz::utf8(answers));
  std::size_t start = 0;
  while (start < answers.size()) {
    const std::size_t end = answers.find('\n', start);
    FUZZ_CHECK(end != std::string::npos);
    const tasker::json answer = tasker::json::parse(answers.substr(start, end - start));
    FUZZ_CHECK(answer.is_object() && answer.contains("ok") && answer["ok"].is_boolean());
    start = end + 1;
  }
  return 0;
}
