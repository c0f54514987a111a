// tasker watch UUID: follow a task until it ends.
#include "commands.hpp"
#include "live_view.hpp"
#include "remote.hpp"
#include "signals.hpp"

namespace tasker::cli {

void add_watch_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string uuid;
    std::string db;
    ViewOptions view;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("watch",
                                 "Follow a task until it ends: a live progress view on a terminal, "
                                 "a line per change otherwise");
  cmd->add_option("uuid", opts->uuid, "The task's uuid")->required();
  add_view_options(cmd, opts->view);
  add_db_option(cmd, opts->db);
  cmd->footer(
      "Example:\n  tasker watch $(tasker submit ecommerce/order_processing --context @order.json)\n"
      "Exit code 0 when the task completes, 5 when it fails or is cancelled, 130 when "
      "interrupted.");
  cmd->callback([opts, &inv] {
    SignalWaiter signals;  // before the store starts any thread
    auto tasks = open_tasks(inv, opts->db, DbAccess::existing);
    follow_to_outcome(tasks->api(), opts->uuid, follow_options(opts->view), signals, opts->view.json,
                      "watching stopped, the task is not affected; resume with `tasker watch " + opts->uuid + "`");
  });
}

}  // namespace tasker::cli
