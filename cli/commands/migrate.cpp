// tasker migrate: create or upgrade the database schema. tasker doctor: check
// that what the database keeps derived agrees with what it follows from.
#include <fmt/format.h>

#include "commands.hpp"
#include "output.hpp"

namespace tasker::cli {

void add_migrate_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string db;
    bool json{false};
  };
  auto opts = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("migrate", "Create the database or apply pending schema migrations; print the version");
  add_db_option(cmd, opts->db);
  cmd->add_flag("--json", opts->json, "Print JSON");
  cmd->footer(
      "Example:\n  tasker migrate --db postgresql://tasker:secret@db.internal:5432/tasker\n"
      "Safe to repeat, and to run from several machines at once.");
  cmd->callback([opts, &inv] {
    auto store = open_database(inv, opts->db, DbAccess::create);
    store->migrate();
    int version = store->schema_version();
    if (opts->json)
      return print_json({{"database", store->describe()}, {"backend", store->backend()}, {"schema_version", version}});
    fmt::print("{}: schema version {} ({})\n", store->describe(), version, store->backend());
  });
}

void add_doctor_command(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string db;
    bool json{false};
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check the database: its migrations are this build's, and each task's step counters and the claim's "
      "columns agree with its steps' states");
  add_db_option(cmd, opts->db);
  cmd->add_flag("--json", opts->json, "Print JSON: {\"consistent\": bool, \"violations\": [...]}");
  cmd->footer(
      "Example:\n  tasker doctor --db postgresql://tasker:secret@db.internal:5432/tasker\n"
      "Reads every task and step (run it when the database is quiet). Exit 0 when consistent, 1 when not,\n"
      "with one line per violation; a database migrated by another build of tasker is refused.");
  cmd->callback([opts, &inv] {
    auto store = open_database(inv, opts->db, DbAccess::existing);
    store->migrate();  // refuses a database whose migrations differ from this build's
    const auto violations = store->check_consistency();
    if (opts->json) {
      print_json({{"database", store->describe()}, {"consistent", violations.empty()}, {"violations", violations}});
    } else {
      for (const auto& v : violations) fmt::print("{}\n", v);
      fmt::print("{}: {}\n", store->describe(),
                 violations.empty() ? "consistent" : fmt::format("{} violation(s)", violations.size()));
    }
    if (!violations.empty()) inv.exit_code = 1;
  });
}

}  // namespace tasker::cli
