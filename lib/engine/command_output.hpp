#pragma once
// What a command handler's attempt produced, turned into the step's result or
// its failure (docs/handlers.md, "Output" and "Failing a step"). Apart from
// running the process, so that any output can be tested (and fuzzed) alone.
#include <chrono>
#include <optional>
#include <string>
#include <type_traits>

#include "tasker/clock.hpp"
#include "tasker/command_handler.hpp"
#include "tasker/errors.hpp"
#include "tasker/json.hpp"

namespace tasker::detail {

/// How a command's attempt ended, as the process runner saw it.
struct CommandExit {
  int status{0};  ///< as waitpid() reported it
  bool killed_for_time{false};
  bool cancelled{false};
  bool output_too_large{false};
  std::string out;       ///< stdout, raw bytes
  std::string err;       ///< stderr, raw bytes
  TimePoint deadline{};  ///< the attempt's, named when it ran past it
};

/// Fail the attempt: throw E (RetryableError or PermanentError) with `type` as its error_type.
template <typename E>
[[noreturn]] void fail_with(std::string type, const std::string& message, json context,
                            std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
  if constexpr (std::is_same_v<E, RetryableError>) {
    RetryableError e(message, retry_after, std::move(context));
    e.set_error_type(std::move(type));
    throw e;
  } else {
    PermanentError e(message, std::move(context));
    e.set_error_type(std::move(type));
    throw e;
  }
}

/// What every failure of a command carries: its command line and the end of
/// its stderr in the error's context, and stderr's last lines in the message.
struct CommandFailureContext {
  json context;              ///< {"command", "stderr" (last 2000 characters, when any)}
  std::string stderr_short;  ///< the last 300 characters of stderr (empty when none)
  /// `message` with "; stderr: ..." when the command wrote to stderr.
  [[nodiscard]] std::string with_stderr(const std::string& message) const;
};
[[nodiscard]] CommandFailureContext failure_context(const CommandSpec& spec, const std::string& err);

/// A failure document's `retry_after_ms` when it is a number of milliseconds
/// (clamped like a template's backoff); anything else: none.
[[nodiscard]] std::optional<std::chrono::milliseconds> retry_after_of(const json& doc);

/// The last `n` bytes of `text` (marked with "..." when cut), without trailing
/// newlines, as valid UTF-8 (a cut may split a character).
[[nodiscard]] std::string tail(const std::string& text, std::size_t n);

/// The step's result, or throws the PermanentError / RetryableError that fails
/// the attempt. stdout is parsed within `spec.limits`; every message and
/// context built here is valid UTF-8 and storable, whatever the command printed.
[[nodiscard]] json command_result(const CommandSpec& spec, const CommandExit& exit);

}  // namespace tasker::detail
