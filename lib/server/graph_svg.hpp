#pragma once
// A DAG drawn as SVG (internal): laid out by Graphviz's dot (libgvc and
// libcgraph, Debian's libgraphviz-dev), the layout engine people trust for
// DAGs, on the server, so the pages carry no layout code. The pages find a
// step's node by its id and colour it by its class (lib/server/web/task.js).
#include <cstddef>
#include <string>
#include <string_view>

#include "tasker/errors.hpp"
#include "tasker/graph.hpp"

namespace tasker::server {

/// dot's layout time grows faster than the graph (docs/performance.md,
/// "The web view"): beyond these a drawing is refused rather than tie up a
/// server thread, and Graphviz, which runs one layout at a time, for long.
inline constexpr std::size_t kMaxDrawnSteps = 3000;
inline constexpr std::size_t kMaxDrawnEdges = 12000;

/// A graph over kMaxDrawnSteps or kMaxDrawnEdges.
class GraphTooLargeError : public Error {
 public:
  using Error::Error;
};

/// Where the time of one drawing went, in milliseconds.
struct SvgTimings {
  double layout_ms{0};
  double render_ms{0};
};

/// The id of step `name`'s node in the SVG: `step-` and the name, with every
/// byte outside [A-Za-z0-9_-] written as `.` and two hex digits (so any name
/// gives a distinct, valid id; tasker.js computes the same).
[[nodiscard]] std::string step_node_id(std::string_view name);

/// `graph` laid out top to bottom and drawn as an SVG document (no XML
/// prolog or comments, ready to be placed in a page). Each node is
/// `<g id="step-NAME" class="node step state-STATE">` (no state class for a
/// template) with the node's name and details as its lines, filled with
/// state_colour(). Safe to call from any thread: Graphviz is not, so drawings
/// run one at a time. Throws GraphTooLargeError beyond the limits above, Error
/// when Graphviz fails.
[[nodiscard]] std::string draw_svg(const GraphSpec& graph, SvgTimings* timings = nullptr);

}  // namespace tasker::server
