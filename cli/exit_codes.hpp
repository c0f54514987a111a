#pragma once
// The CLI's exit codes, and the one place that maps errors to them.
#include <exception>

namespace tasker::cli {

enum ExitCode : int {
  kOk = 0,
  kFailure = 1,      ///< a runtime failure: storage, a handler command, an unexpected error
  kUsage = 2,        ///< bad command line: unknown option, malformed argument or JSON
  kNotFound = 3,     ///< no such task, step or template
  kInvalid = 4,      ///< validation failed: templates, configuration, a rejected request
  kTaskFailed = 5,   ///< `run`/`watch`: the task ended in error or was cancelled
};

/// Print `tasker: error: <message>` for the current exception to stderr and
/// return its exit code. Call from a catch block.
int report_current_exception();

}  // namespace tasker::cli
