#pragma once
// The persistent protocol's messages (docs/handlers.md, "Persistent handler
// processes"): the lines the worker writes to a persistent command, and the
// lines it reads back, understood or refused. Apart from the processes, so
// that any line can be tested (and fuzzed) alone.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tasker/command_handler.hpp"
#include "tasker/json.hpp"
#include "tasker/limits.hpp"

namespace tasker::detail {

/// A line from a persistent command, understood.
struct ProcessMessage {
  enum class Type { ready, request, result, failure };
  Type type{Type::ready};
  std::int64_t id{0};          ///< the attempt it belongs to (ready: 0)
  std::int64_t request_id{0};  ///< request: the number its reply carries back
  json body;  ///< ready: the protocol version; request: the request; result: the result; failure: the whole message
};

/// A line that breaks the protocol: what it is and what was expected.
class ProtocolViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses one line (its newline removed). The line is parsed as JSON at most
/// `limits.max_depth` + 2 deep (the message's own levels) and `max_line_bytes`
/// long; the payload's own limits are checked by whoever uses it. Throws
/// ProtocolViolation naming what is wrong with the line, never anything else.
[[nodiscard]] ProcessMessage parse_process_line(std::string_view line, const JsonLimits& limits,
                                                std::size_t max_line_bytes);

/// The line that sends an attempt (with its newline).
[[nodiscard]] std::string attempt_line(std::int64_t id, const std::string& callable, const json& input);
/// The line that answers a request (with its newline).
[[nodiscard]] std::string reply_line(std::int64_t id, std::int64_t request_id, const json& reply);

/// The step's result from a result or failure message, or throws the
/// PermanentError / RetryableError that fails the attempt; `err` is what the
/// process wrote on stderr during the attempt (its end goes into a failure).
/// Every message and context built here is valid UTF-8 and storable.
[[nodiscard]] json answered_outcome(const CommandSpec& spec, const ProcessMessage& message, const std::string& err);

}  // namespace tasker::detail
