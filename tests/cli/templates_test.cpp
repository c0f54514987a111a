// validate, templates, graph of a template, --version, and every command's --help.
#include <fmt/format.h>

#include "support.hpp"
#include "tasker/version.hpp"

using namespace cli_test;

TEST_CASE("validate: the project's templates are valid") {
  Sandbox s;
  Result r = s.tasker({"validate", (source_dir() / "templates").string(), example_dir().string()});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ok: ") != std::string::npos);
}

TEST_CASE("validate: a broken template gives file:line:col diagnostics and exit code 4") {
  Sandbox s;
  auto path = s.write("broken.yaml", R"(name: broken
namespace_name: tests
version: 1.0.0
steps:
  - name: first
    handler:
      callable: tests.first
  - name: second
    handler:
      callable: tests.second
    dependencies: [frist]
)");
  Result r = s.tasker({"validate", path.string()});
  INFO(r.describe());
  CHECK(r.exit_code == 4);
  CHECK(r.out.find(path.string() + ":11:") != std::string::npos);
  CHECK(r.out.find("frist") != std::string::npos);
  CHECK(r.out.find("step `second` depends on `frist`, which is not a step of this template") != std::string::npos);

  Result j = s.tasker({"validate", path.string(), "--json"});
  CHECK(j.exit_code == 4);
  json report = j.json_out();
  CHECK(report.at("valid") == false);
  CHECK(report.at("errors").get<int>() >= 1);
  CHECK(report.at("diagnostics").at(0).at("file") == path.string());
  CHECK(report.at("diagnostics").at(0).at("line") == 11);
}

TEST_CASE("templates --json lists the example workflow") {
  Sandbox s;
  Result r = s.tasker({"templates", example_dir().string(), "--json"});
  json list = r.json_out();
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("namespace") == "ecommerce_commands");
  CHECK(list[0].at("steps") == 5);
}

TEST_CASE("graph of a template names its steps and edges") {
  Sandbox s;
  Result r = s.tasker({"graph", (example_dir() / "order_processing.yaml").string(), "--format", "mermaid"});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("flowchart TD") != std::string::npos);
  CHECK(r.out.find("n0 --> n1") != std::string::npos);
  CHECK(r.out.find("ecommerce_commands.validate_cart") != std::string::npos);
}

TEST_CASE("--version prints the version of the linked libtasker") {
  Sandbox s;
  Result r = s.tasker({"--version"});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(r.out == fmt::format("tasker {}\n", tasker::version()));
  CHECK(tasker::version() == TASKER_VERSION_STRING);
}

TEST_CASE("every command's --help explains it with an example") {
  Sandbox s;
  for (std::vector<std::string> command : std::vector<std::vector<std::string>>{{"validate"},
                                                                                {"templates"},
                                                                                {"graph"},
                                                                                {"submit"},
                                                                                {"status"},
                                                                                {"list"},
                                                                                {"steps"},
                                                                                {"audit"},
                                                                                {"cancel"},
                                                                                {"step", "reset"},
                                                                                {"step", "resolve"},
                                                                                {"step", "complete"},
                                                                                {"watch"},
                                                                                {"migrate"},
                                                                                {"worker"},
                                                                                {"run"}}) {
    command.push_back("--help");
    Result r = s.tasker(command);
    INFO(command[0] << " " << command[1] << "\n" << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Example") != std::string::npos);
    CHECK(r.err.empty());
  }
}
