#pragma once
// Handlers written in any language (docs/design.md, "Handlers in any language"):
// a step runs a command that reads the step input as JSON on stdin and writes
// its result as JSON on stdout. The protocol is documented in docs/handlers.md.
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tasker/handler.hpp"
#include "tasker/limits.hpp"
#include "tasker/template_set.hpp"

namespace tasker {

/// Exit codes by which a command reports a failure it understands.
inline constexpr int kCommandExitPermanent = 10;  ///< do not retry
inline constexpr int kCommandExitRetryable = 11;  ///< retry per the step's policy

/// The version of the persistent protocol this library speaks (docs/handlers.md,
/// "Persistent handler processes"); a persistent command says which it speaks
/// in its first line, and the worker sets TASKER_PERSISTENT_PROTOCOL to this.
inline constexpr int kPersistentProtocolVersion = 1;

struct CommandSpec {
  std::vector<std::string> argv;                                ///< program and arguments; run without a shell
  bool shell{false};                                            ///< run argv joined by spaces through /bin/sh -c
  std::filesystem::path working_directory;                      ///< empty: the worker's
  std::map<std::string, std::string> environment;               ///< added to the worker's environment
  std::chrono::milliseconds kill_grace{2'000};                  ///< after SIGTERM, wait this long before SIGKILL
  std::size_t max_output_bytes{std::size_t{16} * 1024 * 1024};  ///< per stream; a command that writes more is killed
  JsonLimits limits{};                                          ///< on the result it prints (docs/limits.md)
  /// Keep the command running between attempts and send it each attempt as a
  /// request line (docs/handlers.md, "Persistent handler processes").
  bool persistent{false};
  /// The step's callable: sent with each attempt of a persistent command, and
  /// to a per-attempt command as TASKER_CALLABLE (empty: not sent). Required when persistent.
  std::string callable;

  [[nodiscard]] std::string display() const;  ///< the command line, for messages
};

/// The JSON document a command receives on stdin.
[[nodiscard]] json command_input(const StepContext& ctx);

/// A StepHandler that runs `spec` once per attempt in its own process group.
/// Exit 0: stdout is the result JSON (empty: null). Exit 10/11: permanent /
/// retryable failure, stdout may hold {"message", "retry_after_ms", "context"}.
/// Any other exit, a signal, or stdout that is not JSON or beyond `spec.limits`
/// (`invalid_output`): a retryable failure whose message carries the end of stderr. When the step's deadline passes or
/// the attempt is cancelled, the whole process group is terminated.
///
/// With `spec.persistent`, the command instead stays up and runs many attempts,
/// one at a time per process, each sent as one line on its stdin and answered
/// on its stdout; a process is started when an attempt finds none idle, so a
/// worker with N handler threads runs at most N per command. Handlers made
/// from equal specs (all but `callable` equal) share their processes, which
/// end when the last such handler is destroyed. A timed-out or cancelled
/// attempt, or a process that breaks the protocol, has that process killed; one
/// that dies fails only its attempt, and is replaced (after repeated deaths,
/// with a growing pause). Throws InvalidRequestError when argv is empty, or
/// when persistent and `callable` is empty.
[[nodiscard]] StepHandler make_command_handler(CommandSpec spec);

/// Whether `program` can be executed: a path that exists and is executable,
/// or a name found on PATH.
[[nodiscard]] bool command_exists(const std::string& program);

/// Register a command handler for every step of `templates` that has a
/// `handler.command` (persistent when `handler.persistent`); relative programs
/// and the working directory resolve against the template file's folder.
/// Throws TemplateError when one callable is given two different commands (or
/// one persistent and one not), or a command's program cannot be found.
/// Returns the callables registered. `limits` apply to every command's result.
std::vector<std::string> register_command_handlers(HandlerRegistry& registry, const TemplateSet& templates,
                                                   const JsonLimits& limits = {});

}  // namespace tasker
