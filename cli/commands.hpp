#pragma once
// Each subcommand registers itself on the app; its callback does the work and
// throws on failure (main maps the exception to an exit code, exit_codes.cpp).
// The helpers here are what several subcommands share: the database option,
// JSON arguments, template loading.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tasker/client.hpp"
#include "tasker/config.hpp"
#include "tasker/json.hpp"
#include "tasker/store.hpp"
#include "tasker/template_set.hpp"

namespace tasker::cli {

/// The global options that name a tasker service for the task commands (cli/remote.hpp).
struct RemoteOptions {
  std::string server;         ///< --server (default TASKER_SERVER)
  std::string api_key;        ///< --api-key (default TASKER_API_KEY)
  std::string ca_cert;        ///< --ca-cert: trust this CA (a self-signed server's certificate) for https
  std::string profile;        ///< --profile (default TASKER_PROFILE, else the profiles file's `default`)
  std::string profiles_file;  ///< --profiles (default TASKER_PROFILES, else ~/.config/tasker/profiles.yaml)
};

/// State shared by all subcommands of one invocation.
struct Invocation {
  int exit_code{0};
  std::optional<std::filesystem::path> config_file;  ///< --config
  std::string log_level;                             ///< --log-level; empty: configuration
  RemoteOptions remote;

  /// Configuration, loaded on first use (so `--help` never fails on a bad environment).
  const Config& config();
  /// Set the library's log level from --log-level, else the configuration.
  void apply_log_level();

 private:
  std::optional<Config> config_;
};

/// Template folders: the given ones, else TASKER_TEMPLATE_PATH, else ./templates.
/// Throws InvalidRequestError when none is given and ./templates does not exist.
std::vector<std::filesystem::path> template_paths(Invocation& inv, const std::vector<std::string>& given);

/// Options for loading templates: `env`'s overrides (empty: TASKER_ENV, else
/// development) and the configured limits.
LoadOptions load_options(Invocation& inv, const std::string& env);

/// Load templates from `given` (see template_paths) with `env`'s overrides
/// (empty: TASKER_ENV, else development). Throws TemplateError.
TemplateSet load_template_set(Invocation& inv, const std::vector<std::string>& given, const std::string& env);

/// Client options from the configuration (the JSON limits of contexts and results).
ClientOptions client_options(Invocation& inv);

/// Add `--db URL` to `cmd`.
void add_db_option(CLI::App* cmd, std::string& db);

/// Whether a command may create a missing SQLite database.
enum class DbAccess {
  create,    ///< submit, run, worker, migrate
  existing,  ///< commands that read or act on tasks: a missing file is an error
};

/// Open the store named by --db, else the configuration's URL.
/// `listen`: also take cross-process wake-ups (PostgreSQL LISTEN); only workers that wait for events need them.
/// Throws UsageError when --server or --profile was given: they name where the task commands go (cli/remote.hpp).
std::shared_ptr<Store> open_database(Invocation& inv, const std::string& db, DbAccess access, bool listen = false);
/// The same without that check, for the task commands (a profile may name a database).
std::shared_ptr<Store> open_task_database(Invocation& inv, const std::string& db, DbAccess access);

/// A JSON argument given inline, as `@path` (a file) or `@-` (stdin), within
/// `limits`. `option` names it in messages. Throws InvalidRequestError saying
/// what is malformed and where (LimitError when beyond a limit).
json parse_json_argument(const std::string& text, const std::string& option, const JsonLimits& limits);

void add_validate_command(CLI::App& app, Invocation& inv);
void add_graph_command(CLI::App& app, Invocation& inv);
void add_templates_command(CLI::App& app, Invocation& inv);
void add_submit_command(CLI::App& app, Invocation& inv);
void add_inspect_commands(CLI::App& app, Invocation& inv);  ///< status, list, steps, audit
void add_operator_commands(CLI::App& app,
                           Invocation& inv);  ///< cancel, step reset|resolve|complete
void add_watch_command(CLI::App& app, Invocation& inv);
void add_migrate_command(CLI::App& app, Invocation& inv);
void add_doctor_command(CLI::App& app, Invocation& inv);
void add_worker_commands(CLI::App& app, Invocation& inv);  ///< worker, run
void add_serve_command(CLI::App& app, Invocation& inv);
void add_schedule_commands(CLI::App& app, Invocation& inv);
void add_dlq_commands(CLI::App& app, Invocation& inv);  ///< dlq list|show|update|stats|queue|staleness
void add_purge_commands(
    CLI::App& app,
    Invocation& inv);  ///< purge, archive import  ///< schedule create|list|show|pause|resume|delete|trigger

/// Add `--listen HOST:PORT` to `cmd`.
void add_listen_option(CLI::App* cmd, std::string& listen);
/// The server settings of the configuration, with `--listen` (when given) checked and applied.
ServerSettings server_settings(Invocation& inv, const std::string& listen);

}  // namespace tasker::cli
