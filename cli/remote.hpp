#pragma once
// Where the task and schedule commands (list, status, steps, audit, submit,
// cancel, step, signal, watch, schedule, dlq) go: a tasker service over its HTTP
// API (--server, or a profile), or the database itself (--db). Both are a
// testing::TaskApi, ScheduleApi and DlqApi, so each command is written once and
// prints the same whichever it talks to.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "tasker/dlq_api.hpp"
#include "tasker/schedule_api.hpp"
#include "tasker/task_api.hpp"

namespace tasker::cli {

/// Add --server, --api-key, --ca-cert, --profile and --profiles to the app (they also work after the subcommand).
void add_remote_options(CLI::App& app, RemoteOptions& o);

/// A service or a database named by a profile (profiles.yaml; docs/cli.md).
struct Profile {
  std::string name;
  std::string server, api_key, ca_cert;  ///< a service
  std::string db;                        ///< or a database
};

/// The profiles file: --profiles, else TASKER_PROFILES, else
/// $XDG_CONFIG_HOME/tasker/profiles.yaml (~/.config/tasker/profiles.yaml).
[[nodiscard]] std::string profiles_path(const RemoteOptions& o);
/// `name` from the profiles file `file` (empty: its `default`, nullopt when it
/// has none or there is no file). Throws ConfigurationError naming the file
/// and the key for a missing profile, an unknown key or a bad value.
[[nodiscard]] std::optional<Profile> load_profile(const std::string& file, const std::string& name);

/// The task operations of one command, and what carries them (owned here).
class Tasks {
 public:
  virtual ~Tasks() = default;
  [[nodiscard]] virtual testing::TaskApi& api() = 0;
  [[nodiscard]] virtual testing::ScheduleApi& schedules() = 0;
  [[nodiscard]] virtual testing::DlqApi& dlq() = 0;
  [[nodiscard]] virtual bool remote() const = 0;
};

/// A service when --server, --profile (or the profiles file's default)
/// names one and --db is not given; else the database of --db, the
/// configuration or a profile. `templates` is called for the database only
/// (a local submit needs them; a service has its own). Throws UsageError when
/// both --db and --server are given, and NotFoundError saying how to name a
/// database or a service when none is and the default database is missing.
[[nodiscard]] std::unique_ptr<Tasks> open_tasks(
    Invocation& inv, const std::string& db, DbAccess access,
    const std::function<std::shared_ptr<const TemplateSet>()>& templates = {});

}  // namespace tasker::cli
