// tasker submit TEMPLATE --context JSON: create a task; print its uuid.
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"
#include "request.hpp"
#include "tasker/client.hpp"

namespace tasker::cli {

void add_submit_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string db;
    bool json{false};
    RequestOptions request;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("submit", "Create a task from a template; print its uuid");
  add_request_options(cmd, opts->request);
  add_db_option(cmd, opts->db);
  cmd->add_flag("--json", opts->json, "Print the created task as JSON");
  cmd->footer(
      "Example:\n"
      "  tasker submit ecommerce/order_processing --context @order.json --priority 10\n"
      "  id=$(tasker submit linear_workflow/mathematical_sequence@1.0.0 --context "
      "'{\"even_number\": 6}')\n"
      "The task runs when a worker with its handlers is running (`tasker worker`).");
  cmd->callback([opts, &inv] {
    ResolvedTemplate resolved = resolve_template(inv, opts->request);
    TaskRequest request = make_request(opts->request, *resolved.tmpl, inv.config().limits.json);
    Client client(open_database(inv, opts->db, DbAccess::create), resolved.set, client_options(inv));
    TaskView task = client.submit(request);
    if (opts->json)
      print_json(to_json(task));
    else
      fmt::print("{}\n", task.uuid);
  });
}

}  // namespace tasker::cli
