#pragma once
// What a command handler may ask the worker while it runs (docs/handlers.md,
// "Asking the worker"): JSON lines on the pipe named by TASKER_REQUEST_FD, each
// answered by one JSON line on TASKER_REPLY_FD. Requests: save_checkpoint,
// step_result (any completed step's result by name) and heartbeat.
#include <cstddef>
#include <string>
#include <string_view>

#include "tasker/handler.hpp"

namespace tasker::detail {

/// Serves one attempt's requests. Not thread-safe: the thread running the
/// command feeds it what it reads and writes back what it returns.
class CommandRequests {
 public:
  CommandRequests(StepContext& ctx, std::size_t max_line_bytes) : ctx_(ctx), max_line_bytes_(max_line_bytes) {}

  /// Bytes read from the request pipe; returns the answer lines to write
  /// (empty until a request line is complete). A line longer than
  /// max_line_bytes is answered with an error and skipped.
  [[nodiscard]] std::string feed(std::string_view bytes);

 private:
  [[nodiscard]] std::string answer(const std::string& line);

  StepContext& ctx_;
  std::size_t max_line_bytes_;
  std::string pending_;
  bool skipping_{false};  ///< inside a line that was too long
};

}  // namespace tasker::detail
