// tasker graph TEMPLATE: the DAG as Graphviz dot or Mermaid.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "tasker/graph.hpp"
#include "tasker/template_set.hpp"

namespace tasker::cli {

void add_graph_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string target;
    std::string format{"dot"};
    std::vector<std::string> templates;
    std::string env;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("graph", "Draw a template's DAG (nodes: callable and retry policy)");
  cmd->add_option("target", opts->target, "A template file, or NAMESPACE/NAME[@VERSION] found under --templates")
      ->required();
  cmd->add_option("--format", opts->format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  cmd->add_option("--templates", opts->templates, "Template folders (default: TASKER_TEMPLATE_PATH, else ./templates)");
  cmd->add_option("--env", opts->env, "Environment whose overrides apply");
  cmd->footer(
      "Examples:\n  tasker graph templates/math/diamond.yaml | dot -Tsvg > diamond.svg\n"
      "  tasker graph diamond_workflow/diamond_pattern --format mermaid");
  cmd->callback([opts, &inv] {
    LoadOptions load;
    if (!opts->env.empty()) load.environment = opts->env;
    GraphFormat format = opts->format == "mermaid" ? GraphFormat::mermaid : GraphFormat::dot;
    std::error_code ec;
    if (std::filesystem::is_regular_file(opts->target, ec)) {
      fmt::print("{}", render_graph(graph_of(load_template_file(opts->target, load)), format));
      return;
    }
    TemplateSet set = TemplateSet::load(template_paths(inv, opts->templates), load);
    fmt::print("{}", render_graph(graph_of(set.get(TemplateRef::parse(opts->target))), format));
  });
}

}  // namespace tasker::cli
