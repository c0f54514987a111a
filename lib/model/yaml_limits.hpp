#pragma once
// The template loader's limits (docs/limits.md), checked on the parser's
// events before yaml-cpp builds a node tree that the loader would walk.
#include <string>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/limits.hpp"

namespace tasker::detail {

/// Problems of a template file as a whole: its size, nesting deeper than
/// `limits.max_depth`, more than `limits.max_nodes` nodes once every alias is
/// expanded (aliases are counted, never followed), an alias inside the node it
/// names, and text that is not UTF-8. Each at its file:line:col. Empty when
/// the file is within limits; YAML syntax errors are left to the loader, but
/// for text yaml-cpp would read for ever (it loops on a file holding `,`).
[[nodiscard]] std::vector<Diagnostic> check_template_limits(const std::string& yaml, const std::string& file,
                                                            const TemplateLimits& limits);

/// A file of `bytes` (`at_least`: more, it was not read to its end) beyond `max_bytes`.
[[nodiscard]] Diagnostic template_too_large(const std::string& file, std::size_t bytes, bool at_least,
                                            std::size_t max_bytes);

}  // namespace tasker::detail
