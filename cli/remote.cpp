// The task commands' two carriers: the HTTP API of a tasker service, or the
// database; and the profiles that name either.
#include "remote.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "exit_codes.hpp"
#include "tasker/errors.hpp"
#include "tasker/http_api.hpp"

namespace tasker::cli {

namespace {

std::string env_or(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

class LocalTasks final : public Tasks {
 public:
  LocalTasks(std::shared_ptr<Store> store, std::shared_ptr<const TemplateSet> templates, ClientOptions options)
      : client_(std::move(store), std::move(templates), std::move(options)),
        api_(client_, "cli " + env_or("USER", "tasker-cli")),
        schedules_(client_),
        dlq_(client_) {}
  testing::TaskApi& api() override { return api_; }
  testing::ScheduleApi& schedules() override { return schedules_; }
  testing::DlqApi& dlq() override { return dlq_; }
  bool remote() const override { return false; }

 private:
  Client client_;
  testing::ClientApi api_;
  testing::ClientScheduleApi schedules_;
  testing::ClientDlqApi dlq_;
};

class RemoteTasks final : public Tasks {
 public:
  RemoteTasks(const std::string& url, testing::HttpApiOptions options) : api_(url, std::move(options)) {}
  testing::TaskApi& api() override { return api_; }
  testing::ScheduleApi& schedules() override { return api_; }
  testing::DlqApi& dlq() override { return api_; }
  bool remote() const override { return true; }

 private:
  testing::HttpApi api_;
};

const char* const kProfileKeys = "server, api_key, api_key_env, ca_cert, db";

[[noreturn]] void bad_profile(const std::string& file, const std::string& key, const std::string& problem) {
  throw ConfigurationError(key, "the profiles file " + file, problem);
}

std::string text_of(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsScalar() || node.Scalar().empty()) bad_profile(file, key, "must be a non-empty text value");
  return node.Scalar();
}

}  // namespace

void add_remote_options(CLI::App& app, RemoteOptions& o) {
  app.add_option("--server", o.server,
                 "Run the task commands (list, status, steps, audit, submit, cancel, step, watch, schedule, dlq) "
                 "through this tasker service's HTTP API instead of a database (default: TASKER_SERVER)");
  app.add_option("--api-key", o.api_key,
                 "The service's API key (or a JWT), sent as a bearer token (default: TASKER_API_KEY)");
  app.add_option("--ca-cert", o.ca_cert, "Trust this CA (or the server's self-signed certificate) for https");
  app.add_option("--profile", o.profile,
                 "A service or database named in the profiles file (default: TASKER_PROFILE, else the file's "
                 "`default`)");
  app.add_option("--profiles", o.profiles_file,
                 "The profiles file (default: TASKER_PROFILES, else ~/.config/tasker/profiles.yaml)");
}

std::string profiles_path(const RemoteOptions& o) {
  if (!o.profiles_file.empty()) return o.profiles_file;
  if (std::string p = env_or("TASKER_PROFILES"); !p.empty()) return p;
  if (const std::string xdg = env_or("XDG_CONFIG_HOME"); !xdg.empty()) return xdg + "/tasker/profiles.yaml";
  return env_or("HOME", ".") + "/.config/tasker/profiles.yaml";
}

std::optional<Profile> load_profile(const std::string& file, const std::string& name) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    if (name.empty()) return std::nullopt;
    throw ConfigurationError("--profile", "the command line",
                             fmt::format("profile `{}` asked for, but there is no profiles file {}; write one "
                                         "(docs/cli.md, \"Profiles\") or set TASKER_PROFILES",
                                         name, file));
  }
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw ConfigurationError("profiles", "the profiles file " + file, e.what());
  }
  if (!doc.IsMap()) bad_profile(file, "profiles", "the file must be a mapping with `profiles:` (and `default:`)");
  for (const auto& top : doc) {
    const std::string key = top.first.as<std::string>();
    if (key != "profiles" && key != "default")
      bad_profile(file, key, "unknown key; the file has `profiles:` and `default:`");
  }
  std::string wanted = name;
  if (wanted.empty()) {
    if (!doc["default"]) return std::nullopt;
    wanted = text_of(doc["default"], file, "default");
  }
  const YAML::Node profiles = doc["profiles"];
  if (!profiles || !profiles.IsMap() || !profiles[wanted])
    bad_profile(file, "profiles." + wanted,
                fmt::format("there is no profile `{}`{}", wanted, name.empty() ? " (the file's `default`)" : ""));
  const YAML::Node p = profiles[wanted];
  const std::string path = "profiles." + wanted;
  if (!p.IsMap()) bad_profile(file, path, fmt::format("must be a mapping of {}", kProfileKeys));
  Profile out;
  out.name = wanted;
  for (const auto& entry : p) {
    const std::string key = entry.first.as<std::string>();
    std::string at = path;
    at += ".";
    at += key;
    if (key == "server") {
      out.server = text_of(entry.second, file, at);
    } else if (key == "api_key") {
      out.api_key = text_of(entry.second, file, at);
    } else if (key == "api_key_env") {
      const std::string var = text_of(entry.second, file, at);
      out.api_key = env_or(var.c_str());
      if (out.api_key.empty()) bad_profile(file, at, fmt::format("the variable {} is not set", var));
    } else if (key == "ca_cert") {
      out.ca_cert = text_of(entry.second, file, at);
    } else if (key == "db") {
      out.db = text_of(entry.second, file, at);
    } else {
      bad_profile(file, at, fmt::format("unknown key; a profile has {}", kProfileKeys));
    }
  }
  if (out.server.empty() == out.db.empty())
    bad_profile(file, path, "a profile names either a `server` or a `db`, exactly one");
  return out;
}

std::unique_ptr<Tasks> open_tasks(Invocation& inv, const std::string& db_option, DbAccess access,
                                  const std::function<std::shared_ptr<const TemplateSet>()>& templates) {
  const RemoteOptions& r = inv.remote;
  std::string server = r.server.empty() ? env_or("TASKER_SERVER") : r.server;
  testing::HttpApiOptions http{.bearer_token = r.api_key.empty() ? env_or("TASKER_API_KEY") : r.api_key,
                               .ca_cert_path = r.ca_cert};
  std::string db = db_option;
  if (!db.empty() && !r.server.empty())
    throw UsageError("give --db (a database) or --server (a tasker service), not both");
  if (!r.profile.empty() && (!db.empty() || !r.server.empty()))
    throw UsageError("--profile names a service or a database already; give it without --db or --server");
  if (db.empty() && (server.empty() || !r.profile.empty())) {
    if (auto profile = load_profile(profiles_path(r), r.profile.empty() ? env_or("TASKER_PROFILE") : r.profile)) {
      server = profile->server;
      db = profile->db;
      if (http.bearer_token.empty()) http.bearer_token = profile->api_key;
      if (http.ca_cert_path.empty()) http.ca_cert_path = profile->ca_cert;
    }
  }
  if (db.empty() && !server.empty()) {
    inv.apply_log_level();
    return std::make_unique<RemoteTasks>(server, std::move(http));
  }
  std::error_code ec;
  if (db.empty() && access == DbAccess::existing && env_or("TASKER_DATABASE_URL").empty() &&
      env_or("DATABASE_URL").empty() && inv.config().database_url == "sqlite://tasker.db" &&
      !std::filesystem::exists("tasker.db", ec))
    throw NotFoundError(
        "database", "sqlite://tasker.db",
        fmt::format("no database and no tasker service was given, and the default database is not in {}; give a "
                    "database (--db URL, or TASKER_DATABASE_URL) or a service (--server URL with --api-key KEY, or "
                    "--profile NAME from {})",
                    std::filesystem::current_path(ec).string(), profiles_path(r)));
  auto set = templates ? templates() : nullptr;
  return std::make_unique<LocalTasks>(open_task_database(inv, db, access), std::move(set), client_options(inv));
}

}  // namespace tasker::cli
