#pragma once
// The CLI's exit codes, the CLI's own error types, and the one place that maps
// errors to exit codes (report_current_exception).
#include <CLI/CLI.hpp>

#include <exception>
#include <string>

#include "tasker/errors.hpp"

namespace tasker::cli {

enum ExitCode : int {
  kOk = 0,
  kFailure = 1,        ///< a runtime failure: storage (e.g. an unreachable database), an unexpected error
  kUsage = 2,          ///< bad command line: unknown option or subcommand, missing or extra argument
  kNotFound = 3,       ///< no such task, step, template or database
  kInvalid = 4,        ///< invalid input: a malformed uuid or JSON, templates or configuration that fail
                       ///< validation, a request the engine rejects
  kTaskFailed = 5,     ///< `run`/`watch`: the task ended in error or was cancelled
  kInterrupted = 130,  ///< `run`/`watch`: stopped by SIGINT or SIGTERM before the task ended
};

/// A command line that cannot work as given (exit 2), found after parsing:
/// e.g. both --db and --server, or no database and no server at all.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// `run`/`watch`: the task ended in error or was cancelled. The message names
/// the step that failed and its last error.
class TaskFailedError : public Error {
 public:
  using Error::Error;
};

/// `run`/`watch` were interrupted by a signal before the task ended; the
/// message says how to resume.
class InterruptedError : public Error {
 public:
  using Error::Error;
};

/// Print `tasker: error: <message>` (one line) for the current exception to
/// stderr and return its exit code. Call from a catch block. Command-line
/// errors (CLI::ParseError) are printed by `app` (its failure message; --help
/// and --version print and return kOk).
int report_current_exception(const CLI::App& app);

}  // namespace tasker::cli
