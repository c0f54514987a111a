// tasker purge: delete finished tasks by age and state, or by the configured
// retention policy, optionally archiving them first. tasker archive import:
// bring archived tasks back for inspection (docs/retention.md).
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"
#include "tasker/archive.hpp"
#include "tasker/client.hpp"
#include "tasker/errors.hpp"

namespace tasker::cli {

namespace {

std::chrono::milliseconds parse_age(const std::string& text) {
  if (auto age = parse_duration(text)) return *age;
  if (!text.empty() && text.front() == '-')
    throw InvalidRequestError(fmt::format(
        "--older-than {}: an age may not be negative; write how long ago the tasks finished: 0, 90s, 15m, 2h or 7d",
        text));
  throw InvalidRequestError(
      fmt::format("--older-than {}: not an age; write a whole number and s, m, h or d (90s, 15m, 2h, 7d, up to "
                  "3650d), or 0",
                  text));
}

std::vector<TaskState> parse_states(const std::vector<std::string>& names) {
  std::vector<TaskState> states;
  for (const auto& name : names) {
    if (auto s = parse_purgeable_state(name)) {
      states.push_back(*s);
      continue;
    }
    throw InvalidRequestError(
        fmt::format("--state {}: {}; write one of {} (repeat --state for several)", name,
                    parse_task_state(name) ? "its tasks are active and never purged" : "not a task state",
                    purgeable_state_names()));
  }
  return states;
}

}  // namespace

void add_purge_commands(CLI::App& app, Invocation& inv) {
  {
    struct Options {
      std::string older_than;
      std::vector<std::string> states;
      std::string namespace_name;
      bool dry_run{false};
      std::string archive;
      int batch_size{200};
      long long pause_ms{0};
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "purge",
        "Delete finished tasks (complete, cancelled, error, resolved_manually) by age, or by the configured retention "
        "policy");
    cmd->add_option("--older-than", opts->older_than,
                    "Finished longer ago than this: 0, 90s, 15m, 2h, 7d (default: the configuration's retention "
                    "policy; 0 needs --state)");
    cmd->add_option("--state", opts->states,
                    "complete, cancelled, error or resolved_manually; repeat for several (default: all four)")
        ->take_all();
    cmd->add_option("--namespace", opts->namespace_name, "Only tasks of this namespace");
    auto* dry = cmd->add_flag("--dry-run", opts->dry_run, "Count what would go; change nothing");
    cmd->add_option("--archive", opts->archive,
                    "Append each task (steps, results, errors, edges, transitions) to this JSON Lines file, fsynced "
                    "before its delete commits")
        ->excludes(dry);
    cmd->add_option("--batch-size", opts->batch_size, "Tasks a transaction deletes, 1..1000 (default 200)");
    cmd->add_option("--pause-ms", opts->pause_ms,
                    "Pause after each transaction, 0..60000 ms (default 0): leaves the database to the workers")
        ->check(CLI::Range(0LL, 60'000LL));
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the counts as JSON");
    cmd->footer(
        "Examples:\n"
        "  tasker purge --older-than 30d --dry-run\n"
        "  tasker purge --older-than 7d --state complete --state cancelled --archive finished.jsonl\n"
        "  tasker purge            # the configuration's retention policy (docs/retention.md)\n"
        "Active tasks are never purged. `tasker archive import FILE` brings archived tasks back.");
    cmd->callback([opts, &inv] {
      // Every value is checked before the database is opened.
      PurgeRequest request;
      if (!opts->older_than.empty()) request.older_than = parse_age(opts->older_than);
      request.states = parse_states(opts->states);
      if (!opts->namespace_name.empty()) request.namespace_name = opts->namespace_name;
      request.policy = inv.config().retention.policy;
      request.dry_run = opts->dry_run;
      request.batch_size = opts->batch_size;
      request.pause = std::chrono::milliseconds{opts->pause_ms};
      request.validate();  // before the archive file is created
      std::optional<ArchiveFile> archive;
      if (!opts->archive.empty()) {
        archive.emplace(opts->archive);
        request.archive = archive->sink();
      }
      auto store = open_database(inv, opts->db, DbAccess::existing);
      Client client(store, nullptr, client_options(inv));
      const PurgeResult result = client.purge(request);
      if (opts->json) {
        json out = to_json(result);
        out["archive"] = opts->archive.empty() ? json(nullptr) : json(opts->archive);
        return print_json(out);
      }
      if (result.dry_run) return fmt::print("would purge {} tasks ({})\n", result.tasks, describe_by_state(result));
      fmt::print("purged {} tasks ({}) in {} transactions; the longest took {:.1f} ms{}\n", result.tasks,
                 describe_by_state(result), result.transactions,
                 static_cast<double>(result.longest_transaction.count()) / 1000.0,
                 opts->archive.empty() ? "" : fmt::format("; archived to {}", opts->archive));
    });
  }

  {
    struct Options {
      std::string file;
      std::string db;
      bool json{false};
    };
    auto opts = std::make_shared<Options>();
    auto* archive = app.add_subcommand("archive", "Archives written by `tasker purge --archive`");
    archive->require_subcommand(1);
    auto* cmd = archive->add_subcommand("import", "Bring archived tasks back for inspection (same uuids)");
    cmd->add_option("file", opts->file, "The archive: JSON Lines, one task a line")->required();
    add_db_option(cmd, opts->db);
    cmd->add_flag("--json", opts->json, "Print the counts as JSON");
    cmd->footer(
        "Example:\n  tasker archive import finished.jsonl --db sqlite://inspect.db\n"
        "Every line is checked before anything is written: a file that is not JSON Lines, or was cut mid-line,\n"
        "imports nothing (exit 4, naming the line). A task that exists already is skipped and counted.");
    cmd->callback([opts, &inv] {
      const auto records = read_archive_file(opts->file, inv.config().limits.json);
      auto store = open_database(inv, opts->db, DbAccess::create);
      Client client(store, nullptr, client_options(inv));
      const ImportResult result = client.import_archive(records);
      if (opts->json) return print_json(to_json(result));
      fmt::print("imported {} tasks from {}; skipped {} that exist already\n", result.imported, opts->file,
                 result.skipped);
    });
  }
}

}  // namespace tasker::cli
