#pragma once
// The task template model (docs/design.md, "Templates"): tasker-core's YAML schema
// as plain types. Loading lives in loader.hpp; graph logic in dag.hpp.
#include <optional>
#include <string>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/identity.hpp"
#include "tasker/json.hpp"
#include "tasker/retry.hpp"

namespace tasker {

/// How a step's handler is found. `callable` is the name a worker registers;
/// `command` (a tasker extension) makes the CLI worker run an external program.
struct HandlerSpec {
  std::string callable;
  json initialization = json::object();  ///< passed to the handler unchanged
  std::vector<std::string> command;      ///< argv of a command handler; empty for in-process handlers
  bool shell{false};                     ///< run `command` through /bin/sh -c (only when asked)
  json extra = json::object();           ///< keys tasker does not act on (method, resolver, ...), preserved
};

/// Default timeout of a step when the template gives none.
inline constexpr int kDefaultTimeoutSeconds = 30;
inline constexpr int kMaxTimeoutSeconds = 7 * 24 * 3600;

struct StepTemplate {
  std::string name;
  std::string description;
  HandlerSpec handler;
  std::vector<std::string> dependencies;  ///< names of steps that must complete first
  RetryPolicy retry;
  int timeout_seconds{kDefaultTimeoutSeconds};
  json extra = json::object();  ///< keys tasker does not act on yet, preserved

  SourceLocation location;                           ///< of the step's `name:`
  std::vector<SourceLocation> dependency_locations;  ///< parallel to `dependencies`
};

/// A namespaced, versioned DAG of steps, with the active environment's
/// overrides already merged in.
struct TaskTemplate {
  std::string name;
  std::string namespace_name;
  std::string version;
  std::string description;
  json metadata = json::object();
  IdentityStrategy identity_strategy{IdentityStrategy::strict};
  std::vector<StepTemplate> steps;
  json extra = json::object();  ///< top-level keys tasker does not act on yet, preserved
  std::string environment;      ///< the environment whose overrides were applied
  SourceLocation location;      ///< of the template (file, and the document's first line)

  /// `namespace/name@version`, how templates are named in messages and the CLI.
  [[nodiscard]] std::string qualified_name() const;
  /// The step with this name, or nullptr.
  [[nodiscard]] const StepTemplate* find_step(std::string_view step_name) const;
};

}  // namespace tasker
