// Bad input: each mistake gives one line saying what is wrong and how to fix
// it, the right exit code, and leaves nothing in the store.
#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>

#include <fstream>
#include <iterator>

#include "support.hpp"

using namespace cli_test;

namespace {

const std::string kTask = "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b";

std::vector<std::string> submit_args(const Sandbox& s, const std::string& context) {
  return {"submit",      "ecommerce_commands/order_processing",
          "--templates", example_dir().string(),
          "--context",   context,
          "--db",        s.db()};
}

/// A one-step template whose command is `command` (YAML flow list), in its own folder.
std::string command_template(const Sandbox& s, const std::string& folder, const std::string& command,
                             int timeout_seconds = 10) {
  s.write(folder + "/t.yaml", "name: " + folder +
                                  "\nnamespace_name: cli_tests\nversion: 1.0.0\nsteps:\n"
                                  "  - name: only\n    handler:\n      callable: cli_tests." +
                                  folder + "\n      command: " + command +
                                  "\n    retry:\n      max_attempts: 1\n"
                                  "    timeout_seconds: " +
                                  std::to_string(timeout_seconds) + "\n");
  return (s.dir() / folder / "t.yaml").string();
}

}  // namespace

TEST_CASE("a malformed uuid is invalid input") {
  Sandbox s;
  s.migrate();
  for (const char* command : {"status", "steps", "audit", "watch", "cancel"}) {
    INFO(command);
    check_one_line_error(s.tasker({command, "not-a-uuid", "--db", s.db()}), 4,
                         {"`not-a-uuid` is not", "expected 36 characters"});
  }
  // graph takes a uuid or a template: neither is named.
  check_one_line_error(s.tasker({"graph", "not-a-uuid", "--db", s.db()}), 4, {"NAMESPACE/NAME"});
  check_one_line_error(s.tasker({"step", "reset", "not-a-uuid", "x", "--db", s.db()}), 4, {"expected 36 characters"});
}

TEST_CASE("an unknown task is not found") {
  Sandbox s;
  s.migrate();
  check_one_line_error(s.tasker({"status", kTask, "--db", s.db()}), 3,
                       {"task `" + kTask + "` not found", "tasker list"});
  check_one_line_error(s.tasker({"step", "reset", kTask, "x", "--db", s.db()}), 3, {kTask});
  check_one_line_error(s.tasker({"graph", kTask, "--db", s.db()}), 3, {"not found"});
}

TEST_CASE("an unknown step is not found and names the steps there are") {
  Sandbox s;
  const std::string uuid = s.submit_example();
  check_one_line_error(s.tasker({"audit", uuid, "validate_kart", "--db", s.db()}), 3,
                       {"step `validate_kart` not found", "did you mean `validate_cart`?"});
}

TEST_CASE("an unknown template is not found and creates nothing") {
  Sandbox s;
  s.migrate();
  check_one_line_error(
      s.tasker({"submit", "ecommerce_commands/order_procesing", "--templates", example_dir().string(), "--db", s.db()}),
      3,
      {"template `ecommerce_commands/order_procesing` not found", "did you mean ecommerce_commands/order_processing?"});
  check_one_line_error(s.tasker({"run", "no/such", "--templates", example_dir().string(), "--db", s.db()}), 3,
                       {"not found"});
  check_one_line_error(s.tasker({"run", "missing.yaml", "--db", s.db()}), 3,
                       {"template file `missing.yaml` not found"});
  check_one_line_error(s.tasker({"submit", "no-slash", "--db", s.db()}), 4, {"NAMESPACE/NAME"});
  CHECK(s.tasks().empty());
}

TEST_CASE("an unreachable database is a runtime failure, a missing one is not found") {
  Sandbox s;
  check_one_line_error(s.tasker({"status", kTask, "--db", "postgresql://tasker:secret@127.0.0.1:1/tasker"}), 1,
                       {"cannot connect to PostgreSQL"});
  Result no_folder = s.tasker({"submit", "ecommerce_commands/order_processing", "--templates", example_dir().string(),
                               "--db", "sqlite:///nonexistent-folder/tasker.db"});
  check_one_line_error(no_folder, 1, {"cannot open the SQLite database", "check that its folder exists"});
  const std::string missing = "sqlite://" + (s.dir() / "typo.db").string();
  check_one_line_error(s.tasker({"list", "--db", missing}), 3,
                       {"database `" + missing + "` not found", "tasker migrate --db " + missing});
  CHECK_FALSE(std::filesystem::exists(s.dir() / "typo.db"));  // reading never creates a database
}

TEST_CASE("an empty --db is a usage error, never the default database") {
  Sandbox s;
  for (const char* command : {"list", "migrate"})
    check_one_line_error(s.tasker({command, "--db", ""}), 2,
                         {"--db: the database URL is empty", std::string("see `tasker ") + command + " --help`"});
  check_one_line_error(s.tasker({"worker", "--templates", example_dir().string(), "--db", ""}), 2,
                       {"--db: the database URL is empty"});
  CHECK_FALSE(std::filesystem::exists(s.dir() / "tasker.db"));  // the default was not opened
}

TEST_CASE("a template that is a symbolic link to itself is a loader diagnostic naming the file") {
  Sandbox s;
  std::filesystem::create_directories(s.dir() / "looped");
  const auto link = s.dir() / "looped" / "loop.yaml";
  std::filesystem::create_symlink("loop.yaml", link);
  for (const auto& path : {link.parent_path(), link}) {
    INFO(path);
    check_one_line_error(s.tasker({"templates", path.string()}), 4,
                         {link.string() + ": error: symbolic link loop", "point the link at a template file"});
    Result validated = s.tasker({"validate", path.string()});
    INFO(validated.describe());
    CHECK(validated.exit_code == 4);
    CHECK(validated.out.rfind(link.string() + ": error: symbolic link loop", 0) == 0);
  }
}

TEST_CASE("a file that is not a sound SQLite database is named, with what to do, and left as it was") {
  Sandbox s;
  auto bytes_of = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto check_untouched = [&](const std::filesystem::path& p, const std::string& before) {
    CHECK(bytes_of(p) == before);
    CHECK_FALSE(std::filesystem::exists(p.string() + "-wal"));
    CHECK_FALSE(std::filesystem::exists(p.string() + "-shm"));
  };
  const auto notes = s.write("notes.db", "these are my notes, not a database\n");
  check_one_line_error(s.tasker({"list", "--db", "sqlite://" + notes.string()}), 1,
                       {notes.string() + " is not a SQLite database", "check that the database URL names"});
  check_untouched(notes, bytes_of(notes));

  // A real tasker database, then a copy cut short and a copy with its first page overwritten.
  const auto good = s.dir() / "good.db";
  REQUIRE(s.tasker({"migrate", "--db", "sqlite://" + good.string()}).exit_code == 0);
  const std::string whole = bytes_of(good);
  REQUIRE(whole.size() > 8192);
  std::string corrupted = whole;
  for (std::size_t i = 100; i < 4096; ++i) corrupted[i] = static_cast<char>(i * 7);
  for (const auto& named : {std::pair{"truncated.db", whole.substr(0, 3000)}, std::pair{"corrupted.db", corrupted}}) {
    // Not a structured binding: INFO captures `name` in a lambda, which clang 14 (clang-tidy) refuses.
    const char* name = named.first;
    const std::string& content = named.second;
    const auto file = s.write(name, content);
    INFO(name);
    check_one_line_error(s.tasker({"list", "--db", "sqlite://" + file.string()}), 1,
                         {"the SQLite database " + file.string() + " is damaged", "restore it from a backup"});
    check_one_line_error(
        s.tasker({"worker", "--templates", example_dir().string(), "--db", "sqlite://" + file.string()}), 1,
        {file.string() + " is damaged"});
    check_untouched(file, content);
  }
}

// Another process keeps a SQLite database's write lock (a sqlite3 shell left in
// a transaction): readers go on, a writer waits database.busy_timeout_ms at each
// of its tries, then says so and where.
TEST_CASE("a SQLite database locked for longer than the busy timeout is named, with the setting to raise") {
  Sandbox s;
  const std::string db = "sqlite://" + (s.dir() / "busy.db").string();
  REQUIRE(s.tasker({"migrate", "--db", db}).exit_code == 0);
  SQLite::Database holder((s.dir() / "busy.db").string(), SQLite::OPEN_READWRITE);
  holder.exec("BEGIN IMMEDIATE");
  const std::string config = s.write("busy.yaml", "database:\n  busy_timeout_ms: 20\n").string();
  const std::vector<std::string> submit{"--config",    config,
                                        "submit",      "ecommerce_commands/order_processing",
                                        "--templates", example_dir().string(),
                                        "--context",   s.example_context("tok_ok"),
                                        "--db",        db};
  CHECK(s.tasker({"--config", config, "list", "--db", db}).exit_code == 0);
  check_one_line_error(s.tasker(submit), 1,
                       {"database is locked", "another connection held the lock on " + (s.dir() / "busy.db").string(),
                        "raise database.busy_timeout_ms"});
  holder.exec("ROLLBACK");
  CHECK(s.tasker(submit).exit_code == 0);
}

TEST_CASE("a malformed JSON context creates nothing") {
  Sandbox s;
  s.migrate();
  check_one_line_error(s.tasker(submit_args(s, "{\"customer_info\": ")), 4,
                       {"--context is not valid JSON", "--context @context.json"});
  auto broken = s.write("broken.json", "{\"cart_items\": [1, 2,]}");
  check_one_line_error(s.tasker(submit_args(s, "@" + broken.string())), 4,
                       {"--context is not valid JSON (file `" + broken.string() + "`)", "line 1, column 22"});
  check_one_line_error(s.tasker(submit_args(s, "@" + (s.dir() / "nope.json").string())), 4,
                       {"cannot read the --context file", "No such file"});
  check_one_line_error(s.tasker(submit_args(s, "[1, 2]")), 4, {"must be a JSON object, not array"});
  check_one_line_error(
      s.tasker({"run", (example_dir() / "order_processing.yaml").string(), "--context", "{oops", "--db", s.db()}), 4,
      {"--context is not valid JSON"});
  CHECK(s.tasks().empty());
  Result from_stdin = s.tasker(submit_args(s, "@-"), R"({"customer_info": {"email": "ada@example.com"}})");
  INFO(from_stdin.describe());
  CHECK(from_stdin.exit_code == 0);
  CHECK(s.tasks().size() == 1);
}

TEST_CASE("a malformed --result is invalid input and changes nothing") {
  Sandbox s;
  const std::string uuid = s.submit_example();
  check_one_line_error(s.tasker({"step", "complete", uuid, "validate_cart", "--result", "{total: 1}", "--db", s.db()}),
                       4, {"--result is not valid JSON"});
  CHECK(Sandbox::step_of(s.status(uuid), "validate_cart").at("state") == "enqueued");
}

TEST_CASE("a handler command that does not exist stops worker and run before anything is written") {
  Sandbox s;
  auto path = command_template(s, "missing", "[./handlers/not_there.py]");
  s.migrate();
  Result worker = s.tasker({"worker", "--templates", (s.dir() / "missing").string(), "--db", s.db()});
  check_one_line_error(worker, 4, {path + ":5:", "cannot be run", "not_there.py", "chmod +x"});
  Result run = s.tasker({"run", path, "--db", s.db()});
  check_one_line_error(run, 4, {path + ":5:", "cannot be run"});
  CHECK(s.tasks().empty());
}

TEST_CASE("a worker without any command handler refuses to start") {
  Sandbox s;
  Result r = s.tasker({"worker", "--templates", (source_dir() / "templates" / "math").string(), "--db", s.db()});
  check_one_line_error(r, 4, {"has a `handler.command`", "docs/handlers.md"});
  Result run = s.tasker({"run", (source_dir() / "templates" / "math" / "diamond.yaml").string(), "--db", s.db()});
  check_one_line_error(run, 4, {"has no `handler.command`", "--bypass"});
}

TEST_CASE("a handler that prints invalid JSON fails its step with exit code 5") {
  Sandbox s;
  auto path = command_template(s, "chatty", "[sh, -c, 'echo hello there']");
  Result r = s.tasker({"run", path, "--db", s.db()});
  check_one_line_error(r, 5,
                       {"step `only` failed after 1 attempt", "stdout is not JSON",
                        "print exactly one JSON document, logs go to stderr"});
  json step = Sandbox::step_of(s.status(s.tasks().at(0).at("task_uuid")), "only");
  CHECK(step.at("error").at("error_type") == "invalid_output");
  CHECK(step.at("error").at("context").at("stdout") == "hello there");
}

TEST_CASE("a handler that never ends is killed at its timeout and fails with exit code 5") {
  Sandbox s;
  auto path = command_template(s, "stuck", "[sh, -c, 'echo $$ > stuck.pid; exec sleep 600']", 1);
  Result r = s.tasker({"run", path, "--db", s.db()});
  // One wording whichever notices first: the worker at the deadline, or the handler killing its process group.
  check_one_line_error(r, 5,
                       {"step `only` failed after 1 attempt", "the step did not finish within its timeout_seconds",
                        "raise timeout_seconds in the template"});
  json step = Sandbox::step_of(s.status(s.tasks().at(0).at("task_uuid")), "only");
  CHECK(step.at("error").at("error_type") == "timeout");
  pid_t stuck = 0;
  std::ifstream(s.dir() / "stuck" / "stuck.pid") >> stuck;
  REQUIRE(stuck > 0);
  CHECK(::kill(stuck, 0) != 0);  // its process was killed, not left behind
}

TEST_CASE("command-line mistakes are usage errors") {
  Sandbox s;
  check_one_line_error(s.tasker({"list", "--bogus"}), 2, {"--bogus", "see `tasker list --help`"});
  check_one_line_error(s.tasker({"status"}), 2, {"uuid is required", "see `tasker status --help`"});
  check_one_line_error(s.tasker({"frobnicate"}), 2, {"unknown command `frobnicate`", "submit", "see `tasker --help`"});
  check_one_line_error(s.tasker({"list", "--status", "done"}), 2, {"done"});
  check_one_line_error(s.tasker({"step", "complete", kTask, "x"}), 2, {"--result is required"});
  Result none = s.tasker({});
  CHECK(none.exit_code == 2);
}

TEST_CASE("no templates to load says where tasker looked") {
  Sandbox s;  // its folder has no ./templates
  check_one_line_error(s.tasker({"worker", "--db", s.db()}), 4,
                       {"no ./templates folder in " + s.dir().string(), "--templates PATH", "TASKER_TEMPLATE_PATH"});
  check_one_line_error(s.tasker({"submit", "ecommerce/order_processing", "--db", s.db()}), 4, {"no templates"});
}

TEST_CASE("a plain file path is a SQLite database, relative to the working directory") {
  Sandbox s;
  Result created = s.tasker({"migrate", "--db", "plain.db"});
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  CHECK(std::filesystem::exists(s.dir() / "plain.db"));
  Result absolute = s.tasker({"list", "--json", "--db", (s.dir() / "plain.db").string()});
  INFO(absolute.describe());
  CHECK(absolute.exit_code == 0);
  CHECK(absolute.json_out().is_object());
}
