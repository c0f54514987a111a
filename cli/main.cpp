// tasker: the command-line surface. Thin by design: every subcommand goes
// through the public libtasker API.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "remote.hpp"
#include "tasker/version.hpp"

namespace {

// CLI11's own errors (unknown option, missing argument, ...) as one line
// naming the command whose --help explains it.
std::string usage_failure(const CLI::App* app, const CLI::Error& e) {
  if (app->get_subcommands().empty() && !app->remaining().empty()) {
    std::vector<std::string> names;
    for (const CLI::App* sub : app->get_subcommands({})) names.push_back(sub->get_name());
    return fmt::format("tasker: error: unknown command `{}`; the commands are {}; see `tasker --help`\n",
                       app->remaining().front(), fmt::join(names, ", "));
  }
  std::string command = app->get_name();
  for (const CLI::App* sub = app; sub;) {
    auto parsed = sub->get_subcommands();
    sub = parsed.empty() ? nullptr : parsed.front();
    if (sub) command += " " + sub->get_name();
  }
  return fmt::format("tasker: error: {}; see `{} --help`\n", e.what(), command);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tasker::cli;
  CLI::App app{
      "tasker: durable workflow orchestration. Validate templates, submit and inspect tasks, run "
      "workers.",
      "tasker"};
  app.require_subcommand(1);
  app.fallthrough();  // --config and --log-level also work after the subcommand
  app.set_version_flag("--version", fmt::format("tasker {}", tasker::version()));
  app.failure_message(usage_failure);
  app.footer(
      "Configuration: TASKER_ENV, TASKER_DATABASE_URL (or DATABASE_URL), TASKER_TEMPLATE_PATH, "
      "TASKER_CONFIG,\n"
      "TASKER_SERVER, TASKER_API_KEY, TASKER_PROFILE, TASKER_PROFILES (the task commands through a service),\n"
      "TASKER_LOG_LEVEL, TASKER_LISTEN, TASKER_API_KEYS, TASKER_TLS_CERT, TASKER_TLS_KEY.\n"
      "Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 not found, 4 invalid input, 5 task failed, "
      "130 interrupted.\n"
      "Run `tasker COMMAND --help` for a command's options and an example.");
  Invocation inv;
  app.add_option("--config", inv.config_file, "YAML configuration file (default: TASKER_CONFIG)");
  app.add_option("--log-level", inv.log_level,
                 "Library log level on stderr: trace, debug, info, warn, error, critical, off (default: "
                 "configuration, else warn)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  add_remote_options(app, inv.remote);
  add_validate_command(app, inv);
  add_templates_command(app, inv);
  add_graph_command(app, inv);
  add_submit_command(app, inv);
  add_schedule_commands(app, inv);
  add_dlq_commands(app, inv);
  add_inspect_commands(app, inv);
  add_operator_commands(app, inv);
  add_watch_command(app, inv);
  add_migrate_command(app, inv);
  add_doctor_command(app, inv);
  add_purge_commands(app, inv);
  add_worker_commands(app, inv);
  add_serve_command(app, inv);
  try {
    app.parse(argc, argv);
  } catch (...) {
    return report_current_exception(app);
  }
  return inv.exit_code;
}
