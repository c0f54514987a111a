#pragma once
// Each subcommand registers itself on the app; its callback sets the exit code.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tasker/config.hpp"

namespace tasker::cli {

/// State shared by all subcommands of one invocation.
struct Invocation {
  int exit_code{0};
  std::optional<std::filesystem::path> config_file;  ///< --config

  /// Configuration, loaded on first use (so `--help` never fails on a bad environment).
  const Config& config();

 private:
  std::optional<Config> config_;
};

/// Template folders: the given ones, else TASKER_TEMPLATE_PATH, else ./templates.
std::vector<std::filesystem::path> template_paths(Invocation& inv, const std::vector<std::string>& given);

void add_validate_command(CLI::App& app, Invocation& inv);
void add_graph_command(CLI::App& app, Invocation& inv);
void add_templates_command(CLI::App& app, Invocation& inv);

}  // namespace tasker::cli
