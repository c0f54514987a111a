// tasker: the command-line surface. Thin by design: every subcommand goes
// through the public libtasker API.
#include <fmt/format.h>

#include "commands.hpp"
#include "exit_codes.hpp"

namespace tasker::cli {

const Config& Invocation::config() {
  if (!config_) config_ = Config::load(config_file);
  return *config_;
}

std::vector<std::filesystem::path> template_paths(Invocation& inv, const std::vector<std::string>& given) {
  if (!given.empty()) return {given.begin(), given.end()};
  if (!inv.config().template_paths.empty()) return inv.config().template_paths;
  return {"templates"};
}

}  // namespace tasker::cli

int main(int argc, char** argv) {
  using namespace tasker::cli;
  CLI::App app{"tasker: durable workflow orchestration. Validate templates, submit and inspect tasks, run workers.",
               "tasker"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tasker 0.1.0");
  app.footer(
      "Configuration: TASKER_ENV, TASKER_DATABASE_URL (or DATABASE_URL), TASKER_TEMPLATE_PATH, TASKER_CONFIG.\n"
      "Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 not found, 4 invalid input, 5 task failed.\n"
      "Run `tasker COMMAND --help` for a command's options and an example.");
  Invocation inv;
  app.add_option("--config", inv.config_file, "YAML configuration file (default: TASKER_CONFIG)");
  add_validate_command(app, inv);
  add_templates_command(app, inv);
  add_graph_command(app, inv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  } catch (...) {
    return report_current_exception();
  }
  return inv.exit_code;
}
