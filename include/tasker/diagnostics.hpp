#pragma once
// Where a problem is and what to do about it: the unit of every validation
// report (templates, configuration). Plain data, no I/O.
#include <string>
#include <vector>

namespace tasker {

/// A position in a source file; line and column are 1-based, 0 when unknown.
struct SourceLocation {
  std::string file;
  int line{0};
  int column{0};
};

enum class Severity { error, warning };

/// One finding: `file:line:col: error: message` plus the key at fault and a hint.
struct Diagnostic {
  Severity severity{Severity::error};
  SourceLocation location;
  std::string key;      ///< the key or name at fault, e.g. `retry.max_attempts` or a step name
  std::string message;  ///< what is wrong
  std::string hint;     ///< how to fix it; empty when there is nothing useful to add

  /// `file:line:col: error: message (hint: ...)` — the compiler-style one-liner.
  [[nodiscard]] std::string to_string() const;
};

/// True when any diagnostic is an error (warnings never fail validation).
[[nodiscard]] bool has_errors(const std::vector<Diagnostic>& diagnostics);

/// The closest candidate to `word` by edit distance, or "" when none is close
/// enough to be a plausible misspelling. Used for "did you mean" hints.
[[nodiscard]] std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace tasker
