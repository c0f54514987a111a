// tasker templates [PATH...]: what is loaded, as a table or JSON.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "tasker/errors.hpp"
#include "tasker/template_set.hpp"

namespace tasker::cli {

void add_templates_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::vector<std::string> paths;
    std::string env;
    bool json{false};
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("templates", "List templates: namespace, name, version, step count");
  cmd->add_option("paths", opts->paths, "Template files or folders (default: TASKER_TEMPLATE_PATH, else ./templates)");
  cmd->add_option("--env", opts->env, "Environment whose overrides apply (default: TASKER_ENV or development)");
  cmd->add_flag("--json", opts->json, "Print JSON");
  cmd->footer("Example:\n  tasker templates templates/ --json");
  cmd->callback([opts, &inv] {
    TemplateSet set = TemplateSet::load(template_paths(inv, opts->paths), load_options(inv, opts->env));
    if (opts->json) {
      json out = json::array();
      for (const auto* t : set.all())
        out.push_back({{"namespace", t->namespace_name},
                       {"name", t->name},
                       {"version", t->version},
                       {"steps", t->steps.size()},
                       {"description", t->description},
                       {"file", t->location.file}});
      print_json(out);
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto* t : set.all())
      rows.push_back({t->namespace_name, t->name, t->version, std::to_string(t->steps.size()), t->location.file});
    print_table({"NAMESPACE", "NAME", "VERSION", "STEPS", "FILE"}, rows);
  });
}

}  // namespace tasker::cli
