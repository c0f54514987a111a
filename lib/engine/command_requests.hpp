#pragma once
// What a command handler may ask the worker while it runs (docs/handlers.md,
// "Asking the worker"): JSON lines on the pipe named by TASKER_REQUEST_FD, each
// answered by one JSON line on TASKER_REPLY_FD. Requests: save_checkpoint,
// step_result (any completed step's result by name) and heartbeat.
#include <cstddef>
#include <string>
#include <string_view>

#include "tasker/handler.hpp"
#include "tasker/limits.hpp"

namespace tasker::detail {

/// Serves one attempt's requests. Not thread-safe: the thread running the
/// command feeds it what it reads and writes back what it returns.
class CommandRequests {
 public:
  /// Each request line is parsed within `limits` (its bytes and nesting).
  CommandRequests(StepContext& ctx, const JsonLimits& limits) : ctx_(ctx), limits_(limits) {}

  /// Bytes read from the request pipe; returns the answer lines to write
  /// (empty until a request line is complete). A line longer than
  /// limits.max_bytes is answered with an error and skipped.
  [[nodiscard]] std::string feed(std::string_view bytes);

  /// The answer to one request already parsed (the persistent protocol
  /// carries it inside its own message): {"ok": true, ...} or a refusal.
  [[nodiscard]] json respond(const json& request);

 private:
  [[nodiscard]] std::string answer(const std::string& line);

  StepContext& ctx_;
  JsonLimits limits_;
  std::string pending_;
  bool skipping_{false};  ///< inside a line that was too long
};

}  // namespace tasker::detail
