// Template loading and validation. The loader walks yaml-cpp nodes itself
// (rather than decoding into types and failing at the first problem) so that
// every problem in a file is reported at once, each at its own line and column.
#include "tasker/loader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "model/yaml_limits.hpp"
#include "tasker/dag.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"

namespace tasker {

std::string default_environment() {
  const char* env = std::getenv("TASKER_ENV");
  return env && *env ? env : "development";
}

namespace {

const std::vector<std::string> kTopLevelKeys{"name",     "namespace_name", "version",      "description",
                                             "metadata", "steps",          "environments", "identity_strategy"};
// Keys of tasker-core's schema that tasker accepts and preserves without acting on them.
const std::vector<std::string> kPreservedTopLevelKeys{
    "input_schema",  "domain_events", "system_dependencies",      "lifecycle",
    "result_schema", "task_handler",  "default_dependent_system", "named_steps"};
const std::vector<std::string> kStepKeys{"name",  "description",     "handler", "dependencies", "depends_on",
                                         "retry", "timeout_seconds", "type",    "batch_config"};
const std::vector<std::string> kPreservedStepKeys{"system_dependency",   "publishes_events", "lifecycle",
                                                  "result_schema",       "dependent_system", "default_retryable",
                                                  "default_retry_limit", "skippable"};
const std::vector<std::string> kBatchConfigKeys{"batch_size", "parallelism", "cursor_field", "worker_template",
                                                "failure_strategy"};
const std::vector<std::string> kHandlerKeys{"callable", "initialization", "command", "shell"};
const std::vector<std::string> kRetryKeys{"retryable", "max_attempts",    "limit",
                                          "backoff",   "backoff_base_ms", "max_backoff_ms"};
constexpr std::string_view kAllSteps = "ALL";

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// ---------------------------------------------------------------------------
// YAML scalars -> JSON, with YAML 1.2 core-schema resolution (so `yes` stays a
// string, unlike yaml-cpp's YAML 1.1 bool decoding).

bool is_quoted_or_str(const YAML::Node& node) { return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str"; }

std::optional<std::int64_t> parse_integer(const std::string& s) {
  std::string_view v = s;
  bool negative = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) negative = v[0] == '-', v.remove_prefix(1);
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) return std::nullopt;  // one sign, then digits
  int base = 10;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'o')) base = v[1] == 'x' ? 16 : 8, v.remove_prefix(2);
  if (v.empty() || !std::isxdigit(static_cast<unsigned char>(v[0]))) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value, base);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return negative ? -value : value;
}

std::optional<double> parse_float(const std::string& s) {
  static const std::set<std::string> inf{".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  static const std::set<std::string> ninf{"-.inf", "-.Inf", "-.INF"};
  static const std::set<std::string> nan{".nan", ".NaN", ".NAN"};
  if (inf.count(s)) return std::numeric_limits<double>::infinity();
  if (ninf.count(s)) return -std::numeric_limits<double>::infinity();
  if (nan.count(s)) return std::numeric_limits<double>::quiet_NaN();
  if (s.empty() || s.find_first_not_of("+-.0123456789eE") != std::string::npos) return std::nullopt;
  if (s.find_first_of("0123456789") == std::string::npos) return std::nullopt;
  // from_chars takes a leading '-' but not '+'; YAML allows both, once.
  std::string_view v = s;
  if (v[0] == '+' || v[0] == '-') {
    if (v.size() < 2 || v[1] == '+' || v[1] == '-') return std::nullopt;
    if (v[0] == '+') v.remove_prefix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return value;
}

json scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (is_quoted_or_str(node)) return s;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto i = parse_integer(s)) return *i;
  if (auto f = parse_float(s)) return *f;
  return s;
}

/// Absent, `~`, `null` or an empty value.
bool is_null(const YAML::Node& node) {
  return !node || node.IsNull() || (node.IsScalar() && !is_quoted_or_str(node) && scalar_to_json(node).is_null());
}

json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) array.push_back(to_json(item));
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& kv : node) object[kv.first.Scalar()] = to_json(kv.second);
      return object;
    }
    default: return nullptr;
  }
}

/// Deep merge for environment overrides of `initialization`: objects merge key
/// by key, anything else replaces.
void merge_json(json& target, const json& patch) {
  if (!target.is_object() || !patch.is_object()) {
    target = patch;
    return;
  }
  for (const auto& [key, value] : patch.items()) merge_json(target[key], value);
}

// ---------------------------------------------------------------------------

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
  json handler_extra = json::object();
  bool has_handler{false};
  bool callable_key{false};  ///< `callable:` was written (validity is reported where it is parsed)
  std::optional<std::vector<std::string>> dependencies;
  std::vector<SourceLocation> dependency_locations;
  RetryFields retry;
  std::optional<int> timeout_seconds;
  StepType type{StepType::standard};
  std::optional<BatchConfig> batch_config;
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

  /// The entries of a mapping, in order; a repeated key is an error (yaml-cpp keeps both silently).
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path) {
    std::vector<Entry> out;
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        error(kv.first, path, fmt::format("keys of `{}` must be plain names", path.empty() ? "the template" : path));
        continue;
      }
      std::string key = kv.first.Scalar();
      if (!seen.insert(key).second) {
        error(kv.first, join_key(path, key), fmt::format("key `{}` appears twice", join_key(path, key)),
              "remove one of them; YAML keeps only one value per key");
        continue;
      }
      out.push_back({key, kv.first, kv.second});
    }
    return out;
  }

  static std::string join_key(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  /// Unknown key: warned about when it looks like a misspelt known key.
  /// `kept`: the value is preserved in the template's `extra`; otherwise it is ignored.
  void unknown_key(const Entry& e, const std::string& path, const std::vector<std::string>& known, bool kept = true) {
    std::string suggestion = closest_match(e.key, known);
    if (!suggestion.empty())
      warning(e.key_node, join_key(path, e.key),
              fmt::format("unknown key `{}` is {}", join_key(path, e.key), kept ? "kept but not used" : "ignored"),
              fmt::format("did you mean `{}`?", suggestion));
  }

  std::optional<std::string> string_value(const Entry& e, const std::string& path, bool allow_empty = false) {
    if (!e.value.IsScalar() || (!is_quoted_or_str(e.value) && scalar_to_json(e.value).is_null())) {
      error(e.value.IsNull() ? e.key_node : e.value, join_key(path, e.key),
            fmt::format("`{}` must be a text value", join_key(path, e.key)));
      return std::nullopt;
    }
    if (!allow_empty && e.value.Scalar().empty()) {
      error(e.value, join_key(path, e.key), fmt::format("`{}` must not be empty", join_key(path, e.key)));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  std::optional<std::int64_t> integer_value(const Entry& e, const std::string& path, std::int64_t min, std::int64_t max,
                                            const std::string& unit = {}) {
    std::string key = join_key(path, e.key);
    const YAML::Node& at = e.value.IsNull() ? e.key_node : e.value;
    if (!e.value.IsScalar()) {
      error(at, key, fmt::format("`{}` must be a whole number", key));
      return std::nullopt;
    }
    const std::string& text = e.value.Scalar();
    auto value = is_quoted_or_str(e.value) ? std::nullopt : parse_integer(text);
    if (!value) {
      std::string hint =
          is_quoted_or_str(e.value) ? "remove the quotes" : fmt::format("use a whole number from {} to {}", min, max);
      error(at, key, fmt::format("`{}` must be a whole number, got `{}`", key, text), hint);
      return std::nullopt;
    }
    if (*value < min || *value > max) {
      error(at, key, fmt::format("`{}` is {}{}, outside {}..{}", key, *value, unit, min, max),
            *value < min ? fmt::format("use a value of at least {}", min)
                         : fmt::format("use a value of at most {}", max));
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> bool_value(const Entry& e, const std::string& path) {
    std::string key = join_key(path, e.key);
    if (e.value.IsScalar() && !is_quoted_or_str(e.value)) {
      json v = scalar_to_json(e.value);
      if (v.is_boolean()) return v.get<bool>();
    }
    error(e.value.IsNull() ? e.key_node : e.value, key, fmt::format("`{}` must be true or false", key),
          "YAML 1.1 spellings such as yes/no/on/off are not booleans here");
    return std::nullopt;
  }

  bool expect_map(const Entry& e, const std::string& path, bool allow_null = false) {
    if (e.value.IsMap() || (allow_null && e.value.IsNull())) return true;
    error(e.value.IsNull() ? e.key_node : e.value, join_key(path, e.key),
          fmt::format("`{}` must be a mapping of keys", join_key(path, e.key)));
    return false;
  }

  // -------------------------------------------------------------------------

  void parse_retry(const Entry& retry_entry, const std::string& path, RetryFields& out) {
    std::string rpath = join_key(path, "retry");
    if (!expect_map(retry_entry, path)) return;
    std::optional<std::int64_t> limit;
    YAML::Node limit_node;
    for (const auto& e : entries(retry_entry.value, rpath)) {
      if (e.key == "retryable") {
        out.retryable = bool_value(e, rpath);
      } else if (e.key == "max_attempts") {
        if (auto v = integer_value(e, rpath, 0, kMaxAttemptsLimit)) out.max_attempts = static_cast<int>(*v);
      } else if (e.key == "limit") {
        limit = integer_value(e, rpath, 0, kMaxAttemptsLimit - 1);
        limit_node = e.key_node;
      } else if (e.key == "backoff") {
        if (auto name = string_value(e, rpath)) {
          if (auto kind = parse_backoff_kind(*name))
            out.backoff = kind;
          else {
            std::string suggestion = closest_match(*name, {"none", "linear", "exponential", "fibonacci"});
            error(e.value, join_key(rpath, "backoff"), fmt::format("unknown backoff `{}`", *name),
                  suggestion.empty()
                      ? "use none, linear, exponential or fibonacci"
                      : fmt::format("did you mean `{}`? (none, linear, exponential, fibonacci)", suggestion));
          }
        }
      } else if (e.key == "backoff_base_ms") {
        out.backoff_base_ms = integer_value(e, rpath, 0, kMaxBackoffLimitMs, " ms");
      } else if (e.key == "max_backoff_ms") {
        out.max_backoff_ms = integer_value(e, rpath, 0, kMaxBackoffLimitMs, " ms");
      } else if (e.key == "initial_delay" || e.key == "max_delay") {
        warning(e.key_node, join_key(rpath, e.key),
                fmt::format("`{}` is not used (tasker-core ignores it too)", join_key(rpath, e.key)),
                e.key == "initial_delay" ? "set `backoff_base_ms` (milliseconds) instead"
                                         : "set `max_backoff_ms` (milliseconds) instead");
      } else {
        unknown_key(e, rpath, kRetryKeys, /*kept=*/false);
      }
    }
    if (limit) {
      // docs/design.md: the legacy `limit` counts retries after the first attempt.
      if (out.max_attempts && *out.max_attempts != *limit + 1)
        error(limit_node, join_key(rpath, "limit"),
              fmt::format("`limit: {}` (retries after the first attempt) contradicts `max_attempts: {}` (all attempts)",
                          *limit, *out.max_attempts),
              "keep only `max_attempts`");
      else
        out.max_attempts = static_cast<int>(*limit + 1);
    }
  }

  void parse_handler(const Entry& handler_entry, const std::string& path, StepFields& out) {
    std::string hpath = join_key(path, "handler");
    if (!expect_map(handler_entry, path)) return;
    out.has_handler = true;
    std::optional<YAML::Node> quoted_command;
    for (const auto& e : entries(handler_entry.value, hpath)) {
      if (e.key == "callable") {
        out.callable_key = true;
        out.callable = string_value(e, hpath);
      } else if (e.key == "initialization") {
        if (expect_map(e, hpath, true)) out.initialization = e.value.IsNull() ? json::object() : to_json(e.value);
        if (e.value.IsMap() && e.value["worker_template_name"])
          out.worker_template_name_location = location(e.value["worker_template_name"]);
      } else if (e.key == "command") {
        std::vector<std::string> argv;
        if (e.value.IsSequence()) {
          for (const auto& item : e.value) {
            if (item.IsScalar() && !item.Scalar().empty())
              argv.push_back(item.Scalar());
            else
              error(item.IsNull() ? e.key_node : item, join_key(hpath, "command"),
                    "each element of `handler.command` must be a non-empty text value");
          }
        } else if (e.value.IsScalar() && !e.value.Scalar().empty()) {
          if (e.value.Scalar().find_first_of("'\"") != std::string::npos) quoted_command = e.value;
          std::istringstream words(e.value.Scalar());
          for (std::string w; words >> w;) argv.push_back(w);
        }
        if (argv.empty())
          error(e.value.IsNull() ? e.key_node : e.value, join_key(hpath, "command"),
                "`handler.command` must be a program and its arguments",
                "e.g. `command: [python3, handlers/validate_cart.py]`");
        else
          out.command = std::move(argv);
      } else if (e.key == "shell") {
        out.shell = bool_value(e, hpath);
      } else {
        out.handler_extra[e.key] = to_json(e.value);
        unknown_key(e, hpath, kHandlerKeys);
      }
    }
    if (quoted_command && !out.shell.value_or(false)) {
      // Without a shell the string is split on spaces: quotes would end up inside arguments.
      error(*quoted_command, join_key(hpath, "command"),
            "a `command` string is split on spaces and cannot quote arguments",
            "write it as a list, e.g. `command: [python3, \"my script.py\"]`, or set `shell: true`");
      out.command.reset();
    }
  }

  void parse_batch_config(const Entry& entry, const std::string& path, StepFields& out) {
    std::string bpath = join_key(path, "batch_config");
    out.batch_config_location = location(entry.key_node);
    if (!expect_map(entry, path)) return;
    BatchConfig config;
    for (const auto& e : entries(entry.value, bpath)) {
      if (e.key == "batch_size") {
        if (auto v = integer_value(e, bpath, 1, kMaxBatchSize)) config.batch_size = static_cast<int>(*v);
      } else if (e.key == "parallelism") {
        if (auto v = integer_value(e, bpath, 1, kMaxBatchParallelism)) config.parallelism = static_cast<int>(*v);
      } else if (e.key == "cursor_field") {
        if (auto v = string_value(e, bpath)) config.cursor_field = *v;
      } else if (e.key == "worker_template") {
        if (auto v = string_value(e, bpath)) config.worker_template = *v;
      } else if (e.key == "failure_strategy") {
        if (auto v = string_value(e, bpath)) {
          if (auto s = parse_failure_strategy(*v))
            config.failure_strategy = *s;
          else
            error(e.value, join_key(bpath, e.key), fmt::format("unknown failure_strategy `{}`", *v),
                  "use continue_on_failure (the default), fail_fast or isolate");
        }
      } else {
        unknown_key(e, bpath, kBatchConfigKeys, /*kept=*/false);
      }
    }
    out.batch_config = config;
  }

  void parse_dependencies(const Entry& e, const std::string& path, StepFields& out) {
    std::vector<std::string> deps;
    if (e.value.IsSequence()) {
      for (const auto& item : e.value) {
        if (item.IsScalar() && !item.Scalar().empty()) {
          deps.push_back(item.Scalar());
          out.dependency_locations.push_back(location(item));
        } else {
          error(item.IsNull() ? e.key_node : item, join_key(path, e.key),
                fmt::format("each dependency of `{}` must be a step name", path));
        }
      }
    } else if (e.value.IsScalar() && !e.value.Scalar().empty() && !scalar_to_json(e.value).is_null()) {
      error(e.value, join_key(path, e.key), fmt::format("`{}` must be a list of step names", join_key(path, e.key)),
            fmt::format("write `{}: [{}]`", e.key, e.value.Scalar()));
      return;
    } else if (!e.value.IsNull() && !(e.value.IsScalar() && scalar_to_json(e.value).is_null())) {
      error(e.value, join_key(path, e.key), fmt::format("`{}` must be a list of step names", join_key(path, e.key)));
      return;
    }
    out.dependencies = std::move(deps);
  }

  /// Parse a step mapping, or (override = true) an environment override of one.
  StepFields parse_step(const YAML::Node& node, const std::string& path, bool override) {
    StepFields out;
    out.location = location(node);
    if (!node.IsMap()) {
      error(node, path, fmt::format("`{}` must be a mapping with at least `name:` and `handler:`", path));
      return out;
    }
    bool dependencies_seen = false;
    bool type_seen = false;
    for (const auto& e : entries(node, path)) {
      if (e.key == "name") {
        out.name = string_value(e, path);
        out.location = location(e.value);
        if (!override && out.name == kAllSteps)
          error(e.value, join_key(path, "name"), "`ALL` is reserved: environment overrides use it for every step",
                "rename the step");
      } else if (e.key == "description") {
        if (!is_null(e.value)) out.description = string_value(e, path, true);
      } else if (e.key == "handler") {
        if (!(override && is_null(e.value))) parse_handler(e, path, out);
      } else if (e.key == "dependencies" || e.key == "depends_on") {
        if (override) {
          error(e.key_node, join_key(path, e.key), "dependencies cannot be changed per environment",
                "declare them on the step itself; environments may override handler, retry and timeout_seconds");
        } else if (dependencies_seen) {
          error(e.key_node, join_key(path, e.key), "both `dependencies` and `depends_on` are given",
                "`depends_on` is an alias of `dependencies`: keep one list");
        } else {
          dependencies_seen = true;
          parse_dependencies(e, path, out);
        }
      } else if (e.key == "retry") {
        if (!is_null(e.value)) parse_retry(e, path, out.retry);
      } else if (e.key == "timeout_seconds") {
        if (is_null(e.value)) continue;  // tasker-core: absent means the default
        if (auto v = integer_value(e, path, 1, kMaxTimeoutSeconds, " s")) out.timeout_seconds = static_cast<int>(*v);
      } else if ((e.key == "type" || e.key == "step_type" || e.key == "batch_config") && override) {
        error(e.key_node, join_key(path, e.key), fmt::format("a step's `{}` cannot be changed per environment", e.key),
              fmt::format("declare `{}` on the step itself", e.key));
      } else if (e.key == "type" || e.key == "step_type") {  // tasker-core accepts `step_type` as an alias
        if (type_seen) {
          error(e.key_node, join_key(path, e.key), "both `type` and `step_type` are given",
                "`step_type` is an alias of `type`: keep one");
          continue;
        }
        type_seen = true;
        if (auto type = string_value(e, path)) {
          if (auto t = parse_step_type(*type)) {
            out.type = *t;
          } else {
            std::string suggestion =
                closest_match(*type, {"standard", "decision", "deferred_convergence", "batchable", "batch_worker"});
            error(e.value, join_key(path, "type"), fmt::format("unknown step type `{}`", *type),
                  fmt::format("{}step types: standard (the default), decision, deferred_convergence, batchable, "
                              "batch_worker",
                              suggestion.empty() ? "" : fmt::format("did you mean `{}`? ", suggestion)));
          }
        }
      } else if (e.key == "batch_config") {
        parse_batch_config(e, path, out);
      } else {
        out.extra[e.key] = to_json(e.value);
        bool preserved =
            std::find(kPreservedStepKeys.begin(), kPreservedStepKeys.end(), e.key) != kPreservedStepKeys.end();
        if (!preserved) unknown_key(e, path, kStepKeys);
      }
    }
    if (!out.name) {
      if (!node["name"]) error(node, path, fmt::format("`{}` has no `name`", path), "add `name: <step_name>`");
    }
    if (!override) {
      if (!node["handler"])
        error(node, path, fmt::format("step `{}` has no `handler`", out.name.value_or(path)),
              "add `handler: {callable: <name>}`");
      else if (out.has_handler && !out.callable_key)
        error(node["handler"], join_key(path, "handler"),
              fmt::format("the handler of step `{}` has no `callable`", out.name.value_or(path)),
              "add `callable: <name the worker registers>`");
    }
    return out;
  }

  StepTemplate build_step(StepFields&& f) {
    StepTemplate step;
    step.name = f.name.value_or("");
    step.description = f.description.value_or("");
    step.handler.callable = f.callable.value_or("");
    if (f.initialization) step.handler.initialization = std::move(*f.initialization);
    if (f.command) step.handler.command = std::move(*f.command);
    step.handler.shell = f.shell.value_or(false);
    step.handler.extra = std::move(f.handler_extra);
    if (f.dependencies) step.dependencies = std::move(*f.dependencies);
    step.dependency_locations = std::move(f.dependency_locations);
    f.retry.apply_to(step.retry);
    step.timeout_seconds = f.timeout_seconds.value_or(kDefaultTimeoutSeconds);
    step.type = f.type;
    step.batch_config = f.batch_config;
    step.batch_config_location = f.batch_config_location;
    step.worker_template_name_location = f.worker_template_name_location;
    step.extra = std::move(f.extra);
    step.location = f.location;
    return step;
  }

  static void apply_override(StepTemplate& step, const StepFields& o) {
    if (o.description) step.description = *o.description;
    if (o.callable) step.handler.callable = *o.callable;
    if (o.initialization) merge_json(step.handler.initialization, *o.initialization);
    if (o.command) step.handler.command = *o.command;
    if (o.shell) step.handler.shell = *o.shell;
    merge_json(step.handler.extra, o.handler_extra);
    o.retry.apply_to(step.retry);
    if (o.timeout_seconds) step.timeout_seconds = *o.timeout_seconds;
    merge_json(step.extra, o.extra);
  }

  /// Validate every environment's overrides; apply the active one's: `ALL` first, then by name.
  void parse_environments(const Entry& envs, TaskTemplate& tmpl, const std::vector<std::string>& step_names) {
    if (!expect_map(envs, "", true) || envs.value.IsNull()) return;
    for (const auto& env : entries(envs.value, "environments")) {
      std::string epath = "environments." + env.key;
      if (!expect_map(env, "environments", true) || env.value.IsNull()) continue;
      std::vector<StepFields> overrides;
      for (const auto& e : entries(env.value, epath)) {
        if (e.key != "steps") {
          warning(e.key_node, join_key(epath, e.key), fmt::format("`{}` is ignored", join_key(epath, e.key)),
                  "environments may override `steps:` only");
          continue;
        }
        if (!e.value.IsSequence()) {
          if (!e.value.IsNull()) error(e.value, join_key(epath, "steps"), "`steps` must be a list of step overrides");
          continue;
        }
        std::size_t index = 0;
        for (const auto& item : e.value) {
          std::string opath = epath + "." + step_path(item, index++);
          StepFields o = parse_step(item, opath, true);
          if (o.name && *o.name != kAllSteps &&
              std::find(step_names.begin(), step_names.end(), *o.name) == step_names.end()) {
            std::string suggestion = closest_match(*o.name, step_names);
            report(Severity::error, o.location, opath + ".name",
                   fmt::format("environment `{}` overrides step `{}`, which is not a step of this template", env.key,
                               *o.name),
                   suggestion.empty() ? fmt::format("use one of: {}, or ALL", join(step_names))
                                      : fmt::format("did you mean `{}`?", suggestion));
            continue;
          }
          if (o.name) overrides.push_back(std::move(o));
        }
      }
      if (env.key != tmpl.environment) continue;
      for (bool all_pass : {true, false})
        for (const auto& o : overrides)
          if ((*o.name == kAllSteps) == all_pass)
            for (auto& step : tmpl.steps)
              if (all_pass || step.name == *o.name) apply_override(step, o);
    }
  }

  /// `steps.<name>` when the step has a usable name, else `steps[<index>]`.
  static std::string step_path(const YAML::Node& step, std::size_t index) {
    if (step.IsMap() && step["name"] && step["name"].IsScalar() && !step["name"].Scalar().empty())
      return "steps." + step["name"].Scalar();
    return fmt::format("steps[{}]", index);
  }

  static bool valid_version(const std::string& v) {
    // MAJOR[.MINOR[.PATCH]] with an optional -prerelease or +build suffix.
    std::size_t i = 0, parts = 0;
    while (i < v.size()) {
      std::size_t start = i;
      while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
      if (i == start) return false;
      ++parts;
      if (i == v.size()) break;
      if (v[i] == '-' || v[i] == '+') return i + 1 < v.size() && parts >= 1;
      if (v[i] != '.' || parts == 3) return false;
      ++i;
      if (i == v.size()) return false;
    }
    return parts >= 1 && parts <= 3;
  }

  void check_identifier(const Entry& e, const std::string& value) {
    if (value.find_first_of("/@ \t") != std::string::npos)
      error(e.value, e.key, fmt::format("`{}: {}` must not contain '/', '@' or spaces", e.key, value),
            "these characters separate namespace, name and version in `namespace/name@version`");
  }

  void check_graph(const TaskTemplate& tmpl) {
    for (auto& d : validate_graph(tmpl))
      report(d.severity, std::move(d.location), std::move(d.key), std::move(d.message), std::move(d.hint));
    for (auto& d : validate_dynamic_steps(tmpl))
      report(d.severity, std::move(d.location), std::move(d.key), std::move(d.message), std::move(d.hint));
  }

  std::optional<TaskTemplate> parse_template(const YAML::Node& doc, const LoadOptions& options) {
    std::size_t errors_before = errors_;
    TaskTemplate tmpl;
    tmpl.environment = options.environment;
    tmpl.location = location(doc);
    if (tmpl.location.line == 0) tmpl.location = {file_, 1, 1};
    if (!doc.IsMap()) {
      report(Severity::error, tmpl.location, "",
             "a template must be a mapping with `name`, `namespace_name`, `version` and `steps`");
      return std::nullopt;
    }
    std::optional<Entry> steps_entry, envs_entry, legacy_steps_entry, namespace_entry;
    for (const auto& e : entries(doc, "")) {
      if (e.key == "name") {
        if (auto v = string_value(e, "")) tmpl.name = *v, check_identifier(e, *v);
      } else if (e.key == "namespace_name") {
        if (auto v = string_value(e, "")) tmpl.namespace_name = *v, check_identifier(e, *v);
      } else if (e.key == "version") {
        if (auto v = string_value(e, "")) {
          if (valid_version(*v))
            tmpl.version = *v;
          else
            error(e.value, "version", fmt::format("`version: {}` is not a version number", *v),
                  "use MAJOR.MINOR.PATCH, e.g. 1.0.0");
        }
      } else if (e.key == "description") {
        if (!is_null(e.value)) tmpl.description = string_value(e, "", true).value_or("");
      } else if (e.key == "metadata") {
        if (expect_map(e, "", true)) tmpl.metadata = e.value.IsNull() ? json::object() : to_json(e.value);
      } else if (e.key == "identity_strategy") {
        if (auto v = string_value(e, "")) {
          if (auto s = parse_identity_strategy(*v))
            tmpl.identity_strategy = *s;
          else
            error(e.value, "identity_strategy", fmt::format("unknown identity_strategy `{}`", *v),
                  "use strict, caller_provided or always_unique");
        }
      } else if (e.key == "steps") {
        steps_entry = e;
      } else if (e.key == "environments") {
        envs_entry = e;
      } else {
        tmpl.extra[e.key] = to_json(e.value);
        if (e.key == "step_templates")
          legacy_steps_entry = e;
        else if (e.key == "namespace")
          namespace_entry = e;
        else if (std::find(kPreservedTopLevelKeys.begin(), kPreservedTopLevelKeys.end(), e.key) ==
                 kPreservedTopLevelKeys.end())
          unknown_key(e, "", kTopLevelKeys);
      }
    }

    auto missing = [&](const char* key, const std::string& hint) {
      report(Severity::error, tmpl.location, key, fmt::format("template has no `{}`", key), hint);
    };
    if (tmpl.name.empty() && !doc["name"]) missing("name", "add `name: <snake_case_name>`");
    if (tmpl.namespace_name.empty() && !doc["namespace_name"]) {
      if (namespace_entry)
        error(namespace_entry->key_node, "namespace", "`namespace:` is not a template key",
              "did you mean `namespace_name:`?");
      else
        missing("namespace_name", "add `namespace_name: <namespace>`");
    }
    if (tmpl.version.empty() && !doc["version"]) missing("version", "add `version: 1.0.0`");

    if (legacy_steps_entry) {
      error(legacy_steps_entry->key_node, "step_templates", "`step_templates:` is not a template key",
            "did you mean `steps:`? (tasker-core renamed it)");
    }
    std::vector<std::string> step_names;
    if (!steps_entry) {
      if (!legacy_steps_entry) missing("steps", "add `steps:` with at least one step");
    } else if (!steps_entry->value.IsSequence() || steps_entry->value.size() == 0) {
      error(steps_entry->value.IsNull() ? steps_entry->key_node : steps_entry->value, "steps",
            "`steps` must be a non-empty list of steps");
    } else {
      tmpl.steps.reserve(steps_entry->value.size());
      std::size_t index = 0;
      for (const auto& item : steps_entry->value) {
        StepFields fields = parse_step(item, step_path(item, index++), false);
        tmpl.steps.push_back(build_step(std::move(fields)));
      }
      step_names.reserve(tmpl.steps.size());
      for (const auto& s : tmpl.steps)
        if (!s.name.empty()) step_names.push_back(s.name);
      check_graph(tmpl);
    }
    if (envs_entry) parse_environments(*envs_entry, tmpl, step_names);

    if (errors_ != errors_before) return std::nullopt;
    return tmpl;
  }

 private:
  std::string file_;
  std::vector<Diagnostic>& diagnostics_;
  std::size_t errors_{0};
};

bool is_template_file(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

LoadResult load_templates_from_string(const std::string& yaml, const std::string& file, const LoadOptions& options) {
  LoadResult result;
  result.files = 1;
  Parser parser(file, result.diagnostics);
  // Before yaml-cpp builds nodes that the walk below would expand without end.
  result.diagnostics = detail::check_template_limits(yaml, file, options.limits);
  if (!result.diagnostics.empty()) return result;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::ParserException& e) {
    parser.report(Severity::error, {file, e.mark.line + 1, e.mark.column + 1}, "",
                  fmt::format("invalid YAML: {}", valid_utf8(e.msg)),  // yaml-cpp may quote the byte at fault
                  "check indentation, quoting and `key: value` syntax here");
    return result;
  } catch (const YAML::Exception& e) {
    parser.report(Severity::error, {file, 1, 1}, "", fmt::format("invalid YAML: {}", valid_utf8(e.what())));
    return result;
  }
  std::vector<YAML::Node> templates;
  for (auto& doc : docs)
    if (!doc.IsNull()) templates.push_back(doc);
  if (templates.empty()) {
    parser.report(Severity::error, {file, 1, 1}, "", "the file holds no template (it is empty)",
                  "a template needs at least `name`, `namespace_name`, `version` and `steps`");
    return result;
  }
  std::vector<TaskTemplate> parsed;
  for (const auto& doc : templates)
    if (auto t = parser.parse_template(doc, options)) parsed.push_back(std::move(*t));
  if (parser.errors() == 0) result.templates = std::move(parsed);
  return result;
}

namespace {
/// A problem with a file as a whole (no line). Built member by member: GCC 12
/// at -O3 misreports a braced temporary here as "maybe uninitialized".
Diagnostic file_problem(const std::filesystem::path& path, std::string message, std::string hint) {
  Diagnostic d;
  d.location.file = path.string();
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}

void load_file(const std::filesystem::path& path, const LoadOptions& options, LoadResult& into) {
  std::ifstream in(path, std::ios::binary);
  std::string display = path.string();
  if (!in) {
    into.diagnostics.push_back(file_problem(path, "cannot read the file", "check its permissions"));
    ++into.files;
    return;
  }
  // A file larger than a template may be is refused unread; one whose size is
  // unknown (a pipe, /dev/zero) is read only until it passes the limit.
  const std::size_t max_bytes = options.limits.max_bytes;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::string text;
  if (!ec && size > max_bytes) {
    into.diagnostics.push_back(detail::template_too_large(display, size, false, max_bytes));
    ++into.files;
    return;
  }
  std::array<char, 65536> chunk{};
  while (in && text.size() <= max_bytes) {
    in.read(chunk.data(), chunk.size());
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (text.size() > max_bytes) {
    into.diagnostics.push_back(detail::template_too_large(display, text.size(), true, max_bytes));
    ++into.files;
    return;
  }
  LoadResult one = load_templates_from_string(text, display, options);
  into.files += one.files;
  std::move(one.templates.begin(), one.templates.end(), std::back_inserter(into.templates));
  std::move(one.diagnostics.begin(), one.diagnostics.end(), std::back_inserter(into.diagnostics));
}

/// A path whose status cannot be read (`ec` from following it), in the loader's words.
Diagnostic unreadable(const std::filesystem::path& path, const std::error_code& ec) {
  if (ec == std::errc::too_many_symbolic_link_levels)
    return file_problem(path, "symbolic link loop: following the link leads back to a link already followed",
                        "point the link at a template file or folder, or remove it");
  return file_problem(path, fmt::format("cannot read it: {}", ec.message()), "check its permissions");
}
}  // namespace

LoadResult load_templates(const std::filesystem::path& path, const LoadOptions& options) {
  LoadResult result;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    result.diagnostics.push_back(unreadable(path, ec));
  } else if (std::filesystem::is_directory(status)) {
    std::vector<std::filesystem::path> files;
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!is_template_file(it->path())) continue;
      std::error_code entry_ec;
      const bool regular = it->is_regular_file(entry_ec);  // follows a symbolic link
      // A link to nothing is skipped, as editors leave them (Emacs's .#name.yaml locks).
      if (entry_ec && entry_ec != std::errc::no_such_file_or_directory)
        result.diagnostics.push_back(unreadable(it->path(), entry_ec));
      else if (regular)
        files.push_back(it->path());
    }
    if (ec)
      result.diagnostics.push_back(file_problem(path, fmt::format("cannot list the folder: {}", ec.message()), ""));
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_file(f, options, result);
  } else if (std::filesystem::exists(status)) {
    load_file(path, options, result);
  } else {
    result.diagnostics.push_back(
        file_problem(path, "no such file or folder",
                     "check the path (TASKER_TEMPLATE_PATH lists template folders separated by ':')"));
  }
  return result;
}

LoadResult load_templates(const std::vector<std::filesystem::path>& paths, const LoadOptions& options) {
  LoadResult result;
  for (const auto& p : paths) {
    LoadResult one = load_templates(p, options);
    result.files += one.files;
    std::move(one.templates.begin(), one.templates.end(), std::back_inserter(result.templates));
    std::move(one.diagnostics.begin(), one.diagnostics.end(), std::back_inserter(result.diagnostics));
  }
  return result;
}

TaskTemplate load_template_file(const std::filesystem::path& path, const LoadOptions& options) {
  LoadResult result = load_templates(path, options);
  if (!result.ok()) throw TemplateError(std::move(result.diagnostics));
  if (result.templates.size() != 1)
    throw TemplateError(
        fmt::format("{}: expected exactly one template, found {}", path.string(), result.templates.size()),
        std::move(result.diagnostics));
  return std::move(result.templates.front());
}

}  // namespace tasker
