#include "request.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "tasker/errors.hpp"

namespace tasker::cli {

ResolvedTemplate resolve_template(Invocation& inv, const std::string& target,
                                  const std::vector<std::string>& template_dirs, const std::string& env) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(target, ec)) {
    auto set = std::make_shared<const TemplateSet>(TemplateSet::load({target}, load_options(inv, env)));
    if (set->size() != 1)
      throw InvalidRequestError(
          fmt::format("`{}` holds {} templates; name one as NAMESPACE/NAME[@VERSION] with "
                      "--templates {}",
                      target, set->size(), target));
    return {set, set->all().front()};
  }
  auto ends_with = [&](std::string_view suffix) {
    return target.size() >= suffix.size() && target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".yaml") || ends_with(".yml"))
    throw NotFoundError("template file", target, "check the path, or name a template as NAMESPACE/NAME[@VERSION]");
  TemplateRef ref = TemplateRef::parse(target);
  auto set = std::make_shared<const TemplateSet>(load_template_set(inv, template_dirs, env));
  return {set, &set->get(ref)};
}

void add_template_options(CLI::App* cmd, TemplateOptions& o) {
  cmd->add_option("--templates", o.paths,
                  "Template files or folders (repeatable; default: TASKER_TEMPLATE_PATH, else ./templates)");
  cmd->add_option("--env", o.env, "Environment whose template overrides apply (default: TASKER_ENV, else development)");
}

ResolvedTemplate resolve_template(Invocation& inv, const RequestOptions& o) {
  return resolve_template(inv, o.target, o.templates.paths, o.templates.env);
}

void add_request_options(CLI::App* cmd, RequestOptions& o) {
  cmd->add_option("template", o.target, "NAMESPACE/NAME[@VERSION] (default version: the latest), or a template file")
      ->required();
  cmd->add_option("--context", o.context, "The task's context: JSON text, @FILE, or @- for stdin (default: {})");
  cmd->add_option("--priority", o.priority, "Higher runs first")->check(CLI::Range(kMinPriority, kMaxPriority));
  cmd->add_option("--idempotency-key", o.idempotency_key,
                  "Deduplicate by this key instead of the template's identity strategy");
  cmd->add_option("--tag", o.tags, "A tag (repeatable)");
  cmd->add_option("--initiator", o.initiator, "Who submits (default: $USER)");
  cmd->add_option("--reason", o.reason, "Why the task is submitted");
  cmd->add_option("--correlation-id", o.correlation_id, "An id that ties the task to a request elsewhere");
  cmd->add_option("--bypass", o.bypass, "Leave this step out; dependents treat it as done (repeatable)");
  auto* at = cmd->add_option("--at", o.at, "Start no earlier than this RFC 3339 time (e.g. 2026-12-24T08:00:00Z)");
  cmd->add_option("--in", o.after, "Start no earlier than this long from now: 90s, 15m, 2h or 3d")->excludes(at);
  add_template_options(cmd, o.templates);
}

TaskRequest make_request(const RequestOptions& o, const TaskTemplate& tmpl, const JsonLimits& limits) {
  return make_request(o, TemplateRef{tmpl.namespace_name, tmpl.name, tmpl.version}, limits);
}

TaskRequest make_request(const RequestOptions& o, const TemplateRef& ref, const JsonLimits& limits) {
  TaskRequest r;
  r.context = parse_json_argument(o.context, "--context", limits);
  r.namespace_name = ref.namespace_name;
  r.name = ref.name;
  r.version = ref.version;
  r.priority = o.priority;
  if (!o.idempotency_key.empty()) r.idempotency_key = o.idempotency_key;
  r.bypass_steps = o.bypass;
  r.tags = o.tags;
  const char* user = std::getenv("USER");
  r.initiator = !o.initiator.empty() ? o.initiator : user && *user ? user : "tasker-cli";
  r.source_system = "tasker-cli";
  r.reason = o.reason;
  r.correlation_id = o.correlation_id;
  if (!o.at.empty()) {
    r.run_at = parse_time(o.at);
    if (!r.run_at)
      throw InvalidRequestError(fmt::format(
          "--at `{}` is not an RFC 3339 time: write e.g. 2026-12-24T08:00:00Z or 2026-12-24T09:00:00+01:00", o.at));
  } else if (!o.after.empty()) {
    const auto delay = parse_duration(o.after);
    if (!delay)
      throw InvalidRequestError(fmt::format(
          "--in `{}` is not a duration: write a whole number and a unit, s, m, h or d (90s, 15m, 2h, 3d), up to 3650d",
          o.after));
    r.run_at = SystemClock::instance().now() + *delay;
  }
  return r;
}

}  // namespace tasker::cli
