// The template loader's Parser (template_parser.hpp) on one step: its keys, its
// handler (a callable, or a command), retry policy, batch_config and
// dependencies; an environment's override of a step is read here too.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "model/template_parser.hpp"
#include "model/yaml_values.hpp"

namespace tasker::detail::loader {

namespace {

const std::vector<std::string> kStepKeys{"name",  "description",     "handler", "dependencies", "depends_on",
                                         "retry", "timeout_seconds", "type",    "batch_config", "signal",
                                         "sleep"};
const std::vector<std::string> kPreservedStepKeys{"system_dependency",   "publishes_events", "lifecycle",
                                                  "result_schema",       "dependent_system", "default_retryable",
                                                  "default_retry_limit", "skippable"};
const std::vector<std::string> kBatchConfigKeys{"batch_size", "parallelism", "cursor_field", "worker_template",
                                                "failure_strategy"};
const std::vector<std::string> kHandlerKeys{"callable", "initialization", "command", "shell", "persistent"};
const std::vector<std::string> kRetryKeys{"retryable", "max_attempts",    "limit",
                                          "backoff",   "backoff_base_ms", "max_backoff_ms"};

}  // namespace

void Parser::parse_retry(const Entry& retry_entry, const std::string& path, RetryFields& out) {
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

void Parser::parse_handler(const Entry& handler_entry, const std::string& path, StepFields& out, bool override) {
  std::string hpath = join_key(path, "handler");
  if (!expect_map(handler_entry, path)) return;
  out.has_handler = true;
  std::optional<YAML::Node> quoted_command;
  std::optional<YAML::Node> persistent_node;
  for (const auto& e : entries(handler_entry.value, hpath)) {
    if (e.key == "callable") {
      out.callable_key = true;
      out.callable = string_value(e, hpath);
      if (out.callable == kSignalCallable || out.callable == kSleepCallable)
        error(e.value, join_key(hpath, "callable"), fmt::format("the callable `{}` is reserved", *out.callable),
              fmt::format("write `type: {}` without a handler for a step that waits, or name your handler otherwise",
                          out.callable == kSignalCallable ? "signal" : "sleep"));
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
    } else if (e.key == "persistent") {
      out.persistent = bool_value(e, hpath);
      persistent_node = e.key_node;
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
  // An override may make a step persistent whose command the template gives; a step may not.
  if (!override && persistent_node && out.persistent.value_or(false) && !handler_entry.value["command"])
    error(*persistent_node, join_key(hpath, "persistent"),
          "`handler.persistent` keeps a command running between attempts, and this handler has no `command`",
          "add `command: [...]`, or remove `persistent` (a C++ handler runs in the worker's process already)");
}

void Parser::parse_batch_config(const Entry& entry, const std::string& path, StepFields& out) {
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

void Parser::parse_dependencies(const Entry& e, const std::string& path, StepFields& out) {
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

StepFields Parser::parse_step(const YAML::Node& node, const std::string& path, bool override) {
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
      if (!(override && is_null(e.value))) parse_handler(e, path, out, override);
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
    } else if ((e.key == "signal" || e.key == "sleep") && override) {
      error(e.key_node, join_key(path, e.key), fmt::format("a step's `{}` cannot be changed per environment", e.key),
            fmt::format("declare `{}` on the step itself", e.key));
    } else if (e.key == "signal") {
      parse_signal(e, path, out);
    } else if (e.key == "sleep") {
      parse_sleep(e, path, out);
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
  if (!override && (out.type == StepType::signal || out.type == StepType::sleep || out.wait_node)) {
    check_waiting_step(node, path, out);
  } else if (!override) {
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

StepTemplate Parser::build_step(StepFields&& f) {
  StepTemplate step;
  step.name = f.name.value_or("");
  step.description = f.description.value_or("");
  step.handler.callable = f.callable.value_or("");
  if (f.initialization) step.handler.initialization = std::move(*f.initialization);
  if (f.command) step.handler.command = std::move(*f.command);
  step.handler.shell = f.shell.value_or(false);
  step.handler.persistent = f.persistent.value_or(false);
  step.handler.extra = std::move(f.handler_extra);
  if (f.dependencies) step.dependencies = std::move(*f.dependencies);
  step.dependency_locations = std::move(f.dependency_locations);
  f.retry.apply_to(step.retry);
  step.timeout_seconds = f.timeout_seconds.value_or(kDefaultTimeoutSeconds);
  step.type = f.type;
  step.batch_config = f.batch_config;
  step.signal = f.signal;
  step.sleep = f.sleep;
  // The worker reads what to wait for from the claim: the spec travels as the initialization of a reserved callable.
  if (step.type == StepType::signal && step.signal) {
    if (step.signal->name.empty()) step.signal->name = step.name;
    step.handler.callable = kSignalCallable;
    step.handler.initialization = to_json(*step.signal);
  } else if (step.type == StepType::sleep && step.sleep) {
    step.handler.callable = kSleepCallable;
    step.handler.initialization = to_json(*step.sleep);
  }
  step.batch_config_location = f.batch_config_location;
  step.worker_template_name_location = f.worker_template_name_location;
  step.extra = std::move(f.extra);
  step.location = f.location;
  return step;
}

}  // namespace tasker::detail::loader
