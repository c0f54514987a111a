#pragma once
// Limits on the input tasker does not control (docs/limits.md): template
// files, task contexts, manual results, handler results and command output.
// They keep one hostile or careless document from crashing or stalling a
// process: each is checked before the input is built deep or written, and the
// checks are iterative (a value nested 100,000 levels deep is measured, not
// recursed into). A violation raises LimitError (templates: a diagnostic).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tasker/json.hpp"

namespace tasker {

/// JSON that comes from outside: task contexts, manual results, handler results, command output.
struct JsonLimits {
  std::size_t max_depth{128};                           ///< arrays and objects nested in one another (`[[1]]` is 2)
  std::size_t max_bytes{std::size_t{8} * 1024 * 1024};  ///< the JSON text (a built value: its compact serialisation)
};

/// Template files.
struct TemplateLimits {
  std::size_t max_bytes{std::size_t{16} * 1024 * 1024};  ///< one file
  std::size_t max_depth{64};         ///< mappings and lists nested in one another (the template is 1)
  std::size_t max_nodes{1'000'000};  ///< scalars, mappings and lists of a file, every alias expanded
};

/// Every limit; Config reads them from its `limits` section (see config.hpp).
struct Limits {
  JsonLimits json;
  TemplateLimits templates;
};

/// Configuration keys of the limits. Each also reads the environment variable
/// named by limit_environment_variable (TASKER_LIMITS_JSON_MAX_DEPTH, ...).
inline constexpr std::string_view kJsonMaxDepthKey = "limits.json_max_depth";
inline constexpr std::string_view kJsonMaxBytesKey = "limits.json_max_bytes";
inline constexpr std::string_view kTemplateMaxBytesKey = "limits.template_max_bytes";
inline constexpr std::string_view kTemplateMaxDepthKey = "limits.template_max_depth";
inline constexpr std::string_view kTemplateMaxNodesKey = "limits.template_max_nodes";

/// `limits.json_max_depth` -> `TASKER_LIMITS_JSON_MAX_DEPTH`.
[[nodiscard]] std::string limit_environment_variable(std::string_view key);

/// The wording every limit violation shares (LimitError, the loader's diagnostics):
/// "<found>, more than <key> allows (<allowed>)", e.g. found = "the task context is 9 MiB".
[[nodiscard]] std::string limit_exceeded(std::string_view found, std::string_view key, std::size_t allowed);
/// "raise <key> (environment variable <ENV>) if such input is expected".
[[nodiscard]] std::string raise_limit_hint(std::string_view key);

/// Parse JSON text within `limits`. Text longer than max_bytes is refused
/// unread; nesting deeper than max_depth stops the parser before the deeper
/// level is built. Throws LimitError naming `what` (e.g. "the task context"),
/// or json::exception for text that is not JSON: json::parse_error (including
/// invalid UTF-8), json::out_of_range for a number beyond a double (1e400).
[[nodiscard]] json parse_json(std::string_view text, const JsonLimits& limits, std::string_view what);

/// The shape of a built value, measured without recursion.
struct JsonMeasure {
  std::size_t depth{0};                     ///< arrays and objects nested in one another; a scalar is 0
  std::size_t bytes{0};                     ///< the length of value.dump(), computed without building it
  std::optional<std::string> invalid_utf8;  ///< JSON pointer of the first string (or key) that is not UTF-8
};
[[nodiscard]] JsonMeasure measure_json(const json& value);

/// Check an already built value (a host's, a C++ handler's) before it is
/// serialised, hashed or copied: throws LimitError (too deep, too large) or
/// InvalidRequestError (a string that is not valid UTF-8, naming where) naming `what`.
void check_json(const json& value, const JsonLimits& limits, std::string_view what);

/// A JSON exception's message without nlohmann's "[json.exception.parse_error.101] "
/// prefix, as valid UTF-8 (a parse error quotes the input it stopped at).
[[nodiscard]] std::string json_error_text(const json::exception& e);

/// `bytes` with every byte that does not belong to a valid UTF-8 sequence
/// replaced by U+FFFD: for text from outside (a command's stderr) that goes
/// into messages and error contexts, which must be storable JSON.
[[nodiscard]] std::string valid_utf8(std::string_view bytes);

/// Where `bytes` stops being valid UTF-8 (npos when it is valid throughout).
[[nodiscard]] std::size_t invalid_utf8_offset(std::string_view bytes);

}  // namespace tasker
