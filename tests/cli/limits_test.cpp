// Hostile input on the real binary (issue 14): templates with self-referencing
// aliases or "billion laughs", JSON nested 100,000 levels, and command handlers
// printing bytes that are not UTF-8 once crashed or hung tasker. Each is now
// refused with the limit it passes (docs/limits.md), and no worker dies of it.
#include <signal.h>

#include "support.hpp"

using namespace cli_test;

namespace {

const std::string kHead = "name: hostile\nnamespace_name: cli_tests\nversion: 1.0.0\n";

/// `[[...]]` nested `depth` levels inside {"a": ...}.
std::string deep_json(std::size_t depth) {
  return "{\"a\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
}

/// Ten aliases of the previous level, nine levels deep (about 700 bytes).
std::string laughs(const std::string& indent) {
  std::string yaml = indent + "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    yaml += indent + "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += std::string(i ? ", " : "") + "*l" + std::to_string(level - 1);
    yaml += "]\n";
  }
  return yaml;
}

/// A one-step template `name` in `folder`/name whose handler runs `script` with sh.
std::string command_template(const Sandbox& s, const std::string& folder, const std::string& name,
                             const std::string& script, int max_attempts = 1) {
  const std::string dir = folder + "/" + name;
  s.write(dir + "/script.sh", script);
  s.write(dir + "/t.yaml", "name: " + name + "\nnamespace_name: cli_tests\nversion: 1.0.0\nsteps:\n" +
                               "  - name: only\n    handler:\n      callable: cli_tests." + name +
                               "\n      command: [sh, script.sh]\n    retry:\n      max_attempts: " +
                               std::to_string(max_attempts) + "\n      backoff: none\n");
  return (s.dir() / dir / "t.yaml").string();
}

/// Prints `[` 100,000 times, then `]` as often: JSON nested 100,000 levels.
const std::string kDeepOutput = "head -c 100000 /dev/zero | tr '\\0' '['; head -c 100000 /dev/zero | tr '\\0' ']'";

}  // namespace

TEST_CASE("limits: a self-referencing alias is an error at the alias for every command that loads templates") {
  Sandbox s;
  auto merge = s.write("templates/merge.yaml", kHead +
                                                   "metadata: &b {x: 1, <<: *b}\nsteps:\n  - name: a\n"
                                                   "    handler: {callable: c, command: [true]}\n");
  Result validate = s.tasker({"validate", merge.string()});
  INFO(validate.describe());
  CHECK(validate.exit_code == 4);
  CHECK(validate.out.find(merge.string() + ":4:25: error: alias `*b` is inside the node it names") !=
        std::string::npos);

  auto handler = s.write("other/handler.yaml", kHead +
                                                   "steps:\n  - name: a\n    handler: &h {callable: c, "
                                                   "initialization: {me: *h}}\n");
  Result other = s.tasker({"validate", handler.string()});
  INFO(other.describe());
  CHECK(other.exit_code == 4);
  CHECK(other.out.find(handler.string() + ":6:52: error: alias `*h`") != std::string::npos);

  // Text yaml-cpp would read for ever (found by fuzzing) ends too.
  auto comma = s.write("other/comma.yaml", ",\n");
  Result stuck = s.tasker({"validate", comma.string()});
  INFO(stuck.describe());
  CHECK(stuck.exit_code == 4);
  CHECK(stuck.out.find(comma.string() + ":1:1: error: invalid YAML: the parser cannot read past this point") !=
        std::string::npos);

  // Every loading command reports it (exit 4) instead of dying: one such file
  // in the template path once stopped every worker.
  const std::string folder = (s.dir() / "templates").string();
  for (const std::vector<std::string>& args : {std::vector<std::string>{"templates", folder},
                                               {"worker", "--templates", folder, "--db", s.db()},
                                               {"submit", "cli_tests/hostile", "--templates", folder, "--db", s.db()},
                                               {"run", merge.string(), "--db", s.db()},
                                               {"graph", "cli_tests/hostile", "--templates", folder}}) {
    Result r = s.tasker(args);
    INFO(args.front() << ": " << r.describe());
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("merge.yaml:4:25") != std::string::npos);
  }
}

TEST_CASE("limits: billion laughs in metadata or initialization is refused, not expanded") {
  Sandbox s;
  auto metadata = s.write("laughs/metadata.yaml",
                          kHead + "metadata:\n" + laughs("  ") + "steps:\n  - name: a\n    handler: {callable: c}\n");
  auto initialization =
      s.write("laughs/initialization.yaml", kHead +
                                                "steps:\n  - name: a\n    handler:\n      callable: c\n"
                                                "      initialization:\n" +
                                                laughs("        "));
  for (const auto& path : {metadata, initialization}) {
    Result r = s.tasker({"validate", path.string()});
    INFO(r.describe());
    CHECK(r.exit_code == 4);
    CHECK(r.out.find("nodes once its aliases are expanded") != std::string::npos);
    CHECK(r.out.find("more than limits.template_max_nodes allows (1000000)") != std::string::npos);
  }
  // A configuration can lower the limits: a small template passes 10 nodes.
  auto config = s.write("tasker.yaml", "limits:\n  template_max_nodes: 10\n");
  Result tight = s.tasker(
      {"validate", (source_dir() / "templates" / "math" / "diamond.yaml").string(), "--config", config.string()});
  INFO(tight.describe());
  CHECK(tight.exit_code == 4);
  CHECK(tight.out.find("allows (10)") != std::string::npos);
}

TEST_CASE("limits: a context or result nested 100,000 levels is refused, and nothing is written") {
  Sandbox s;
  auto deep = s.write("deep.json", deep_json(100'000));
  const std::vector<std::string> submit = {
      "submit",   "ecommerce_commands/order_processing", "--templates", example_dir().string(), "--db", s.db(),
      "--context"};
  auto with = [](std::vector<std::string> args, const std::string& last) {
    args.push_back(last);
    return args;
  };
  check_one_line_error(s.tasker(with(submit, "@" + deep.string())), 4,
                       {"--context (file `" + deep.string() + "`) is nested 100001 levels deep",
                        "more than limits.json_max_depth allows (128)", "TASKER_LIMITS_JSON_MAX_DEPTH"});
  check_one_line_error(s.tasker(with(submit, "@-"), deep_json(100'000)), 4,
                       {"--context (stdin) is nested 100001 levels deep"});
  if (!s.postgres()) CHECK_FALSE(std::filesystem::exists(s.dir() / "tasker.db"));  // refused before opening it

  const std::string uuid = s.submit_example();
  check_one_line_error(
      s.tasker({"step", "complete", uuid, "validate_cart", "--result", "@" + deep.string(), "--db", s.db()}), 4,
      {"--result (file `" + deep.string() + "`) is nested 100001 levels deep"});
  CHECK(Sandbox::step_of(s.status(uuid), "validate_cart").at("state") == "enqueued");

  // A number beyond a double is malformed JSON too (found by fuzzing: it escaped as an internal error).
  check_one_line_error(s.tasker(with(submit, R"({"total": 1e400})")), 4,
                       {"--context is not valid JSON: number overflow parsing '1e400'"});

  // Size, with the limit from a configuration file.
  auto config = s.write("tasker.yaml", "limits:\n  json_max_bytes: 64\n");
  std::vector<std::string> small = with(submit, R"({"note": ")" + std::string(100, 'x') + R"("})");
  small.insert(small.end(), {"--config", config.string()});
  check_one_line_error(s.tasker(small), 4, {"--context is 112 bytes, more than limits.json_max_bytes allows (64)"});
  CHECK(s.tasks().size() == 1);
}

TEST_CASE("limits: a handler printing invalid UTF-8 or deep JSON fails its step as invalid_output") {
  Sandbox s;
  auto utf8 = command_template(s, "run", "latin1", "cat > /dev/null; printf '{\"name\": \"caf\\351\"}'\n");
  Result r = s.tasker({"run", utf8, "--db", s.db()});
  check_one_line_error(r, 5, {"step `only` failed after 1 attempt", "stdout is not JSON", "ill-formed UTF-8 byte"});
  json step = Sandbox::step_of(s.status(s.tasks().at(0).at("task_uuid")), "only");
  CHECK(step.at("error").at("error_type") == "invalid_output");
  CHECK(step.at("error").at("context").at("stdout") == "{\"name\": \"caf\xef\xbf\xbd\"}");

  auto deep = command_template(s, "run", "deep", "cat > /dev/null; " + kDeepOutput + "\n");
  Result d = s.tasker({"run", deep, "--db", s.db()});
  check_one_line_error(d, 5, {"exited 0 but its stdout is nested 100000 levels deep", "limits.json_max_depth"});
}

TEST_CASE("limits: a worker outlives handlers that print invalid UTF-8 or deep JSON, on every attempt") {
  Sandbox s;
  command_template(s, "hostile", "latin1", "cat > /dev/null; printf '{\"name\": \"caf\\351\"}'\n", 2);
  command_template(s, "hostile", "deep", "cat > /dev/null; printf '\\377' >&2; " + kDeepOutput + "\n", 2);
  const std::string folder = (s.dir() / "hostile").string();
  Process worker = s.start({"worker", "--templates", folder, "--db", s.db(), "--concurrency", "2"});
  std::vector<std::string> uuids;
  for (const char* name : {"cli_tests/latin1", "cli_tests/deep"}) {
    Result submitted = s.tasker({"submit", name, "--templates", folder, "--db", s.db()});
    INFO(submitted.describe());
    REQUIRE(submitted.exit_code == 0);
    uuids.push_back(submitted.out.substr(0, 36));
  }
  for (const auto& uuid : uuids) {
    INFO(worker.err());
    CHECK(eventually([&] { return s.status(uuid).at("state") == "error"; }));
    json step = Sandbox::step_of(s.status(uuid), "only");
    CHECK(step.at("attempts") == 2);  // the same worker took the second attempt too
    CHECK(step.at("error").at("error_type") == "invalid_output");
  }
  worker.signal(SIGTERM);
  CHECK(worker.wait() == 0);  // alive until told to stop
  INFO(worker.err());
  CHECK(worker.err().find("4 failed") != std::string::npos);
}
