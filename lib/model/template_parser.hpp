#pragma once
// The template loader's walk of a YAML document. It reads yaml-cpp nodes itself
// (rather than decoding into types and failing at the first problem) so that
// every problem in a file is reported at once, each at its own line and column.
// One Parser per file; its work is split by concern: template_parser.cpp (reading
// values, the template's top level), step_parser.cpp (a step, its handler, retry,
// batch_config and dependencies), environments.cpp (environment overrides).
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/diagnostics.hpp"
#include "tasker/json.hpp"
#include "tasker/loader.hpp"
#include "tasker/retry.hpp"
#include "tasker/template.hpp"

namespace tasker::detail::loader {

/// The step name with which an environment overrides every step.
constexpr std::string_view kAllSteps = "ALL";

/// One key of a mapping with its nodes.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

struct RetryFields {
  std::optional<bool> retryable;
  std::optional<int> max_attempts;
  std::optional<BackoffKind> backoff;
  std::optional<std::int64_t> backoff_base_ms;
  std::optional<std::int64_t> max_backoff_ms;

  void apply_to(RetryPolicy& policy) const {
    if (retryable) policy.retryable = *retryable;
    if (max_attempts) policy.max_attempts = *max_attempts;
    if (backoff) policy.backoff = *backoff;
    if (backoff_base_ms) policy.backoff_base_ms = *backoff_base_ms;
    if (max_backoff_ms) policy.max_backoff_ms = *max_backoff_ms;
  }
};

/// Everything a step entry (or an environment override of one) may set.
struct StepFields {
  std::optional<std::string> name;
  SourceLocation location;
  std::optional<std::string> description;
  std::optional<std::string> callable;
  std::optional<json> initialization;
  std::optional<std::vector<std::string>> command;
  std::optional<bool> shell;
  std::optional<bool> persistent;
  json handler_extra = json::object();
  bool has_handler{false};
  bool callable_key{false};  ///< `callable:` was written (validity is reported where it is parsed)
  std::optional<std::vector<std::string>> dependencies;
  std::vector<SourceLocation> dependency_locations;
  RetryFields retry;
  std::optional<int> timeout_seconds;
  StepType type{StepType::standard};
  std::optional<BatchConfig> batch_config;
  std::optional<SignalSpec> signal;
  std::optional<SleepSpec> sleep;
  std::optional<YAML::Node> wait_node;  ///< the key of `signal:` or `sleep:`, when given
  SourceLocation batch_config_location;
  SourceLocation worker_template_name_location;
  json extra = json::object();
};

class Parser {
 public:
  Parser(std::string file, std::vector<Diagnostic>& diagnostics) : file_(std::move(file)), diagnostics_(diagnostics) {}

  SourceLocation location(const YAML::Node& node) const {
    YAML::Mark mark = node.Mark();
    if (mark.line < 0) return {file_, 0, 0};
    return {file_, mark.line + 1, mark.column + 1};
  }

  void report(Severity severity, SourceLocation at, std::string key, std::string message, std::string hint = {}) {
    if (at.file.empty()) at.file = file_;
    diagnostics_.push_back({severity, std::move(at), std::move(key), std::move(message), std::move(hint)});
    if (severity == Severity::error) ++errors_;
  }
  void error(const YAML::Node& at, std::string key, std::string message, std::string hint = {}) {
    report(Severity::error, location(at), std::move(key), std::move(message), std::move(hint));
  }
  void warning(const YAML::Node& at, std::string key, std::string message, std::string hint = {}) {
    report(Severity::warning, location(at), std::move(key), std::move(message), std::move(hint));
  }
  [[nodiscard]] std::size_t errors() const { return errors_; }

  // Reading values (template_parser.cpp): a value that is wrong is reported, and nothing returned.

  /// The entries of a mapping, in order; a repeated key is an error (yaml-cpp keeps both silently).
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path);

  static std::string join_key(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  /// Unknown key: warned about when it looks like a misspelt known key.
  /// `kept`: the value is preserved in the template's `extra`; otherwise it is ignored.
  void unknown_key(const Entry& e, const std::string& path, const std::vector<std::string>& known, bool kept = true);
  std::optional<std::string> string_value(const Entry& e, const std::string& path, bool allow_empty = false);
  std::optional<std::int64_t> integer_value(const Entry& e, const std::string& path, std::int64_t min, std::int64_t max,
                                            const std::string& unit = {});
  std::optional<bool> bool_value(const Entry& e, const std::string& path);
  bool expect_map(const Entry& e, const std::string& path, bool allow_null = false);

  // A step (step_parser.cpp).

  void parse_retry(const Entry& retry_entry, const std::string& path, RetryFields& out);
  void parse_handler(const Entry& handler_entry, const std::string& path, StepFields& out, bool override);
  void parse_batch_config(const Entry& entry, const std::string& path, StepFields& out);
  void parse_dependencies(const Entry& e, const std::string& path, StepFields& out);

  // Waiting steps (wait_parser.cpp).

  void parse_signal(const Entry& entry, const std::string& path, StepFields& out);
  void parse_sleep(const Entry& entry, const std::string& path, StepFields& out);
  /// A signal or sleep step: no handler, the block its type needs (a signal's
  /// defaults to its name), `until` naming the context or a dependency; a
  /// block on a step of another type is an error.
  void check_waiting_step(const YAML::Node& node, const std::string& path, StepFields& out);
  /// Parse a step mapping, or (override = true) an environment override of one.
  StepFields parse_step(const YAML::Node& node, const std::string& path, bool override);
  StepTemplate build_step(StepFields&& f);

  // Environment overrides (environments.cpp).

  static void apply_override(StepTemplate& step, const StepFields& o);
  /// Validate every environment's overrides; apply the active one's: `ALL` first, then by name.
  void parse_environments(const Entry& envs, TaskTemplate& tmpl, const std::vector<std::string>& step_names);

  // The template as a whole (template_parser.cpp).

  /// `steps.<name>` when the step has a usable name, else `steps[<index>]`.
  static std::string step_path(const YAML::Node& step, std::size_t index);
  static bool valid_version(const std::string& v);
  void check_identifier(const Entry& e, const std::string& value);
  void check_graph(const TaskTemplate& tmpl);
  std::optional<TaskTemplate> parse_template(const YAML::Node& doc, const LoadOptions& options);

 private:
  std::string file_;
  std::vector<Diagnostic>& diagnostics_;
  std::size_t errors_{0};
};

}  // namespace tasker::detail::loader
