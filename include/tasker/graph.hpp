#pragma once
// Drawing a DAG as Graphviz dot or Mermaid text, for templates and for tasks
// (nodes coloured by state). Pure text generation, no I/O.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tasker {

struct TaskTemplate;
struct TaskView;
struct StepView;

enum class GraphFormat { dot, mermaid };

struct GraphNode {
  std::string id;                    ///< the step name
  std::vector<std::string> details;  ///< extra label lines (callable, retry, attempts, ...)
  std::optional<std::string> state;  ///< a step state name: colours the node
  std::string type{"standard"};      ///< a step type name: decisions, batches and convergence steps are drawn apart
  bool runtime{false};               ///< in a template: a step created only at run time (drawn dashed)
};

/// The Graphviz shape that draws a step of this type ("box" for a standard
/// step; decisions are diamonds, batchable steps boxes in 3D, batch workers
/// folders, convergence steps hexagons), the same in every view.
[[nodiscard]] std::string_view dot_shape(std::string_view type);

struct GraphSpec {
  std::string title;
  std::vector<GraphNode> nodes;
  std::vector<std::pair<std::size_t, std::size_t>> edges;  ///< parent -> child, by node index
};

/// The graph of a template, nodes labelled with callable and retry policy.
[[nodiscard]] GraphSpec graph_of(const TaskTemplate& tmpl);

/// The graph of a task (running or finished): one node per step (bypassed
/// steps are absent), labelled with callable and attempts, coloured by state.
[[nodiscard]] GraphSpec graph_of(const TaskView& task, const std::vector<StepView>& steps);

[[nodiscard]] std::string render_graph(const GraphSpec& graph, GraphFormat format);

/// The fill colour a step (or task) state is drawn with, e.g. "#ef9a9a" for
/// `error`; empty for an unknown name. One table for dot, Mermaid, the SVG of
/// `tasker serve` and its pages' style sheet, so they all read the same.
[[nodiscard]] std::string_view state_colour(std::string_view state);

}  // namespace tasker
