// The template loader's Parser (template_parser.hpp): reading a mapping's entries
// and its values, each with its own diagnostic, and the template's top level.
#include "model/template_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "model/yaml_values.hpp"
#include "tasker/dag.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/identity.hpp"

namespace tasker::detail::loader {

namespace {

const std::vector<std::string> kTopLevelKeys{"name",     "namespace_name", "version",      "description",
                                             "metadata", "steps",          "environments", "identity_strategy"};
// Keys of tasker-core's schema that tasker accepts and preserves without acting on them.
const std::vector<std::string> kPreservedTopLevelKeys{
    "input_schema",  "domain_events", "system_dependencies",      "lifecycle",
    "result_schema", "task_handler",  "default_dependent_system", "named_steps"};

}  // namespace

std::vector<Entry> Parser::entries(const YAML::Node& map, const std::string& path) {
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

void Parser::unknown_key(const Entry& e, const std::string& path, const std::vector<std::string>& known, bool kept) {
  std::string suggestion = closest_match(e.key, known);
  if (!suggestion.empty())
    warning(e.key_node, join_key(path, e.key),
            fmt::format("unknown key `{}` is {}", join_key(path, e.key), kept ? "kept but not used" : "ignored"),
            fmt::format("did you mean `{}`?", suggestion));
}

std::optional<std::string> Parser::string_value(const Entry& e, const std::string& path, bool allow_empty) {
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

std::optional<std::int64_t> Parser::integer_value(const Entry& e, const std::string& path, std::int64_t min,
                                                  std::int64_t max, const std::string& unit) {
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
    error(
        at, key, fmt::format("`{}` is {}{}, outside {}..{}", key, *value, unit, min, max),
        *value < min ? fmt::format("use a value of at least {}", min) : fmt::format("use a value of at most {}", max));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Parser::bool_value(const Entry& e, const std::string& path) {
  std::string key = join_key(path, e.key);
  if (e.value.IsScalar() && !is_quoted_or_str(e.value)) {
    json v = scalar_to_json(e.value);
    if (v.is_boolean()) return v.get<bool>();
  }
  error(e.value.IsNull() ? e.key_node : e.value, key, fmt::format("`{}` must be true or false", key),
        "YAML 1.1 spellings such as yes/no/on/off are not booleans here");
  return std::nullopt;
}

bool Parser::expect_map(const Entry& e, const std::string& path, bool allow_null) {
  if (e.value.IsMap() || (allow_null && e.value.IsNull())) return true;
  error(e.value.IsNull() ? e.key_node : e.value, join_key(path, e.key),
        fmt::format("`{}` must be a mapping of keys", join_key(path, e.key)));
  return false;
}

std::string Parser::step_path(const YAML::Node& step, std::size_t index) {
  if (step.IsMap() && step["name"] && step["name"].IsScalar() && !step["name"].Scalar().empty())
    return "steps." + step["name"].Scalar();
  return fmt::format("steps[{}]", index);
}

bool Parser::valid_version(const std::string& v) {
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

void Parser::check_identifier(const Entry& e, const std::string& value) {
  if (value.find_first_of("/@ \t") != std::string::npos)
    error(e.value, e.key, fmt::format("`{}: {}` must not contain '/', '@' or spaces", e.key, value),
          "these characters separate namespace, name and version in `namespace/name@version`");
}

void Parser::check_graph(const TaskTemplate& tmpl) {
  for (auto& d : validate_graph(tmpl))
    report(d.severity, std::move(d.location), std::move(d.key), std::move(d.message), std::move(d.hint));
  for (auto& d : validate_dynamic_steps(tmpl))
    report(d.severity, std::move(d.location), std::move(d.key), std::move(d.message), std::move(d.hint));
}

std::optional<TaskTemplate> Parser::parse_template(const YAML::Node& doc, const LoadOptions& options) {
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

}  // namespace tasker::detail::loader
