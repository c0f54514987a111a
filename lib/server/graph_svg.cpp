#include "graph_svg.hpp"

#include <fmt/format.h>
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "base/log.hpp"

namespace tasker::server {

namespace {

// cgraph's API takes `char*` for strings it only reads.
char* c_str(const char* text) { return const_cast<char*>(text); }
char* c_str(const std::string& text) { return const_cast<char*>(text.c_str()); }

/// Graphviz's error and warning lines go to tasker's log, not to stderr.
int log_graphviz(char* message) {
  std::string_view text(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (!text.empty()) detail::log().warn("graphviz: {}", text);
  return 0;
}

/// The one Graphviz context of the process, behind the mutex every drawing holds:
/// Graphviz keeps global state (its error handler, plugin tables, the text layout's
/// font cache) and is not thread-safe.
struct Graphviz {
  std::mutex mutex;
  GVC_t* context{nullptr};  // created on first use; lives as long as the process
};

Graphviz& graphviz() {
  static Graphviz instance;
  return instance;
}

/// A label line as dot's escString: `\` would start an escape (`\N` is the
/// node's name), and a line break inside a line would break the layout.
std::string label_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string label_of(const GraphNode& node) {
  std::string label = label_line(node.id);
  for (const auto& line : node.details) label += "\\n" + label_line(line);
  return label;
}

/// Everything from `<svg` on, without the comments Graphviz writes before each
/// node and edge (they repeat the names and add a fifth to the size).
std::string page_ready(std::string_view svg) {
  std::string out;
  auto start = svg.find("<svg");
  if (start == std::string_view::npos) throw Error("Graphviz drew no <svg> element; the server log has its messages");
  out.reserve(svg.size() - start);
  for (std::size_t at = start; at < svg.size();) {
    auto comment = svg.find("<!--", at);
    if (comment == std::string_view::npos) {
      out.append(svg.substr(at));
      break;
    }
    out.append(svg.substr(at, comment - at));
    auto end = svg.find("-->", comment + 4);
    if (end == std::string_view::npos) break;
    at = end + 3;
    if (at < svg.size() && svg[at] == '\n') ++at;
  }
  return out;
}

struct GraphCloser {
  GVC_t* context;
  bool laid_out{false};
  void operator()(Agraph_t* g) const {
    if (laid_out) gvFreeLayout(context, g);
    agclose(g);
  }
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string step_node_id(std::string_view name) {
  std::string id = "step-";
  for (unsigned char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
      id += static_cast<char>(c);
    else
      id += fmt::format(".{:02x}", c);
  }
  return id;
}

std::string draw_svg(const GraphSpec& spec, SvgTimings* timings) {
  if (spec.nodes.size() > kMaxDrawnSteps || spec.edges.size() > kMaxDrawnEdges)
    throw GraphTooLargeError(fmt::format(
        "the DAG has {} steps and {} edges; tasker draws up to {} steps and {} edges, because Graphviz's layout "
        "time grows faster than the graph. Read the steps as a table, or the graph as text with format=dot",
        spec.nodes.size(), spec.edges.size(), kMaxDrawnSteps, kMaxDrawnEdges));
  Graphviz& gv = graphviz();
  std::lock_guard lock(gv.mutex);
  if (!gv.context) {
    agseterrf(&log_graphviz);
    gv.context = gvContext();
    if (!gv.context) throw Error("Graphviz could not start (gvContext failed); check that libgvc is installed");
  }
  GraphCloser closer{gv.context};
  std::unique_ptr<Agraph_t, GraphCloser&> graph(agopen(c_str(spec.title), Agdirected, nullptr), closer);
  if (!graph) throw Error("Graphviz could not create a graph (out of memory?)");
  Agraph_t* g = graph.get();
  agattr(g, AGRAPH, c_str("rankdir"), c_str("TB"));
  agattr(g, AGRAPH, c_str("bgcolor"), c_str("transparent"));
  agattr(g, AGRAPH, c_str("nodesep"), c_str("0.3"));
  agattr(g, AGRAPH, c_str("ranksep"), c_str("0.4"));
  agattr(g, AGNODE, c_str("fontname"), c_str("Helvetica"));
  agattr(g, AGNODE, c_str("fontsize"), c_str("11"));
  agattr(g, AGNODE, c_str("color"), c_str("#555555"));
  agattr(g, AGEDGE, c_str("color"), c_str("#777777"));
  agattr(g, AGEDGE, c_str("arrowsize"), c_str("0.7"));
  Agsym_t* label = agattr(g, AGNODE, c_str("label"), c_str(""));
  Agsym_t* id = agattr(g, AGNODE, c_str("id"), c_str(""));
  Agsym_t* klass = agattr(g, AGNODE, c_str("class"), c_str(""));
  Agsym_t* fill = agattr(g, AGNODE, c_str("fillcolor"), c_str("#ffffff"));
  Agsym_t* shape = agattr(g, AGNODE, c_str("shape"), c_str("box"));
  Agsym_t* style = agattr(g, AGNODE, c_str("style"), c_str("rounded,filled"));

  std::vector<Agnode_t*> nodes;
  nodes.reserve(spec.nodes.size());
  for (const auto& node : spec.nodes) {
    // Named by the step (unique within a task and a template): its <title>,
    // which a browser shows on hover, is then the step's name.
    Agnode_t* n = agnode(g, c_str(node.id), 1);
    agxset(n, label, c_str(label_of(node)));
    agxset(n, id, c_str(step_node_id(node.id)));
    std::string classes = node.state ? "step state-" + *node.state : std::string("step");
    if (node.type != "standard") {
      classes += " type-" + node.type;  // decisions, batches and convergence steps: drawn apart
      agxset(n, shape, c_str(std::string(dot_shape(node.type))));
    }
    if (node.runtime) {
      classes += " runtime";  // in a template: created only while a task runs
      agxset(n, style, c_str("rounded,filled,dashed"));
    }
    agxset(n, klass, c_str(classes));
    if (node.state && !state_colour(*node.state).empty())
      agxset(n, fill, c_str(std::string(state_colour(*node.state))));
    nodes.push_back(n);
  }
  for (const auto& [from, to] : spec.edges) agedge(g, nodes.at(from), nodes.at(to), nullptr, 1);

  auto start = std::chrono::steady_clock::now();
  if (gvLayout(gv.context, g, "dot") != 0)
    throw Error("Graphviz could not lay out the graph; the server log has its messages");
  closer.laid_out = true;
  const double layout_ms = ms_since(start);
  start = std::chrono::steady_clock::now();
  char* data = nullptr;
  unsigned int length = 0;
  if (gvRenderData(gv.context, g, "svg", &data, &length) != 0 || !data)
    throw Error("Graphviz could not draw the graph as SVG; the server log has its messages");
  std::unique_ptr<char, void (*)(char*)> owned(data, &gvFreeRenderData);
  std::string svg = page_ready(std::string_view(data, length));
  if (timings) *timings = {layout_ms, ms_since(start)};
  return svg;
}

}  // namespace tasker::server
