// Template files beyond the loader's limits (docs/limits.md) are reported at
// file:line:col before their content is walked: self-referencing aliases,
// "billion laughs", deep nesting, size and text that is not UTF-8. Each of
// these once crashed or hung every command that loads templates.
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"

using tasker::json;
using tasker::LoadOptions;
using tasker::LoadResult;
using tasker::test::check_at;
using tasker::test::contains;
using tasker::test::dump;
using tasker::test::env;
using tasker::test::load;
using tasker::test::single_error;

namespace {

constexpr const char* kHead = "name: t\nnamespace_name: ns\nversion: 1.0.0\n";
constexpr const char* kStep = "steps:\n  - name: a\n    handler: {callable: c}\n";

/// Ten aliases of the previous level, nine levels deep: 10^10 scalars in about 700 bytes.
std::string laughs(const std::string& indent) {
  std::string yaml = indent + "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    std::string previous = "*l" + std::to_string(level - 1);
    yaml += indent + "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ", " : "") + previous;
    yaml += "]\n";
  }
  return yaml;
}

LoadOptions with_limits(std::size_t max_bytes, std::size_t max_depth, std::size_t max_nodes) {
  LoadOptions options = env();
  options.limits.max_bytes = max_bytes;
  options.limits.max_depth = max_depth;
  options.limits.max_nodes = max_nodes;
  return options;
}

}  // namespace

TEST_CASE("template limits: an alias inside the node it names is an error at the alias, not a crash") {
  auto merge = single_error(load(std::string(kHead) + "metadata: &b {x: 1, <<: *b}\n" + kStep));
  check_at(merge, 4, 25);
  CHECK(merge.message ==
        "alias `*b` is inside the node it names (anchor `&b` at line 4, column 11): the node would contain itself "
        "without end");
  CHECK(contains(merge.hint, "write the values out"));

  auto handler = single_error(
      load(std::string(kHead) + "steps:\n  - name: a\n    handler: &h {callable: c, initialization: {me: *h}}\n"));
  check_at(handler, 6, 52);
  CHECK(contains(handler.message, "alias `*h` is inside the node it names (anchor `&h` at line 6, column 14)"));

  // Deeper inside, and in a list.
  auto list = single_error(load(std::string(kHead) + "metadata:\n  outer: &o\n    - [1, [2, *o]]\n" + kStep));
  check_at(list, 6, 15);
}

TEST_CASE("template limits: billion laughs in metadata or initialization is refused at once") {
  const std::string in_metadata = std::string(kHead) + "metadata:\n" + laughs("  ") + kStep;
  CHECK(in_metadata.size() < 800);
  auto metadata = single_error(load(in_metadata));
  CHECK(metadata.location.line == 10);  // l5, the first level of more than 1,000,000 nodes
  // l0 is 11 nodes, each level 1 + 10 x the previous: l9 alone is 11,111,111,111.
  CHECK(contains(metadata.message, "the file has 12345679038 nodes once its aliases are expanded"));
  CHECK(contains(metadata.message, "more than limits.template_max_nodes allows (1000000)"));
  CHECK(contains(metadata.hint, "TASKER_LIMITS_TEMPLATE_MAX_NODES"));

  auto initialization = single_error(
      load(std::string(kHead) + "steps:\n  - name: a\n    handler:\n      callable: c\n      initialization:\n" +
           laughs("        ")));
  CHECK(contains(initialization.message, "nodes once its aliases are expanded"));
}

TEST_CASE("template limits: aliases within the limit still work, expanded as before") {
  const std::string yaml = std::string(kHead) +
                           "metadata:\n  shared: &s {retries: [1, 2], owner: ops}\n  again: *s\n"
                           "steps:\n  - name: a\n    handler: {callable: c, initialization: &i {k: v}}\n"
                           "  - name: b\n    handler: {callable: c, initialization: *i}\n";
  LoadResult result = load(yaml);
  INFO(dump(result));
  REQUIRE(result.ok());
  const auto& t = result.templates.front();
  CHECK(t.metadata["again"] == json::parse(R"({"retries": [1, 2], "owner": "ops"})"));
  CHECK(t.steps[1].handler.initialization == json{{"k", "v"}});

  // Counted as expanded: 1 + shared (1 + 2 + 2 + 2 + 2 keys/values...) twice.
  LoadResult tight = load(yaml, with_limits(1 << 20, 64, 20));
  auto e = single_error(tight);
  CHECK(contains(e.message, "nodes once its aliases are expanded"));
  CHECK(contains(e.message, "allows (20)"));
}

TEST_CASE("template limits: nesting deeper than template_max_depth is an error where it passes the limit") {
  auto nested = [](int levels) {
    return std::string(kHead) + "metadata: {x: " + std::string(levels, '[') + std::string(levels, ']') + "}\n" + kStep;
  };
  // The template is level 1, metadata 2, so 62 lists reach the default limit of 64.
  LoadResult at_limit = load(nested(62));
  INFO(dump(at_limit));
  CHECK(at_limit.ok());
  auto over = single_error(load(nested(63)));
  check_at(over, 4, 77);
  CHECK(over.message ==
        "the template nests mappings and lists 65 levels deep here, more than limits.template_max_depth allows (64)");
  CHECK(over.hint ==
        "raise limits.template_max_depth (environment variable TASKER_LIMITS_TEMPLATE_MAX_DEPTH) if such input is "
        "expected");

  // Through an alias: the aliased node's height counts where the alias stands.
  LoadResult via_alias = load(std::string(kHead) + "metadata:\n  a: &a [[[1]]]\n  b: {c: {d: *a}}\n" + kStep,
                              with_limits(1 << 20, 5, 1000));
  auto alias_error = single_error(via_alias);
  check_at(alias_error, 6, 14);
  CHECK(contains(alias_error.message, "7 levels deep"));  // 4 levels around the alias, 3 in [[[1]]]

  // 100,000 levels: yaml-cpp's own guard stops reading, after the limit was found.
  auto deep = single_error(load(nested(100'000)));
  CHECK(contains(deep.message, "nests mappings and lists at least"));
  CHECK(contains(deep.message, "limits.template_max_depth"));
}

TEST_CASE("template limits: a file larger than template_max_bytes is refused unread") {
  const std::string yaml = std::string(kHead) + kStep;
  CHECK(load(yaml, with_limits(yaml.size(), 64, 1000)).ok());
  auto e = single_error(load(yaml, with_limits(yaml.size() - 1, 64, 1000)));
  CHECK(e.location.line == 0);
  CHECK(e.message == "the file is " + std::to_string(yaml.size()) +
                         " bytes, more than limits.template_max_bytes allows (" + std::to_string(yaml.size() - 1) +
                         ")");
  CHECK(contains(e.hint, "split it into several templates"));

  tasker::test::TempDir dir;
  auto path = dir.write("big.yaml", yaml + "# padding\n");
  LoadResult from_file = tasker::load_templates(path, with_limits(yaml.size(), 64, 1000));
  auto file_error = single_error(from_file);
  CHECK(file_error.location.file == path.string());
  CHECK(contains(file_error.message, "the file is " + std::to_string(yaml.size() + 10) + " bytes"));

  // A file without an end is read only until it passes the limit.
  LoadResult endless = tasker::load_templates("/dev/zero", with_limits(1000, 64, 1000));
  auto endless_error = single_error(endless);
  CHECK(contains(endless_error.message, "the file is at least"));
}

TEST_CASE("template limits: text that is not UTF-8 is an error at its value") {
  auto e = single_error(load(std::string(kHead) + "description: \"caf\xe9\"\n" + kStep));
  check_at(e, 4, 14);
  CHECK(e.message == "this text is not valid UTF-8 (byte 0xE9 at offset 3 of the value)");
  auto key = single_error(load(std::string(kHead) + "metadata: {\"k\xff\": 1}\n" + kStep));
  check_at(key, 4, 12);
}

TEST_CASE("template limits: yaml-cpp's own message quoting a byte that is not UTF-8 is repaired (found by fuzzing)") {
  // fuzz_template_loader: `unknown escape character: \xB0` quoted the raw byte,
  // and `tasker validate --json` could not print the diagnostic.
  auto e = single_error(load(std::string(kHead) + "description: \"\\\xb0\"\n" + kStep));
  check_at(e, 4, 17);
  CHECK(e.message == "invalid YAML: unknown escape character: \xef\xbf\xbd");
}

TEST_CASE("template limits: text yaml-cpp would read for ever is an error where it stops (found by fuzzing)") {
  // fuzz_template_loader (a timeout): yaml-cpp 0.7 reports empty documents at
  // the same place for ever when one would start with `,`; the loader hung.
  auto comma = single_error(load(","));
  check_at(comma, 1, 1);
  CHECK(comma.message == "invalid YAML: the parser cannot read past this point");
  CHECK(comma.hint == "`,` belongs inside [...] or {...}; quote the value if it is text");
  // After a document's node, as in the fuzzer's input (a comment mangled into `    n^2 -> ...` and `,616 -> ...`).
  auto mangled = single_error(load("  plain text\n# comment\n,616 -> 2,821\n"));
  check_at(mangled, 3, 1);
  check_at(single_error(load("[a]\n,\n")), 2, 1);
}

TEST_CASE("template limits: the reference templates load within the default limits") {
  LoadResult result = tasker::load_templates(tasker::test::source_dir() / "templates", env());
  INFO(dump(result));
  CHECK(result.ok());
  CHECK(result.templates.size() >= 10);
}
