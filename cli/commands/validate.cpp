// tasker validate PATH...: every problem in every file, compiler-style.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "tasker/loader.hpp"
#include "tasker/template_set.hpp"

namespace tasker::cli {

namespace {
json diagnostic_json(const Diagnostic& d) {
  return {{"severity", d.severity == Severity::error ? "error" : "warning"},
          {"file", d.location.file},
          {"line", d.location.line},
          {"column", d.location.column},
          {"key", d.key},
          {"message", d.message},
          {"hint", d.hint}};
}
}  // namespace

void add_validate_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::vector<std::string> paths;
    std::string env;
    bool json{false};
    bool quiet{false};
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("validate", "Check template files offline; report every problem with file:line:col");
  cmd->add_option("paths", opts->paths, "Template files or folders (searched recursively for *.yaml, *.yml)")
      ->required();
  cmd->add_option("--env", opts->env, "Apply this environment's overrides (default: TASKER_ENV or development)");
  cmd->add_flag("--json", opts->json, "Print a JSON report instead of text");
  cmd->add_flag("-q,--quiet", opts->quiet, "Print errors only (no warnings, no summary)");
  cmd->footer("Example:\n  tasker validate templates/ --env test\nExit code 0 when every file is valid, 4 otherwise.");
  cmd->callback([opts, &inv] {
    LoadOptions load = load_options(inv, opts->env);
    std::vector<std::filesystem::path> paths(opts->paths.begin(), opts->paths.end());
    LoadResult result = load_templates(paths, load);
    std::vector<TaskTemplate> loaded = result.templates;  // kept for the report; the set takes the originals
    TemplateSet set;
    set.add_all(result);
    std::size_t errors = 0, warnings = 0;
    for (const auto& d : result.diagnostics) (d.severity == Severity::error ? errors : warnings)++;
    inv.exit_code = errors ? kInvalid : kOk;
    if (opts->json) {
      json report = {{"valid", errors == 0},        {"files", result.files},           {"errors", errors},
                     {"warnings", warnings},        {"environment", load.environment}, {"templates", json::array()},
                     {"diagnostics", json::array()}};
      for (const auto& t : loaded)
        report["templates"].push_back({{"namespace", t.namespace_name},
                                       {"name", t.name},
                                       {"version", t.version},
                                       {"steps", t.steps.size()},
                                       {"file", t.location.file}});
      for (const auto& d : result.diagnostics) report["diagnostics"].push_back(diagnostic_json(d));
      print_json(report);
      return;
    }
    for (const auto& d : result.diagnostics)
      if (!opts->quiet || d.severity == Severity::error) fmt::print("{}\n", d.to_string());
    if (opts->quiet) return;
    if (errors == 0)
      fmt::print("ok: {} template{} in {} file{} valid (environment {}){}\n", loaded.size(),
                 loaded.size() == 1 ? "" : "s", result.files, result.files == 1 ? "" : "s", load.environment,
                 warnings ? fmt::format(", {} warning{}", warnings, warnings == 1 ? "" : "s") : "");
    else
      fmt::print("{} error{}, {} warning{} in {} file{}\n", errors, errors == 1 ? "" : "s", warnings,
                 warnings == 1 ? "" : "s", result.files, result.files == 1 ? "" : "s");
  });
}

}  // namespace tasker::cli
