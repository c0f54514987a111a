// tasker submit TEMPLATE --context JSON: create a task; print its uuid.
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"
#include "remote.hpp"
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
      "  tasker --server https://tasker.example:8443 --api-key \"$KEY\" submit ecommerce/order_processing "
      "--context @order.json\n"
      "The task runs when a worker with its handlers is running (`tasker worker`).");
  cmd->callback([opts, &inv] {
    // Through a service, the service resolves the template; here, the local templates do. Either
    // way the command line is read whole first: a bad context writes nothing, not even a new database.
    const JsonLimits& limits = inv.config().limits.json;
    std::optional<TaskRequest> request;
    auto tasks = open_tasks(inv, opts->db, DbAccess::create, [&] {
      ResolvedTemplate resolved = resolve_template(inv, opts->request);
      request = make_request(opts->request, *resolved.tmpl, limits);
      return resolved.set;
    });
    if (!request) request = make_request(opts->request, TemplateRef::parse(opts->request.target), limits);
    TaskView task = tasks->api().submit(*request);
    if (opts->json)
      print_json(to_json(task));
    else
      fmt::print("{}\n", task.uuid);
  });
}

}  // namespace tasker::cli
