#pragma once
// What `submit` and `run` share: naming a template and building a TaskRequest.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "tasker/task.hpp"
#include "tasker/template_set.hpp"

namespace tasker::cli {

/// A template named on the command line, and the set it was found in.
struct ResolvedTemplate {
  std::shared_ptr<const TemplateSet> set;
  const TaskTemplate* tmpl{nullptr};
};

/// `target` is a template file (holding one template), or NAMESPACE/NAME[@VERSION]
/// found under `template_dirs` (see template_paths). Throws TemplateError,
/// NotFoundError, InvalidRequestError.
ResolvedTemplate resolve_template(Invocation& inv, const std::string& target,
                                  const std::vector<std::string>& template_dirs, const std::string& env);

/// --templates and --env, as every command that loads templates spells them.
struct TemplateOptions {
  std::vector<std::string> paths;
  std::string env;
};
void add_template_options(CLI::App* cmd, TemplateOptions& o);

/// The options of a submission, and where its template comes from.
struct RequestOptions {
  std::string target;  ///< NAMESPACE/NAME[@VERSION] or a template file
  TemplateOptions templates;
  std::string context{"{}"};
  int priority{0};
  std::string idempotency_key;
  std::vector<std::string> bypass;
  std::vector<std::string> tags;
  std::string initiator;
  std::string reason;
  std::string correlation_id;
  std::string at;     ///< --at RFC3339
  std::string after;  ///< --in 90s|15m|2h|3d
};
/// The TEMPLATE argument, --context and the other request options, --templates and --env.
void add_request_options(CLI::App* cmd, RequestOptions& o);

/// The template named by `o` (see resolve_template).
ResolvedTemplate resolve_template(Invocation& inv, const RequestOptions& o);

/// The request for `tmpl`; parses --context first (within `limits`), so a
/// malformed context fails before anything touches the database.
[[nodiscard]] TaskRequest make_request(const RequestOptions& o, const TaskTemplate& tmpl, const JsonLimits& limits);
/// The same for a template the command line names and a service resolves (`submit --server`).
[[nodiscard]] TaskRequest make_request(const RequestOptions& o, const TemplateRef& ref, const JsonLimits& limits);

}  // namespace tasker::cli
