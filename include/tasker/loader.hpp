#pragma once
// Loading and validating templates from YAML. Validation is offline and
// complete: every problem in a file is reported, each with file:line:column.
#include <filesystem>
#include <string>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/limits.hpp"
#include "tasker/template.hpp"

namespace tasker {

/// The environment used when none is given: TASKER_ENV, else "development".
[[nodiscard]] std::string default_environment();

struct LoadOptions {
  std::string environment = default_environment();  ///< whose `environments.<env>` overrides are merged
  TemplateLimits limits{};                          ///< size, nesting and alias expansion of a file (docs/limits.md)
};

/// What loading produced: the templates that are valid, and every finding.
/// A file with any error contributes no template.
struct LoadResult {
  std::vector<TaskTemplate> templates;
  std::vector<Diagnostic> diagnostics;
  std::size_t files{0};  ///< YAML files read

  [[nodiscard]] bool ok() const { return !has_errors(diagnostics); }
};

/// Parse YAML text. `file` names the source in diagnostics. Never throws for
/// bad input: problems are diagnostics (a file beyond `options.limits` is
/// one, found before its content is walked).
[[nodiscard]] LoadResult load_templates_from_string(const std::string& yaml, const std::string& file,
                                                    const LoadOptions& options = {});

/// Load one file, or every *.yaml / *.yml file below a folder (sorted, recursive).
/// A missing path is a diagnostic, not an exception.
[[nodiscard]] LoadResult load_templates(const std::filesystem::path& path, const LoadOptions& options = {});

/// Load several paths into one result.
[[nodiscard]] LoadResult load_templates(const std::vector<std::filesystem::path>& paths,
                                        const LoadOptions& options = {});

/// Load exactly one template from a file; throws TemplateError with every
/// diagnostic when the file is invalid or does not hold exactly one template.
[[nodiscard]] TaskTemplate load_template_file(const std::filesystem::path& path, const LoadOptions& options = {});

}  // namespace tasker
