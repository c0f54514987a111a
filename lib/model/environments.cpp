// The template loader's Parser (template_parser.hpp) on `environments:`: every
// environment's step overrides are checked, and the active environment's are
// merged into the steps.
#include <fmt/format.h>

#include <algorithm>

#include "model/template_parser.hpp"

namespace tasker::detail::loader {

namespace {

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
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

bool overrides_handler(const StepFields& o) {
  return o.callable || o.initialization || o.command || o.shell || o.persistent || !o.handler_extra.empty();
}

}  // namespace

void Parser::apply_override(StepTemplate& step, const StepFields& o) {
  if (o.description) step.description = *o.description;
  if (o.callable) step.handler.callable = *o.callable;
  if (o.initialization) merge_json(step.handler.initialization, *o.initialization);
  if (o.command) step.handler.command = *o.command;
  if (o.shell) step.handler.shell = *o.shell;
  if (o.persistent) step.handler.persistent = *o.persistent;
  merge_json(step.handler.extra, o.handler_extra);
  o.retry.apply_to(step.retry);
  if (o.timeout_seconds) step.timeout_seconds = *o.timeout_seconds;
  merge_json(step.extra, o.extra);
}

void Parser::parse_environments(const Entry& envs, TaskTemplate& tmpl, const std::vector<std::string>& step_names) {
  if (!expect_map(envs, "", true) || envs.value.IsNull()) return;
  for (const auto& env : entries(envs.value, "environments")) {
    std::string epath = "environments." + env.key;
    if (!expect_map(env, "environments", true) || env.value.IsNull()) continue;
    std::vector<StepFields> overrides;
    std::vector<std::string> override_paths;
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
        if (o.name) {
          overrides.push_back(std::move(o));
          override_paths.push_back(opath);
        }
      }
    }
    if (env.key != tmpl.environment) continue;
    for (bool all_pass : {true, false})
      for (std::size_t i = 0; i < overrides.size(); ++i) {
        const StepFields& o = overrides[i];
        if ((*o.name == kAllSteps) == all_pass)
          for (auto& step : tmpl.steps)
            if (all_pass || step.name == *o.name) {
              // A signal or sleep step's handler is tasker's own (its spec travels
              // as the reserved callable's initialization): ALL means the steps
              // with handlers, and naming such a step's handler is an error.
              if (step.waits() && overrides_handler(o)) {
                if (!all_pass)
                  report(Severity::error, o.location, override_paths[i],
                         fmt::format("environment `{}` overrides the handler of step `{}`, a {} step, which has none",
                                     env.key, step.name, to_string(step.type)),
                         "remove the handler keys from this override: a signal or sleep step is set by its own "
                         "`signal:` or `sleep:` block");
                continue;
              }
              apply_override(step, o);
            }
      }
  }
}

}  // namespace tasker::detail::loader
