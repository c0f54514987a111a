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

struct CommandSpec {
  std::vector<std::string> argv;                                ///< program and arguments; run without a shell
  bool shell{false};                                            ///< run argv joined by spaces through /bin/sh -c
  std::filesystem::path working_directory;                      ///< empty: the worker's
  std::map<std::string, std::string> environment;               ///< added to the worker's environment
  std::chrono::milliseconds kill_grace{2'000};                  ///< after SIGTERM, wait this long before SIGKILL
  std::size_t max_output_bytes{std::size_t{16} * 1024 * 1024};  ///< per stream; a command that writes more is killed
  JsonLimits limits{};                                          ///< on the result it prints (docs/limits.md)

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
[[nodiscard]] StepHandler make_command_handler(CommandSpec spec);

/// Whether `program` can be executed: a path that exists and is executable,
/// or a name found on PATH.
[[nodiscard]] bool command_exists(const std::string& program);

/// Register a command handler for every step of `templates` that has a
/// `handler.command`; relative programs and the working directory resolve
/// against the template file's folder. Throws TemplateError when one callable
/// is given two different commands, or a command's program cannot be found.
/// Returns the callables registered. `limits` apply to every command's result.
std::vector<std::string> register_command_handlers(HandlerRegistry& registry, const TemplateSet& templates,
                                                   const JsonLimits& limits = {});

}  // namespace tasker
