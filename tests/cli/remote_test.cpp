// The task commands through a tasker service (--server, --profile): the same
// output and exit codes as on the database, read against a real `tasker serve`
// on loopback over the sandbox's database.
#include <signal.h>

#include <string>
#include <vector>

#include "support.hpp"

using namespace cli_test;

namespace {

/// `tasker serve` over the sandbox's database with the example's templates; its URL.
struct Served {
  Process process;
  std::string url;
};

Served serve(const Sandbox& s, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"serve",    "--db",       s.db(), "--templates", example_dir().string(),
                                "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  Process p = s.start(args);
  std::string url;
  REQUIRE_MESSAGE(eventually([&] {
                    const std::string out = p.out();
                    url = out.substr(0, out.find('\n'));
                    return out.find('\n') != std::string::npos;
                  }),
                  "tasker serve printed no URL: " << p.err());
  return {std::move(p), url};
}

}  // namespace

TEST_CASE("remote: list, status, steps and audit through --server print what they print on the database") {
  Sandbox s;
  const std::string uuid = s.submit_example({"--priority", "3"});
  Served served = serve(s);
  for (const std::vector<std::string>& command : {std::vector<std::string>{"status", uuid, "--json"},
                                                  {"steps", uuid, "--json"},
                                                  {"audit", uuid, "--json"},
                                                  {"audit", uuid, "validate_cart"},
                                                  {"steps", uuid},
                                                  {"list", "--json"},
                                                  {"list"}}) {
    std::vector<std::string> local = command, remote = command;
    local.insert(local.end(), {"--db", s.db()});
    remote.insert(remote.begin(), {"--server", served.url});
    const Result a = s.tasker(local), b = s.tasker(remote);
    INFO(command[0] << " " << (command.size() > 2 ? command[2] : "") << "\n" << a.describe() << "\n" << b.describe());
    CHECK(b.exit_code == 0);
    CHECK(a.out == b.out);
  }
  // After the subcommand too (the global options fall through).
  CHECK(s.tasker({"status", uuid, "--json", "--server", served.url}).json_out().at("task_uuid") == uuid);
}

TEST_CASE("remote: submit, step actions, cancel and watch through --server, with the same exit codes") {
  Sandbox s;
  s.migrate();
  Served served = serve(s);
  const std::vector<std::string> server{"--server", served.url};
  auto remote = [&](std::vector<std::string> args) {
    args.insert(args.begin(), server.begin(), server.end());
    return s.tasker(args);
  };
  // No local templates needed: the service resolves the template.
  Result submitted = remote(
      {"submit", "ecommerce_commands/order_processing", "--context", "@" + (example_dir() / "context.json").string()});
  INFO(submitted.describe());
  REQUIRE(submitted.exit_code == 0);
  const std::string uuid = submitted.out.substr(0, submitted.out.find('\n'));
  CHECK(s.status(uuid).at("state") == "pending");  // it is in the database

  Result completed = remote({"step", "complete", uuid, "validate_cart", "--result", R"({"total": 12.5})"});
  CHECK(completed.exit_code == 0);
  CHECK(completed.out == "step `validate_cart` of task " + uuid + ": complete (after complete)\n");
  CHECK(remote({"step", "resolve", uuid, "process_payment", "--json"}).json_out().at("state") == "resolved_manually");
  Result cancelled = remote({"cancel", uuid, "--reason", "test"});
  CHECK(cancelled.exit_code == 0);
  CHECK(cancelled.out.find("task " + uuid + " cancelled") == 0);
  // The same failures, the same exit codes: unknown task 3, malformed uuid 4, an ended task 4, watch 5.
  CHECK(remote({"status", "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b"}).exit_code == 3);
  CHECK(remote({"status", "not-a-uuid"}).exit_code == 4);
  CHECK(remote({"cancel", uuid}).exit_code == s.tasker({"cancel", uuid, "--db", s.db()}).exit_code);
  Result watched = remote({"watch", uuid});
  CHECK(watched.exit_code == 5);
  CHECK(watched.out == s.tasker({"watch", uuid, "--db", s.db()}).out);
}

TEST_CASE("remote: API keys, profiles, and what to do when neither a database nor a server is given") {
  Sandbox s;
  s.migrate();
  // The token's SHA-256 (printf %s cli-test-token | sha256sum), as the server's configuration holds it.
  const auto config =
      s.write("server.yaml",
              "server:\n  api_keys:\n    - {name: ops, sha256: "
              "ad8225e024d5ddcf0c412a98f0ba5ea82bcc2be6bf71245bb56e17fce49286af, permissions: [\"*\"]}\n");
  Served served = serve(s, {"--config", config.string()});
  const std::string uuid = s.submit_example();
  CHECK(s.tasker({"--server", served.url, "--api-key", "cli-test-token", "status", uuid, "--json"})
            .json_out()
            .at("task_uuid") == uuid);
  Result anonymous = s.tasker({"--server", served.url, "status", uuid});
  CHECK(anonymous.exit_code == 1);
  CHECK(anonymous.err.find("401") != std::string::npos);

  check_one_line_error(s.tasker({"list", "--db", s.db(), "--server", served.url}), 2, {"--db", "--server", "not both"});

  // A profile names the service; `default` picks it when nothing else is given.
  // Values quoted as JSON strings (a PostgreSQL URL holds `?` and `&`).
  const auto profiles =
      s.write("profiles.yaml", "default: here\nprofiles:\n  here: {server: " + json(served.url).dump() +
                                   ", api_key: cli-test-token}\n  there: {db: " + json(s.db()).dump() + "}\n");
  CHECK(s.tasker({"--profiles", profiles.string(), "status", uuid, "--json"}).json_out().at("task_uuid") == uuid);
  CHECK(s.tasker({"--profiles", profiles.string(), "--profile", "there", "status", uuid, "--json"})
            .json_out()
            .at("task_uuid") == uuid);
  check_one_line_error(s.tasker({"--profiles", profiles.string(), "--profile", "nowhere", "list"}), 4,
                       {"profiles.nowhere", "there is no profile `nowhere`"});
  const auto bad = s.write("bad.yaml", "profiles:\n  x: {server: http://127.0.0.1:1, token: abc}\n");
  check_one_line_error(s.tasker({"--profiles", bad.string(), "--profile", "x", "list"}), 4,
                       {"profiles.x.token", "unknown key"});

  // A folder without a database, and nothing names one: say how to give one.
  Sandbox empty;
  check_one_line_error(empty.tasker({"--profiles", (empty.dir() / "none.yaml").string(), "list"}), 3,
                       {"no database and no tasker service", "--db URL", "--server URL", "--profile NAME"});
}

TEST_CASE("remote: schedule create, update, pause, resume, trigger and delete through --server, as on the database") {
  Sandbox s;
  s.migrate();
  Served served = serve(s);
  auto remote = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", served.url});
    return s.tasker(args);
  };
  auto local = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--db", s.db()});
    return s.tasker(args);
  };
  const std::string target = "ecommerce_commands/order_processing";
  const std::string context = "@" + (example_dir() / "context.json").string();
  // No local templates: the service resolves the template and pins its version.
  Result created =
      remote({"schedule", "create", "nightly", target, "--cron", "0 2 * * *", "--context", context, "--json"});
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  CHECK(created.json_out().at("cron") == "0 2 * * *");
  CHECK(created.json_out().at("version") == "1.0.0");
  for (const std::vector<std::string>& command : {std::vector<std::string>{"schedule", "show", "nightly", "--json"},
                                                  {"schedule", "show", "nightly"},
                                                  {"schedule", "list", "--json"},
                                                  {"schedule", "list"}}) {
    const Result a = local(command), b = remote(command);
    INFO(a.describe() << "\n" << b.describe());
    CHECK(b.exit_code == 0);
    CHECK(a.out == b.out);
  }
  Result updated =
      remote({"schedule", "update", "nightly", "--cron", "30 3 * * *", "--timezone", "Europe/Berlin", "--json"});
  CHECK(updated.json_out().at("cron") == "30 3 * * *");
  CHECK(local({"schedule", "show", "nightly", "--json"}).json_out().at("time_zone") == "Europe/Berlin");
  CHECK(remote({"schedule", "pause", "nightly", "--json"}).json_out().at("paused") == true);
  CHECK(remote({"schedule", "resume", "nightly", "--json"}).json_out().at("paused") == false);
  Result triggered = remote({"schedule", "trigger", "nightly"});
  REQUIRE(triggered.exit_code == 0);
  const std::string uuid = triggered.out.substr(0, triggered.out.find('\n'));
  CHECK(s.status(uuid).at("initiator") == "schedule:nightly");
  // The same failures, the same exit codes: a name taken, a bad cron, nothing to change, an unknown name.
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"schedule", "create", "nightly", target, "--cron", "0 2 * * *"},
        {"schedule", "create", "other", target, "--cron", "61 * * * *"},
        {"schedule", "update", "nightly"}}) {
    std::vector<std::string> with_templates = command;
    with_templates.insert(with_templates.end(), {"--templates", example_dir().string()});
    const Result a = local(with_templates), b = remote(command);
    INFO(a.describe() << "\n" << b.describe());
    CHECK(a.exit_code != 0);
    CHECK(b.exit_code == a.exit_code);
  }
  CHECK(remote({"schedule", "delete", "nightly"}).exit_code == 0);
  const Result gone = remote({"schedule", "show", "nightly"});
  CHECK(gone.exit_code == 3);
  CHECK(gone.err == local({"schedule", "show", "nightly"}).err);  // said once, as the database says it
}
