// What the subcommands share: configuration, the database, templates, JSON arguments.
#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "tasker/errors.hpp"
#include "tasker/limits.hpp"
#include "tasker/logging.hpp"

namespace tasker::cli {

const Config& Invocation::config() {
  if (!config_) config_ = Config::load(config_file);
  return *config_;
}

void Invocation::apply_log_level() { set_log_level(log_level.empty() ? config().log_level : log_level); }

std::vector<std::filesystem::path> template_paths(Invocation& inv, const std::vector<std::string>& given) {
  if (!given.empty()) return {given.begin(), given.end()};
  if (!inv.config().template_paths.empty()) return inv.config().template_paths;
  std::error_code ec;
  if (!std::filesystem::exists("templates", ec))
    throw InvalidRequestError(
        fmt::format("no templates: none were given and there is no ./templates folder in {}; pass "
                    "--templates PATH or "
                    "set TASKER_TEMPLATE_PATH",
                    std::filesystem::current_path(ec).string()));
  return {"templates"};
}

LoadOptions load_options(Invocation& inv, const std::string& env) {
  LoadOptions load;
  if (!env.empty()) load.environment = env;
  load.limits = inv.config().limits.templates;
  return load;
}

TemplateSet load_template_set(Invocation& inv, const std::vector<std::string>& given, const std::string& env) {
  return TemplateSet::load(template_paths(inv, given), load_options(inv, env));
}

ClientOptions client_options(Invocation& inv) {
  ClientOptions options;
  options.limits = inv.config().limits.json;
  options.staleness = inv.config().dlq.staleness;
  return options;
}

void add_db_option(CLI::App* cmd, std::string& db) {
  cmd->add_option("--db", db,
                  "Database URL: sqlite://file.db, sqlite:///abs/file.db or "
                  "postgresql://user:pass@host:port/db "
                  "(default: TASKER_DATABASE_URL, DATABASE_URL, else sqlite://tasker.db)")
      // An empty --db (an unset shell variable, `--db "$URL"`) must not quietly become the default database.
      ->check([](const std::string& url) -> std::string {
        if (!url.empty()) return {};
        return "the database URL is empty; give one (e.g. --db sqlite://tasker.db) or leave --db out to use "
               "TASKER_DATABASE_URL";
      });
}

namespace {
std::shared_ptr<Store> open_store_at(Invocation& inv, const std::string& db, DbAccess access, bool listen) {
  inv.apply_log_level();
  StoreOptions options = inv.config().store_options();
  options.create_if_missing = access == DbAccess::create;
  options.listen = listen;
  return open_store(db.empty() ? inv.config().database_url : db, options);
}
}  // namespace

std::shared_ptr<Store> open_database(Invocation& inv, const std::string& db, DbAccess access, bool listen) {
  if (!inv.remote.server.empty() || !inv.remote.profile.empty())
    throw UsageError(
        "--server and --profile name a tasker service for the task commands (list, status, steps, audit, submit, "
        "cancel, step, watch); this command works on a database: give --db URL");
  return open_store_at(inv, db, access, listen);
}

std::shared_ptr<Store> open_task_database(Invocation& inv, const std::string& db, DbAccess access) {
  return open_store_at(inv, db, access, false);
}

namespace {
/// The file (or stdin), read up to one chunk past the JSON size limit: parse_json
/// refuses what is longer, and an endless source (/dev/zero) is not read to its end.
std::string read_source(const std::string& path, const std::string& option, const JsonLimits& limits) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file)
      throw InvalidRequestError(
          fmt::format("cannot read the {} file `{}`: {}; check the path (`@FILE` reads a file, "
                      "`@-` reads stdin)",
                      option, path, std::strerror(errno)));
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::string text;
  std::array<char, 65536> chunk{};
  while (in && text.size() <= limits.max_bytes) {
    in.read(chunk.data(), chunk.size());
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  return text;
}
}  // namespace

json parse_json_argument(const std::string& text, const std::string& option, const JsonLimits& limits) {
  const bool from_file = !text.empty() && text[0] == '@';
  const std::string source = from_file ? (text == "@-" ? "stdin" : "file `" + text.substr(1) + "`") : "";
  const std::string body = from_file ? read_source(text.substr(1), option, limits) : text;
  try {
    return parse_json(body, limits, from_file ? option + " (" + source + ")" : option);
  } catch (const json::exception& e) {
    const std::string detail = json_error_text(e);
    if (from_file)
      throw InvalidRequestError(
          fmt::format("{} is not valid JSON ({}): {}; fix the {}", option, source, detail, source));
    throw InvalidRequestError(
        fmt::format("{} is not valid JSON: {}; write a JSON object in single quotes (e.g. {} "
                    "'{{\"order_id\": 42}}') or "
                    "read it from a file with {} @context.json",
                    option, detail, option, option));
  }
}

}  // namespace tasker::cli
