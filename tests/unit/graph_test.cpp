// Rendering a template's DAG as Graphviz dot and Mermaid.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "helpers.hpp"
#include "tasker/graph.hpp"
#include "tasker/loader.hpp"
#include "tasker/task.hpp"
#include "tasker/template.hpp"

using tasker::GraphFormat;
using tasker::test::contains;

namespace {

tasker::TaskTemplate diamond() {
  return tasker::load_template_file(tasker::test::source_dir() / "templates/math/diamond.yaml", tasker::test::env());
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("graph: graph_of the diamond template") {
  auto graph = tasker::graph_of(diamond());
  CHECK(graph.title == "diamond_workflow/diamond_pattern@1.0.0");
  REQUIRE(graph.nodes.size() == 4u);
  CHECK(graph.nodes[0].id == "diamond_start");
  CHECK(graph.nodes[3].id == "diamond_end");
  REQUIRE(graph.nodes[0].details.size() >= 2u);
  CHECK(graph.nodes[0].details[0] == "math.square_input");
  CHECK(graph.nodes[0].details[1] == "3x exponential 500ms..10000ms");
  for (const auto& node : graph.nodes) CHECK_FALSE(node.state.has_value());
  auto edges = graph.edges;
  std::sort(edges.begin(), edges.end());
  CHECK(edges == std::vector<std::pair<std::size_t, std::size_t>>{{0, 1}, {0, 2}, {1, 3}, {2, 3}});
}

TEST_CASE("graph: dot rendering of the diamond") {
  auto text = tasker::render_graph(tasker::graph_of(diamond()), GraphFormat::dot);
  CHECK(text.rfind("digraph \"diamond_workflow/diamond_pattern@1.0.0\" {", 0) == 0);
  CHECK(contains(text, "n0 [label=\"diamond_start\\nmath.square_input\\n3x exponential 500ms..10000ms\"]"));
  CHECK(contains(text, "n1 [label=\"diamond_branch_b\\nmath.square\\n"));
  CHECK(contains(text, "n2 [label=\"diamond_branch_c\\nmath.square\\n"));
  CHECK(contains(text, "n3 [label=\"diamond_end\\nmath.multiply_and_square\\n"));
  CHECK(contains(text, "n0 -> n1;"));
  CHECK(contains(text, "n0 -> n2;"));
  CHECK(contains(text, "n1 -> n3;"));
  CHECK(contains(text, "n2 -> n3;"));
  CHECK(count(text, " -> ") == 4u);
  CHECK(count(text, "[label=") == 4u);
  CHECK(text.substr(text.size() - 2) == "}\n");
  // Without states no node gets its own colour.
  CHECK(count(text, "fillcolor=") == 1u);  // only the default in `node [...]`
}

TEST_CASE("graph: mermaid rendering of the diamond") {
  auto text = tasker::render_graph(tasker::graph_of(diamond()), GraphFormat::mermaid);
  CHECK(contains(text, "title: diamond_workflow/diamond_pattern@1.0.0"));
  CHECK(contains(text, "flowchart TD"));
  CHECK(contains(text, "n0[\"diamond_start<br/>math.square_input<br/>3x exponential 500ms..10000ms\"]"));
  CHECK(contains(text, "n3[\"diamond_end<br/>math.multiply_and_square<br/>"));
  CHECK(contains(text, "n0 --> n1"));
  CHECK(contains(text, "n0 --> n2"));
  CHECK(contains(text, "n1 --> n3"));
  CHECK(contains(text, "n2 --> n3"));
  CHECK(count(text, " --> ") == 4u);
  CHECK_FALSE(contains(text, "classDef"));
}

TEST_CASE("graph: nodes are coloured by state") {
  auto graph = tasker::graph_of(diamond());
  graph.nodes[0].state = "complete";
  graph.nodes[1].state = "error";
  graph.nodes[2].state = "complete";
  graph.nodes[3].state = "pending";

  SUBCASE("dot") {
    auto text = tasker::render_graph(graph, GraphFormat::dot);
    CHECK(contains(text,
                   "n0 [label=\"diamond_start\\nmath.square_input\\n3x exponential 500ms..10000ms\\n[complete]\", "
                   "fillcolor=\"#a5d6a7\"]"));
    CHECK(contains(text, "[error]\", fillcolor=\"#ef9a9a\"]"));
    CHECK(contains(text, "[pending]\", fillcolor=\"#e0e0e0\"]"));
    CHECK(count(text, "fillcolor=\"#a5d6a7\"") == 2u);
  }
  SUBCASE("mermaid") {
    auto text = tasker::render_graph(graph, GraphFormat::mermaid);
    CHECK(contains(text, "<br/>[complete]\"]"));
    CHECK(contains(text, "classDef complete fill:#a5d6a7"));
    CHECK(contains(text, "class n0,n2 complete"));
    CHECK(contains(text, "classDef error fill:#ef9a9a"));
    CHECK(contains(text, "class n1 error"));
    CHECK(contains(text, "class n3 pending"));
  }
}

TEST_CASE("graph: quotes in labels are escaped") {
  tasker::GraphSpec graph;
  graph.title = "t";
  graph.nodes.push_back({"say \"hi\"", {"back\\slash"}, std::nullopt});
  auto dot = tasker::render_graph(graph, GraphFormat::dot);
  CHECK(contains(dot, "label=\"say \\\"hi\\\"\\nback\\\\slash\""));
  auto mermaid = tasker::render_graph(graph, GraphFormat::mermaid);
  CHECK(contains(mermaid, "n0[\"say #quot;hi#quot;<br/>back\\slash\"]"));
}

TEST_CASE("graph: graph_of a task has its steps, their states and dependencies") {
  tasker::TaskView task;
  task.uuid = "3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b";
  task.namespace_name = "shop";
  task.name = "checkout";
  task.version = "1.0.0";
  auto step = [](std::string name, tasker::StepState state, std::vector<std::string> deps, int attempts) {
    tasker::StepView s;
    s.name = std::move(name);
    s.callable = "shop." + s.name;
    s.state = state;
    s.dependencies = std::move(deps);
    s.attempts = attempts;
    s.max_attempts = 3;
    return s;
  };
  // `pay` was bypassed: `ship`'s dependency on it has no node and draws no edge.
  std::vector<tasker::StepView> steps{step("cart", tasker::StepState::complete, {}, 1),
                                      step("ship", tasker::StepState::error, {"cart", "pay"}, 3)};
  auto graph = tasker::graph_of(task, steps);
  CHECK(graph.title == "shop/checkout@1.0.0 task 3f2b8c1e-4d5a-4e6f-8a9b-0c1d2e3f4a5b");
  REQUIRE(graph.nodes.size() == 2u);
  CHECK(graph.nodes[0].details == std::vector<std::string>{"shop.cart", "attempts 1/3"});
  CHECK(graph.nodes[1].state == "error");
  REQUIRE(graph.edges.size() == 1u);
  CHECK(graph.edges[0] == std::pair<std::size_t, std::size_t>{0, 1});
  CHECK(contains(tasker::render_graph(graph, GraphFormat::dot), "[error]\", fillcolor=\"#ef9a9a\""));
}

TEST_CASE("graph: decisions, batches and convergence steps are drawn apart, run-time-only steps dashed") {
  auto result = tasker::load_templates_from_string(R"(name: approval
namespace_name: shop
version: 1.0.0
steps:
  - {name: check, handler: {callable: c}}
  - {name: route, type: decision, dependencies: [check], handler: {callable: r}}
  - {name: small, dependencies: [route], handler: {callable: s}}
  - {name: done, type: deferred_convergence, dependencies: [small], handler: {callable: d}}
)",
                                                   "t.yaml");
  REQUIRE(result.ok());
  auto graph = tasker::graph_of(result.templates.at(0));
  REQUIRE(graph.nodes.size() == 4u);
  CHECK(graph.nodes[1].type == "decision");
  CHECK_FALSE(graph.nodes[1].runtime);
  CHECK(graph.nodes[2].runtime);  // created by the decision
  CHECK(graph.nodes[3].runtime);
  const std::string dot = tasker::render_graph(graph, GraphFormat::dot);
  CHECK(contains(dot, "shape=diamond"));
  CHECK(contains(dot, "shape=hexagon, style=\"rounded,filled,dashed\""));
  const std::string mermaid = tasker::render_graph(graph, GraphFormat::mermaid);
  CHECK(contains(mermaid, "n1{\"route<br/>(decision)"));
  CHECK(contains(mermaid, "class n2,n3 runtime"));
}
