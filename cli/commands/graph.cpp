// tasker graph TEMPLATE|UUID: a template's DAG, or a task's with nodes coloured
// by state, as Graphviz dot or Mermaid.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "request.hpp"
#include "tasker/client.hpp"
#include "tasker/graph.hpp"

namespace tasker::cli {

void add_graph_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string target;
    std::string format{"dot"};
    TemplateOptions templates;
    std::string db;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("graph",
                                 "Draw a template's DAG (callable, retry policy), or a task's "
                                 "(attempts, nodes coloured by state)");
  cmd->add_option("target", opts->target,
                  "A task uuid, a template file, or NAMESPACE/NAME[@VERSION] found under --templates")
      ->required();
  cmd->add_option("--format", opts->format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  add_template_options(cmd, opts->templates);
  add_db_option(cmd, opts->db);
  cmd->footer(
      "Examples:\n  tasker graph templates/math/diamond.yaml | dot -Tsvg > diamond.svg\n"
      "  tasker graph diamond_workflow/diamond_pattern --format mermaid\n"
      "  tasker graph 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b --db sqlite://tasker.db | dot -Tpng > "
      "task.png");
  cmd->callback([opts, &inv] {
    GraphFormat format = opts->format == "mermaid" ? GraphFormat::mermaid : GraphFormat::dot;
    if (is_uuid(opts->target)) {
      Client client(open_database(inv, opts->db, DbAccess::existing), nullptr);
      const TaskSnapshot snap = client.snapshot(opts->target);
      fmt::print("{}", render_graph(graph_of(snap.task, snap.steps), format));
      return;
    }
    ResolvedTemplate resolved = resolve_template(inv, opts->target, opts->templates.paths, opts->templates.env);
    fmt::print("{}", render_graph(graph_of(*resolved.tmpl), format));
  });
}

}  // namespace tasker::cli
