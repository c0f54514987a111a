// tasker migrate: create or upgrade the database schema.
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

}  // namespace tasker::cli
