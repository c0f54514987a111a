// The step graph: order, levels, readiness, and every kind of graph problem.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tasker/dag.hpp"
#include "tasker/errors.hpp"
#include "tasker/loader.hpp"
#include "tasker/template.hpp"

using tasker::Dag;
using tasker::DagIssue;
using Names = std::vector<std::string>;
using Deps = std::vector<std::vector<std::string>>;
using Indices = std::vector<std::size_t>;

namespace {

Indices to_indices(std::span<const std::uint32_t> span) {
  Indices out(span.begin(), span.end());
  std::sort(out.begin(), out.end());
  return out;
}

/// Parents come before children in `order`, which holds every node once.
void check_topological(const Dag& dag) {
  const auto& order = dag.topological_order();
  REQUIRE(order.size() == dag.size());
  std::vector<std::size_t> position(dag.size(), SIZE_MAX);
  for (std::size_t i = 0; i < order.size(); ++i) {
    REQUIRE(order[i] < dag.size());
    REQUIRE(position[order[i]] == SIZE_MAX);  // no node twice
    position[order[i]] = i;
  }
  for (std::size_t node = 0; node < dag.size(); ++node)
    for (auto parent : dag.parents(node)) CHECK(position[parent] < position[node]);
}

Dag build_ok(const Names& names, const Deps& deps) {
  std::vector<DagIssue> issues;
  Dag dag = Dag::build(names, deps, issues);
  INFO("issues: " << issues.size() << (issues.empty() ? "" : " first: " + issues[0].message));
  REQUIRE(issues.empty());
  return dag;
}

tasker::TaskTemplate load_template(const char* relative) {
  tasker::LoadOptions options;
  options.environment = "development";
  return tasker::load_template_file(tasker::test::source_dir() / relative, options);
}

}  // namespace

TEST_CASE("dag: the diamond") {
  // start -> (b, c) -> end
  Dag dag = build_ok({"start", "b", "c", "end"}, {{}, {"start"}, {"start"}, {"b", "c"}});
  CHECK(dag.size() == 4u);
  CHECK(dag.edge_count() == 4u);
  CHECK(dag.acyclic());
  check_topological(dag);
  CHECK(dag.topological_order() == Indices{0, 1, 2, 3});
  CHECK(dag.levels() == std::vector<int>{0, 1, 1, 2});
  CHECK(dag.roots() == Indices{0});
  CHECK(dag.leaves() == Indices{3});
  CHECK(to_indices(dag.parents(0)).empty());
  CHECK(to_indices(dag.children(0)) == Indices{1, 2});
  CHECK(to_indices(dag.parents(3)) == Indices{1, 2});
  CHECK(to_indices(dag.children(3)).empty());
  CHECK(to_indices(dag.parents(1)) == Indices{0});
  CHECK(to_indices(dag.children(2)) == Indices{3});
  CHECK(dag.name(2) == "c");
  CHECK(dag.find("end") == std::optional<std::size_t>{3});
  CHECK_FALSE(dag.find("nope").has_value());

  SUBCASE("ready") {
    CHECK(dag.ready({false, false, false, false}) == Indices{0});
    CHECK(dag.ready({}) == Indices{0});  // nothing satisfied
    CHECK(dag.ready({true, false, false, false}) == Indices{1, 2});
    CHECK(dag.ready({true, true, false, false}) == Indices{2});  // end still waits for c
    CHECK(dag.ready({true, false, true, false}) == Indices{1});
    CHECK(dag.ready({true, true, true, false}) == Indices{3});
    CHECK(dag.ready({true, true, true, true}).empty());
  }
}

TEST_CASE("dag: the tree template through Dag::of") {
  auto tmpl = load_template("templates/math/tree.yaml");
  Dag dag = Dag::of(tmpl);
  REQUIRE(dag.size() == 8u);
  CHECK(dag.edge_count() == 10u);
  CHECK(dag.acyclic());
  check_topological(dag);
  auto at = [&](const char* name) {
    auto i = dag.find(name);
    REQUIRE_MESSAGE(i.has_value(), name);
    return *i;
  };
  const auto root = at("tree_root"), left = at("tree_branch_left"), right = at("tree_branch_right");
  const auto d = at("tree_leaf_d"), e = at("tree_leaf_e"), f = at("tree_leaf_f"), g = at("tree_leaf_g");
  const auto final_step = at("tree_final_convergence");
  CHECK(dag.roots() == Indices{root});
  CHECK(dag.leaves() == Indices{final_step});
  CHECK(dag.levels()[root] == 0);
  CHECK(dag.levels()[left] == 1);
  CHECK(dag.levels()[right] == 1);
  for (auto leaf : {d, e, f, g}) CHECK(dag.levels()[leaf] == 2);
  CHECK(dag.levels()[final_step] == 3);
  CHECK(to_indices(dag.children(left)) == Indices{d, e});
  CHECK(to_indices(dag.parents(final_step)) == Indices{d, e, f, g});

  std::vector<bool> satisfied(dag.size(), false);
  CHECK(dag.ready(satisfied) == Indices{root});
  satisfied[root] = true;
  CHECK(dag.ready(satisfied) == Indices{left, right});
  satisfied[left] = true;
  CHECK(dag.ready(satisfied) == Indices{right, d, e});
  satisfied[right] = satisfied[d] = satisfied[e] = satisfied[f] = true;
  CHECK(dag.ready(satisfied) == Indices{g});  // the final step waits for the last leaf
  satisfied[g] = true;
  CHECK(dag.ready(satisfied) == Indices{final_step});
}

TEST_CASE("dag: parents come before children whatever the template order") {
  // Listed children first: end depends on mid, mid on start.
  Dag dag = build_ok({"end", "mid", "start"}, {{"mid"}, {"start"}, {}});
  check_topological(dag);
  CHECK(dag.topological_order() == Indices{2, 1, 0});
  CHECK(dag.levels() == std::vector<int>{2, 1, 0});
  CHECK(dag.roots() == Indices{2});
  CHECK(dag.leaves() == Indices{0});
}

TEST_CASE("dag: a level is one more than the deepest parent") {
  // a -> b -> c, and a -> c directly: c is at level 2, not 1.
  Dag dag = build_ok({"a", "b", "c"}, {{}, {"a"}, {"a", "b"}});
  CHECK(dag.levels() == std::vector<int>{0, 1, 2});
  check_topological(dag);
}

TEST_CASE("dag: a cycle is found and reported as x -> y -> z -> x") {
  std::vector<DagIssue> issues;
  // x depends on z, y on x, z on y: x -> y -> z -> x in execution order.
  Dag dag = Dag::build({"x", "y", "z"}, {{"z"}, {"x"}, {"y"}}, issues);
  CHECK_FALSE(dag.acyclic());
  CHECK(dag.topological_order().empty());
  REQUIRE(issues.size() == 1u);
  const auto& issue = issues[0];
  CHECK(issue.kind == DagIssue::Kind::cycle);
  CHECK(issue.step == 0u);
  CHECK(issue.cycle == Indices{0, 1, 2, 0});
  CHECK(tasker::test::contains(issue.message, "x -> y -> z -> x"));
  CHECK_FALSE(issue.hint.empty());
}

TEST_CASE("dag: two independent cycles give two issues") {
  std::vector<DagIssue> issues;
  // a <-> b, c <-> d, and e independent of both.
  Dag dag = Dag::build({"a", "b", "c", "d", "e"}, {{"b"}, {"a"}, {"d"}, {"c"}, {}}, issues);
  CHECK_FALSE(dag.acyclic());
  CHECK(dag.topological_order() == Indices{4});
  REQUIRE(issues.size() == 2u);
  std::vector<std::string> messages;
  for (const auto& issue : issues) {
    CHECK(issue.kind == DagIssue::Kind::cycle);
    messages.push_back(issue.message);
  }
  std::sort(messages.begin(), messages.end());
  CHECK(tasker::test::contains(messages[0], "a -> b -> a"));
  CHECK(tasker::test::contains(messages[1], "c -> d -> c"));
}

TEST_CASE("dag: nodes downstream of a cycle are not reported as cycles") {
  std::vector<DagIssue> issues;
  // alpha <-> beta; gamma depends on beta; delta on gamma. Only alpha and beta are in a cycle.
  Dag dag = Dag::build({"alpha", "beta", "gamma", "delta"}, {{"beta"}, {"alpha"}, {"beta"}, {"gamma"}}, issues);
  CHECK_FALSE(dag.acyclic());
  CHECK(dag.topological_order().empty());
  REQUIRE(issues.size() == 1u);
  CHECK(issues[0].kind == DagIssue::Kind::cycle);
  CHECK(issues[0].cycle == Indices{0, 1, 0});
  CHECK(tasker::test::contains(issues[0].message, "alpha -> beta -> alpha"));
  CHECK_FALSE(tasker::test::contains(issues[0].message, "gamma"));
  CHECK_FALSE(tasker::test::contains(issues[0].message, "delta"));
}

TEST_CASE("dag: a cycle reachable from a root is still found") {
  std::vector<DagIssue> issues;
  // root -> p -> q -> r -> p
  Dag dag = Dag::build({"root", "p", "q", "r"}, {{}, {"root", "r"}, {"p"}, {"q"}}, issues);
  CHECK_FALSE(dag.acyclic());
  CHECK(dag.topological_order() == Indices{0});
  REQUIRE(issues.size() == 1u);
  CHECK(issues[0].cycle == Indices{1, 2, 3, 1});
  CHECK(tasker::test::contains(issues[0].message, "p -> q -> r -> p"));
}

TEST_CASE("dag: dependency problems are issues and their edges are dropped") {
  std::vector<DagIssue> issues;
  Dag dag = Dag::build({"load", "save", "load"}, {{"load"}, {"lod", "load", "load"}, {}}, issues);
  // load depends on itself; save on an unknown `lod` and twice on `load`; `load` is named twice.
  std::vector<DagIssue::Kind> kinds;
  for (const auto& i : issues) kinds.push_back(i.kind);
  CHECK(std::count(kinds.begin(), kinds.end(), DagIssue::Kind::duplicate_step) == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), DagIssue::Kind::self_dependency) == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), DagIssue::Kind::unknown_dependency) == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), DagIssue::Kind::duplicate_dependency) == 1);
  CHECK(issues.size() == 4u);
  for (const auto& i : issues) {
    CAPTURE(i.message);
    switch (i.kind) {
      case DagIssue::Kind::duplicate_step:
        CHECK(i.step == 2u);
        CHECK(i.first == 0u);
        break;
      case DagIssue::Kind::self_dependency:
        CHECK(i.step == 0u);
        CHECK(i.dependency == 0u);
        break;
      case DagIssue::Kind::unknown_dependency:
        CHECK(i.step == 1u);
        CHECK(i.dependency == 0u);
        CHECK(tasker::test::contains(i.hint, "did you mean `load`?"));
        break;
      case DagIssue::Kind::duplicate_dependency:
        CHECK(i.step == 1u);
        CHECK(i.dependency == 2u);
        break;
      case DagIssue::Kind::cycle: FAIL("unexpected cycle"); break;
    }
  }
  CHECK(dag.edge_count() == 1u);  // only save <- load survives
  CHECK(dag.acyclic());
}

TEST_CASE("dag: Dag::of throws TemplateError for an invalid template") {
  tasker::LoadOptions options;
  options.environment = "development";
  auto result = tasker::load_templates_from_string(
      "name: t\nnamespace_name: ns\nversion: 1.0.0\nsteps:\n  - name: a\n    handler: {callable: h}\n", "t.yaml",
      options);
  REQUIRE(result.ok());
  auto tmpl = result.templates.front();
  tmpl.steps.push_back(tmpl.steps[0]);
  tmpl.steps[1].name = "b";
  tmpl.steps[0].dependencies = {"b"};
  tmpl.steps[1].dependencies = {"a"};
  try {
    (void)Dag::of(tmpl);
    FAIL("Dag::of accepted a cycle");
  } catch (const tasker::TemplateError& e) {
    REQUIRE(e.diagnostics().size() == 1u);
    CHECK(tasker::test::contains(e.diagnostics()[0].message, "a -> b -> a"));
  }
}

TEST_CASE("dag: a 100,000-node chain builds without stack overflow") {
  constexpr std::size_t n = 100'000;
  Names names(n);
  Deps deps(n);
  for (std::size_t i = 0; i < n; ++i) {
    names[i] = fmt::format("s{}", i);
    if (i > 0) deps[i] = {names[i - 1]};
  }
  Dag dag = build_ok(names, deps);
  CHECK(dag.acyclic());
  CHECK(dag.edge_count() == n - 1);
  CHECK(dag.topological_order().front() == 0u);
  CHECK(dag.topological_order().back() == n - 1);
  CHECK(dag.levels().back() == static_cast<int>(n - 1));
  CHECK(dag.roots() == Indices{0});
  CHECK(dag.leaves() == Indices{n - 1});
  std::vector<bool> satisfied(n, true);
  satisfied[n - 1] = false;
  CHECK(dag.ready(satisfied) == Indices{n - 1});

  SUBCASE("closed into a 100,000-node cycle") {
    deps[0] = {names[n - 1]};
    std::vector<DagIssue> issues;
    Dag cyclic = Dag::build(names, deps, issues);
    CHECK_FALSE(cyclic.acyclic());
    REQUIRE(issues.size() == 1u);
    CHECK(issues[0].kind == DagIssue::Kind::cycle);
    CHECK(issues[0].cycle.size() == n + 1);
    CHECK(issues[0].cycle.front() == 0u);
    CHECK(issues[0].cycle.back() == 0u);
    CHECK(tasker::test::contains(issues[0].message, "s0 -> s1 -> s2"));
  }
}

TEST_CASE("dag: a 100,000-node fan-out builds") {
  constexpr std::size_t n = 100'000;
  Names names(n);
  Deps deps(n);
  names[0] = "root";
  for (std::size_t i = 1; i < n; ++i) {
    names[i] = "leaf" + std::to_string(i);
    deps[i] = {"root"};
  }
  Dag dag = build_ok(names, deps);
  CHECK(dag.acyclic());
  CHECK(dag.edge_count() == n - 1);
  CHECK(dag.children(0).size() == n - 1);
  CHECK(dag.roots() == Indices{0});
  CHECK(dag.leaves().size() == n - 1);
  CHECK(dag.topological_order().front() == 0u);
  CHECK(std::count(dag.levels().begin(), dag.levels().end(), 1) == static_cast<std::ptrdiff_t>(n - 1));
  std::vector<bool> satisfied(n, false);
  satisfied[0] = true;
  CHECK(dag.ready(satisfied).size() == n - 1);

  SUBCASE("and fan-in") {
    names.push_back("sink");
    std::vector<std::string> all_leaves(names.begin() + 1, names.end() - 1);
    deps.push_back(all_leaves);
    Dag both = build_ok(names, deps);
    CHECK(both.parents(n).size() == n - 1);
    CHECK(both.levels()[n] == 2);
    CHECK(both.topological_order().back() == n);
  }
}
