#include "tasker/graph.hpp"

#include <fmt/format.h>

#include <map>

#include "tasker/dag.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/task.hpp"
#include "tasker/template.hpp"

namespace tasker {

GraphSpec graph_of(const TaskTemplate& tmpl) {
  GraphSpec graph;
  graph.title = tmpl.qualified_name();
  Dag dag = Dag::of(tmpl);
  const std::vector<bool> initial = initially_created(tmpl);
  graph.nodes.reserve(tmpl.steps.size());
  for (std::size_t i = 0; i < tmpl.steps.size(); ++i) {
    const StepTemplate& step = tmpl.steps[i];
    GraphNode node{step.name, {step.handler.callable}, std::nullopt, std::string(to_string(step.type)), !initial[i]};
    if (step.type == StepType::batch_worker) node.details.emplace_back("one instance per batch, at run time");
    const RetryPolicy& r = step.retry;
    if (!r.retryable || r.max_attempts <= 1)
      node.details.push_back("no retry");
    else
      node.details.push_back(
          fmt::format("{}x {} {}ms..{}ms", r.max_attempts, to_string(r.backoff), r.backoff_base_ms, r.max_backoff_ms));
    graph.nodes.push_back(std::move(node));
  }
  for (std::size_t i = 0; i < dag.size(); ++i)
    for (auto child : dag.children(i)) graph.edges.emplace_back(i, child);
  return graph;
}

GraphSpec graph_of(const TaskView& task, const std::vector<StepView>& steps) {
  GraphSpec graph;
  graph.title = fmt::format("{}/{}@{} task {}", task.namespace_name, task.name, task.version, task.uuid);
  std::map<std::string, std::size_t, std::less<>> index;
  graph.nodes.reserve(steps.size());
  for (const auto& step : steps) {
    index.emplace(step.name, graph.nodes.size());
    graph.nodes.push_back({step.name,
                           {step.callable, fmt::format("attempts {}/{}", step.attempts, step.max_attempts)},
                           std::string(to_string(step.state)),
                           std::string(to_string(step.type)),
                           false});
  }
  for (std::size_t child = 0; child < steps.size(); ++child)
    for (const auto& parent : steps[child].dependencies)
      if (auto it = index.find(parent); it != index.end()) graph.edges.emplace_back(it->second, child);
  return graph;
}

namespace {

// Fill colours by state: every drawing of a DAG reads them through state_colour(). A
// task's states are named as the step states they correspond to, so one table serves both.
std::string_view colour_of(StepState s) {
  switch (s) {
    case StepState::pending: return "#e0e0e0";
    case StepState::enqueued: return "#bbdefb";
    case StepState::in_progress: return "#fff59d";
    case StepState::waiting: return "#b39ddb";
    case StepState::complete: return "#a5d6a7";
    case StepState::waiting_for_retry: return "#ffcc80";
    case StepState::error: return "#ef9a9a";
    case StepState::cancelled: return "#bdbdbd";
    case StepState::resolved_manually: return "#c5e1a5";
  }
  return {};
}

}  // namespace

std::string_view state_colour(std::string_view state) {
  const auto s = parse_step_state(state);
  return s ? colour_of(*s) : std::string_view();
}

namespace {

std::string escape(std::string_view text, bool dot) {
  std::string out;
  for (char c : text) {
    if (c == '"')
      out += dot ? "\\\"" : "#quot;";
    else if (c == '\\' && dot)
      out += "\\\\";
    else
      out += c;
  }
  return out;
}

/// Graphviz shapes and Mermaid brackets by step type (standard: a rounded box).
struct TypeShape {
  const char* dot;
  const char* open;
  const char* close;
};
TypeShape shape_of(std::string_view type) {
  if (type == "decision") return {"diamond", "{", "}"};
  if (type == "batchable") return {"box3d", "[[", "]]"};
  if (type == "batch_worker") return {"folder", "[/", "/]"};
  if (type == "deferred_convergence") return {"hexagon", "{{", "}}"};
  return {"box", "[", "]"};
}

std::string label_of(const GraphNode& node, std::string_view newline, bool dot) {
  std::string label = escape(node.id, dot);
  if (node.type != "standard") label += std::string(newline) + "(" + node.type + ")";
  for (const auto& line : node.details) label += std::string(newline) + escape(line, dot);
  if (node.state) label += std::string(newline) + "[" + *node.state + "]";
  return label;
}

}  // namespace

std::string_view dot_shape(std::string_view type) { return shape_of(type).dot; }

std::string render_graph(const GraphSpec& graph, GraphFormat format) {
  std::string out;
  if (format == GraphFormat::dot) {
    out += fmt::format(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", "
        "fontname=\"Helvetica\"];\n",
        escape(graph.title, true));
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      const auto& node = graph.nodes[i];
      std::string colour;
      if (node.state && !state_colour(*node.state).empty())
        colour = fmt::format(", fillcolor=\"{}\"", state_colour(*node.state));
      std::string shape;
      if (node.type != "standard") shape = fmt::format(", shape={}", dot_shape(node.type));
      if (node.runtime) shape += ", style=\"rounded,filled,dashed\"";
      out += fmt::format("  n{} [label=\"{}\"{}{}];\n", i, label_of(node, "\\n", true), colour, shape);
    }
    for (const auto& [from, to] : graph.edges) out += fmt::format("  n{} -> n{};\n", from, to);
    out += "}\n";
  } else {
    out += fmt::format("---\ntitle: {}\n---\nflowchart TD\n", graph.title);
    std::vector<std::size_t> runtime;
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      const TypeShape s = shape_of(graph.nodes[i].type);
      out += fmt::format("  n{}{}\"{}\"{}\n", i, s.open, label_of(graph.nodes[i], "<br/>", false), s.close);
      if (graph.nodes[i].runtime) runtime.push_back(i);
    }
    for (const auto& [from, to] : graph.edges) out += fmt::format("  n{} --> n{}\n", from, to);
    std::map<std::string, std::vector<std::size_t>> by_state;
    for (std::size_t i = 0; i < graph.nodes.size(); ++i)
      if (graph.nodes[i].state) by_state[*graph.nodes[i].state].push_back(i);
    for (const auto& [state, nodes] : by_state) {
      if (state_colour(state).empty()) continue;
      out += fmt::format("  classDef {} fill:{},stroke:#555\n", state, state_colour(state));
      out += fmt::format("  class n{} {}\n", fmt::join(nodes, ",n"), state);
    }
    if (!runtime.empty()) {
      out += "  classDef runtime stroke-dasharray:5 5\n";
      out += fmt::format("  class n{} runtime\n", fmt::join(runtime, ",n"));
    }
  }
  return out;
}

}  // namespace tasker
